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


def _positive_number(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return None
    return isinstance(value, int | float) and value > 0


def _device_lock(name: str, value: object) -> bool | None:
    """DevicePasswordEnabled is 0 for enabled, 1 for disabled; any other DeviceLock setting set
    is a password requirement."""
    if value is None:
        return None
    if name.startswith("devicepasswordenabled"):
        return str(value).casefold() in (
            "0",
            "device_vendor_msft_policy_config_devicelock_devicepasswordenabled_0",
        )
    return True


def _catalog_device_lock(name: str, value: object) -> bool | None:
    if value is None:
        return None
    if name.startswith("devicepasswordenabled"):
        return str(value).endswith("_0")
    return True


SPEC: Final = SettingSpec(
    legacy={
        "passwordRequired": is_true,
        "passwordMinimumLength": _positive_number,
        "passwordMinimumCharacterSetCount": _positive_number,
    },
    oma_prefixes=("/policy/config/devicelock/",),
    oma_test=_device_lock,
    catalog_prefixes=("device_vendor_msft_policy_config_devicelock_",),
    catalog_test=_catalog_device_lock,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "requires a device password (DeviceLock), which can break autologon and web sign-in "
        "after pre-provisioning",
    )
