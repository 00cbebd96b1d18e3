"""CFG-006: UAC admin approval and VBS settings that need a reboot are not device-targeted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec, choice_index
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-006",
    title="UAC admin approval and virtualization-based security settings target users, not devices",
    severity=Severity.WARNING,
    rationale=(
        "The security baseline settings 'Administrator elevation prompt behavior', 'Require "
        "admin approval mode for administrators' and 'Enable virtualization based security' "
        "require a reboot, so more prompts might appear when UAC settings change during the OOBE "
        "in the device ESP; target them to users instead of devices so they apply later "
        "(Windows Autopilot troubleshooting FAQ, known policy conflicts). Read from the "
        "LocalPoliciesSecurityOptions and DeviceGuard OMA-URIs, their settings catalog "
        "settings and the endpoint protection template. The secure-desktop credential prompt "
        "itself is CFG-003."
    ),
    remediation=(
        "Microsoft Intune admin center > Endpoint security > Security baselines (or Devices > "
        "Windows > Configuration) > the profile > Properties > Assignments: assign the profile to "
        "a user group instead of the Autopilot device group, or set these settings to Not "
        "configured."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-localpoliciessecurityoptions",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-deviceguard",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)

_ADMIN_APPROVAL: Final = "useraccountcontrol_runalladministratorsinadminapprovalmode"
_ELEVATION: Final = "useraccountcontrol_behavioroftheelevationpromptforadministrators"
_VBS: Final = "enablevirtualizationbasedsecurity"


def _oma(name: str, value: object) -> bool | None:
    if value is None:
        return None
    if name in (_ADMIN_APPROVAL, _VBS):
        return str(value) == "1"
    if name == _ELEVATION:
        # 1 (credentials on the secure desktop) is CFG-003; 0 elevates without prompting.
        return str(value) not in ("0", "1")
    return None


def _catalog(name: str, value: object) -> bool | None:
    if value is None:
        return None
    index = choice_index(value)
    if name in (_ADMIN_APPROVAL, _VBS):
        return index == "1"
    if name == _ELEVATION:
        return index not in ("0", "1")
    return None


def _legacy_elevation(value: object) -> bool | None:
    if value is None:
        return None
    return str(value).casefold() not in (
        "notconfigured",
        "elevatewithoutprompting",
        "promptforcredentialsonthesecuredesktop",
    )


def _legacy_true(value: object) -> bool | None:
    return None if value is None else value is True


SPEC: Final = SettingSpec(
    legacy={
        "localSecurityOptionsAdministratorElevationPromptBehavior": _legacy_elevation,
        "localSecurityOptionsUseAdminApprovalModeForAdministrators": _legacy_true,
        "deviceGuardEnableVirtualizationBasedSecurity": _legacy_true,
    },
    oma_prefixes=("/policy/config/localpoliciessecurityoptions/", "/policy/config/deviceguard/"),
    oma_test=_oma,
    catalog_prefixes=(
        "device_vendor_msft_policy_config_localpoliciessecurityoptions_",
        "device_vendor_msft_policy_config_deviceguard_",
    ),
    catalog_test=_catalog,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "changes UAC admin approval or virtualization-based security, which needs a reboot "
        "during the device ESP",
    )
