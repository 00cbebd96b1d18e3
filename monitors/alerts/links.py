"""Deep links from an alert: the object in the Intune admin center, and the dashboard's views.

All admin-center URLs are built from the one table below. Where the portal has a blade that
takes the object id, the link opens the object; otherwise it opens the list the object is in
(the card names the object, so the admin finds it there). The portal's blade paths are not a
documented API: when Microsoft moves one, change its row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode

ADMIN_CENTER: Final = "https://intune.microsoft.com/"

_WINDOWS_ENROLLMENT: Final = (
    "#view/Microsoft_Intune_DeviceSettings/DevicesEnrollmentMenu/~/windowsEnrollment"
)
_COMPLIANCE: Final = "#view/Microsoft_Intune_DeviceSettings/DevicesComplianceMenu/~/policies"

# subject type (as findings name it) -> blade path, with {id} where the blade takes the id
_ADMIN_CENTER_BLADES: Final[dict[str, str]] = {
    "mobileApp": "#view/Microsoft_Intune_Apps/SettingsMenu/~/0/appId/{id}",
    "group": "#view/Microsoft_AAD_IAM/GroupDetailsMenuBlade/~/Overview/groupId/{id}",
    "conditionalAccessPolicy": "#view/Microsoft_AAD_ConditionalAccess/PolicyBlade/policyId/{id}",
    "autopilotProfile": "#view/Microsoft_Intune_Enrollment/AutopilotDeploymentProfiles.ReactView",
    "autopilotDevice": "#view/Microsoft_Intune_Enrollment/AutopilotDevices.ReactView",
    "enrollmentStatusPage": _WINDOWS_ENROLLMENT,
    "enrollmentConfiguration": _WINDOWS_ENROLLMENT,
    "mdmPolicy": _WINDOWS_ENROLLMENT,
    "domainJoinConnector": "#view/Microsoft_Intune_Enrollment/ODJConnectorList.ReactView",
    "deviceConfiguration": "#view/Microsoft_Intune_DeviceSettings/DevicesMenu/~/configuration",
    "settingsCatalogPolicy": "#view/Microsoft_Intune_DeviceSettings/DevicesMenu/~/configuration",
    "configurationPolicy": "#view/Microsoft_Intune_DeviceSettings/DevicesMenu/~/configuration",
    "deviceManagementScript": "#view/Microsoft_Intune_DeviceSettings/DevicesMenu/~/powershell",
    "platformScript": "#view/Microsoft_Intune_DeviceSettings/DevicesMenu/~/powershell",
    "deviceCompliancePolicy": _COMPLIANCE,
    "compliancePolicy": _COMPLIANCE,
}


def admin_center_url(subject_type: str, subject_id: str) -> str:
    """The admin-center page for an object; the admin center's home for unknown types."""
    blade = _ADMIN_CENTER_BLADES.get(subject_type)
    if blade is None:
        return ADMIN_CENTER
    return ADMIN_CENTER + blade.replace("{id}", quote(subject_id, safe=""))


def has_admin_center_page(subject_type: str) -> bool:
    return subject_type in _ADMIN_CENTER_BLADES


DASHBOARD_PATH: Final = "/api/dashboard"


@dataclass(frozen=True, slots=True)
class HistoryLinks:
    """Links to the Function app's dashboard (docs/dashboard.md); `base_url` is the app's URL.

    The dashboard sits behind App Service Authentication, so a button in Teams opens it in the
    browser, which signs the admin in with Entra ID; the key-protected `/api/history` query
    could not be opened from a card (the card cannot carry a function key, and must not).
    """

    base_url: str  # e.g. "https://greenscreen-contoso.azurewebsites.net"

    def _url(self, view: str, query: dict[str, str]) -> str:
        return f"{self.base_url.rstrip('/')}{DASHBOARD_PATH}/{view}?{urlencode(query)}"

    def history_url(self, tenant_id: str, rule_id: str = "", subject_id: str = "") -> str:
        """The timeline of the tenant, filtered to the rule and subject when given."""
        query = {"tenant": tenant_id}
        if rule_id:
            query["rule"] = rule_id
        if subject_id:
            query["subject"] = subject_id
        return self._url("timeline", query)

    def tenant_url(self, tenant_id: str, profile_id: str = "") -> str:
        """The tenant's readiness page, narrowed to one pre-provisioning profile when given."""
        query = {"tenant": tenant_id}
        if profile_id:
            query["profile"] = profile_id
        return self._url("tenant", query)
