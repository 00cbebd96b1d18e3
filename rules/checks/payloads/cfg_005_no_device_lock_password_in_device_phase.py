"""CFG-005: no device password (DeviceLock) policy reaches the technician phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec, is_true
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-005",
    title="No device password (DeviceLock) policy reaches the technician phase",
    severity=Severity.WARNING,
    rationale=(
        "When DeviceLock policies such as minimum password length and complexity are applied "
        "during the device ESP, the OOBE or user desktop autologon can fail after a reboot "
        "(Windows Autopilot troubleshooting FAQ; Enrollment Status Page, known issues), and the "
        "device password policies of the security baseline make the web sign-in option "
        "disappear after pre-provisioning: set them to Not configured or assign the baseline to "
        "a user group (Windows Autopilot troubleshooting FAQ). Read from the device "
        "restrictions template (password properties), DeviceLock OMA-URIs and settings catalog "
        "settings; security baselines stored as intents are not in the snapshot."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration (or Endpoint "
        "security > Security baselines) > the profile > Properties: set the password settings to "
        "Not configured, or assign the profile to a user group instead of the Autopilot device "
        "group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-devicelock",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)


# DeviceLock settings that demand a password; other DeviceLock policies (lock screen slide show,
# camera, ...) are not password policies.
PASSWORD_SETTINGS: Final = (
    "mindevicepasswordlength",
    "mindevicepasswordcomplexcharacters",
    "alphanumericdevicepasswordrequired",
)


def _device_lock(name: str, value: object) -> bool | None:
    """DevicePasswordEnabled is 0 for enabled and 1 for disabled (DeviceLock CSP); a minimum
    length or complexity set is a password requirement."""
    if value is None:
        return None
    if name.startswith("devicepasswordenabled"):
        return str(value) == "0" or str(value).endswith("devicepasswordenabled_0")
    if name.startswith(PASSWORD_SETTINGS):
        return True
    return None


SPEC: Final = SettingSpec(
    legacy={"passwordRequired": is_true},
    oma_prefixes=("/policy/config/devicelock/",),
    oma_test=_device_lock,
    catalog_prefixes=("device_vendor_msft_policy_config_devicelock_",),
    catalog_test=_device_lock,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "requires a device password (DeviceLock), which can break autologon and web sign-in "
        "after pre-provisioning",
    )
