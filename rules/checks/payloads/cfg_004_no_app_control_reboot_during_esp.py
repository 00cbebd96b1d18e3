"""CFG-004: no AppLocker or App Control policy reaches the technician phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec, named_always
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-004",
    title="No AppLocker or App Control for Business policy reaches the technician phase",
    severity=Severity.WARNING,
    rationale=(
        "The AppLocker configuration service provider isn't supported in the Enrollment Status "
        "Page because it triggers a reboot when a policy is applied or deleted (Windows Autopilot "
        "troubleshooting FAQ); configuring Microsoft Defender Application Control (App Control "
        "for Business) causes a prompt to reboot during Windows Autopilot that can't be "
        "suppressed or postponed (Enrollment Status Page, known issues). A reboot in the device "
        "setup phase of the technician flow interrupts provisioning. Read from the endpoint "
        "protection template (appLockerApplicationControl), AppLocker and ApplicationControl "
        "OMA-URIs and their settings catalog settings."
    ),
    remediation=(
        "Microsoft Intune admin center > Endpoint security > App Control for Business (or "
        "Devices > Windows > Configuration > the profile) > Properties > Assignments: assign the "
        "policy to a user group or to devices after provisioning, not to the Autopilot device "
        "group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/windows/client-management/mdm/applocker-csp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)


def _applocker_mode(value: object) -> bool | None:
    if value is None:
        return None
    return str(value).casefold() != "notconfigured"


SPEC: Final = SettingSpec(
    legacy={"appLockerApplicationControl": _applocker_mode},
    oma_prefixes=("/vendor/msft/applocker/", "/vendor/msft/applicationcontrol/"),
    oma_test=named_always,
    catalog_prefixes=("device_vendor_msft_applicationcontrol_", "device_vendor_msft_applocker_"),
    catalog_test=named_always,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "applies AppLocker or App Control, which reboots the device during the ESP",
    )
