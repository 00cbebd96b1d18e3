"""Facts about apps that several payload rules read: app families and ESP blocking status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rules.applicability import Certainty, TenantTargeting
from rules.findings import Severity
from rules.graph_json import optional_bool, string_tuple
from rules.tenant_objects import AutopilotProfile, EnrollmentConfiguration, MobileApp

WIN32_TYPES: Final = frozenset({"#microsoft.graph.win32lobapp", "#microsoft.graph.win32catalogapp"})
MSI_LOB_TYPE: Final = "#microsoft.graph.windowsmobilemsi"
APPX_LOB_TYPES: Final = frozenset(
    {"#microsoft.graph.windowsuniversalappx", "#microsoft.graph.windowsappx"}
)
OFFICE_SUITE_TYPE: Final = "#microsoft.graph.officesuiteapp"
# Windows app types Intune installs on the device. Microsoft Edge is left out: it ships with
# Windows, so the device has a browser at reseal whether or not the Intune app has run.
WINDOWS_INSTALLED_TYPES: Final = frozenset(
    {
        *WIN32_TYPES,
        MSI_LOB_TYPE,
        *APPX_LOB_TYPES,
        OFFICE_SUITE_TYPE,
        "#microsoft.graph.wingetapp",
        "#microsoft.graph.microsoftstoreforbusinessapp",
        "#microsoft.graph.windowsstoreapp",
    }
)


def app_type(app: MobileApp) -> str:
    return (app.odata_type or "").casefold()


def is_win32(app: MobileApp) -> bool:
    return app_type(app) in WIN32_TYPES


@dataclass(frozen=True, slots=True)
class BlockingStatus:
    """Whether the profile's device ESP waits for the app before it lets the technician reseal."""

    # None when the effective ESP could not be worked out.
    blocking: bool | None
    reasons: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        """ERROR when the app blocks (or may block), WARNING otherwise (catalog APP-001)."""
        return Severity.WARNING if self.blocking is False else Severity.ERROR


def _blocks(esp: EnrollmentConfiguration, app: MobileApp) -> bool:
    if optional_bool(esp.raw, "showInstallationProgress") is not True:
        return False
    # An empty list is "All" in the admin center: every tracked required app blocks.
    selected = string_tuple(esp.raw, "selectedMobileAppIds")
    return not selected or app.id in selected


def esp_blocking(
    targeting: TenantTargeting, profile: AutopilotProfile, app: MobileApp
) -> BlockingStatus:
    effective = targeting.effective_esp(profile)
    candidates = ([effective.esp] if effective.esp is not None else []) + list(effective.undecided)
    for esp in candidates:
        if _blocks(esp, app):
            selected = string_tuple(esp.raw, "selectedMobileAppIds")
            how = "lists it as a blocking app" if selected else "blocks on all required apps"
            return BlockingStatus(True, (f"device ESP '{esp.display_name}' {how}",))
    if effective.certainty is Certainty.UNKNOWN or (effective.esp is None and effective.undecided):
        return BlockingStatus(
            None, ("the device ESP of the profile could not be determined", *effective.reasons)
        )
    name = effective.esp.display_name if effective.esp is not None else "(none)"
    return BlockingStatus(False, (f"device ESP '{name}' does not block on it",))
