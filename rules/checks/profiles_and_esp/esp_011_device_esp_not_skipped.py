"""ESP-011: no policy applying to pre-provisioning devices sets SkipDeviceStatusPage."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.checks.profiles_and_esp.first_sync_status import (
    SKIP_DEVICE_STATUS_PAGE,
    TRUE_VALUES,
    NodeSetting,
    NodeValue,
    find_node_settings,
)
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="ESP-011",
    title="No policy applying to pre-provisioning devices sets SkipDeviceStatusPage",
    severity=Severity.ERROR,
    rationale=(
        "FirstSyncStatus/SkipDeviceStatusPage disables the device ESP (understand and "
        "troubleshoot the ESP, Microsoft support); without the device ESP the Reseal button can "
        "appear before software and configuration are done applying (Windows Autopilot "
        "pre-provisioning documentation)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Configuration > the profile that sets "
        "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/SkipDeviceStatusPage: "
        "remove the setting or exclude the Autopilot device group from its assignments."
    ),
    references=(
        "https://learn.microsoft.com/troubleshoot/mem/intune/device-enrollment/understand-troubleshoot-esp",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        DEVICE_CONFIGURATIONS,
        SETTINGS_CATALOG_POLICIES,
        GROUPS,
        AUTOPILOT_DEVICES,
        DEVICES,
        ASSIGNMENT_FILTERS,
    ),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    settings = find_node_settings(context.snapshot, SKIP_DEVICE_STATUS_PAGE)
    unread = context.unreadable(DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES)
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item, settings, unread)
        else:
            yield item


def _check(
    context: RuleContext,
    item: ProfileUnderCheck,
    settings: tuple[NodeSetting, ...],
    unread: tuple[str, ...],
) -> Iterator[Finding]:
    profile = item.profile
    clean = True
    for setting in settings:
        if setting.value is NodeValue.FALSE:
            continue
        applicability = context.targeting.device_phase_applicability(setting.payload, profile)
        verdict = applicability.verdict
        if verdict is Applicability.DOES_NOT_APPLY:
            continue
        clean = False
        reasons = (
            setting.detail,
            f"device phase: {verdict.value}",
            *applicability.reasons,
        )
        name = f"'{setting.subject.display_name}'"
        if setting.value in TRUE_VALUES and verdict is not Applicability.UNKNOWN:
            where = (
                "on devices its assignment filter matches"
                if verdict is Applicability.CONDITIONAL
                else "for the devices"
            )
            yield item.finding.failed(
                setting.subject,
                f"{name} turns the device ESP off {where} of profile '{profile.display_name}': "
                "the technician can reseal before provisioning is done",
                reasons,
                devices=item.devices,
                related=(item.subject,),
            )
        else:
            yield item.finding.unknown(
                setting.subject,
                f"cannot tell whether {name} turns the device ESP off for the devices of "
                f"profile '{profile.display_name}'",
                reasons,
                devices=item.devices,
                related=(item.subject,),
            )
    if unread:
        yield item.finding.unknown(
            item.subject,
            f"cannot tell whether a policy turns the device ESP off for profile "
            f"'{profile.display_name}'",
            unread,
            devices=item.devices,
        )
    elif clean:
        yield item.finding.passed(
            item.subject,
            f"no policy applying to the devices of profile '{profile.display_name}' sets "
            "SkipDeviceStatusPage",
            devices=item.devices,
        )
