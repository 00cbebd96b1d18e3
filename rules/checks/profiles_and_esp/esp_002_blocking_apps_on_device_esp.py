"""ESP-002: blocking apps are listed on the device-targeted ESP, not only on user-targeted ones."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.esp_settings import blocking_app_ids, esp_subject
from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    effective_esp_or_unknown,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
)

METADATA = RuleMetadata(
    id="ESP-002",
    title="Blocking apps are listed on the device-targeted ESP",
    severity=Severity.ERROR,
    rationale=(
        "Known issue: blocking apps specified in a user-targeted Enrollment Status Page profile "
        "are ignored during the device ESP; target the ESP profile to device groups (Windows "
        "Autopilot known issues). In pre-provisioning only device-targeted ESPs apply "
        "(Enrollment Status Page documentation)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the device-targeted ESP > Properties > Settings: add the apps under 'Block "
        "device use until these required apps are installed'."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        ENROLLMENT_CONFIGURATIONS,
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
    for item in profiles_under_check(
        context, METADATA, ENROLLMENT_CONFIGURATIONS, needs_targeting=False
    ):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Iterator[Finding]:
    profile = item.profile
    effective = effective_esp_or_unknown(context, item)
    if isinstance(effective, Finding):
        yield effective
        return
    device_esp = effective.esp
    device_list = blocking_app_ids(device_esp) if device_esp else ()
    user_lists = [esp for esp in effective.ignored_user_targeted if blocking_app_ids(esp)]
    if device_list or not user_lists:
        message = (
            f"the device-targeted ESP of profile '{profile.display_name}' lists "
            f"{len(device_list)} blocking app(s) itself"
            if device_list
            else f"no blocking list meant for profile '{profile.display_name}' sits on a "
            "user-targeted ESP only"
        )
        yield item.finding.passed(
            esp_subject(device_esp) if device_esp else item.subject,
            message,
            effective.reasons,
            devices=item.devices,
        )
        return
    for user_esp in user_lists:
        yield item.finding.failed(
            esp_subject(user_esp),
            f"the {len(blocking_app_ids(user_esp))} blocking app(s) of user-targeted ESP "
            f"'{user_esp.display_name}' are ignored while the devices of profile "
            f"'{profile.display_name}' are pre-provisioned",
            (
                *effective.reasons,
                "blocking apps of a user-targeted ESP are ignored during the device ESP",
                "the device-targeted ESP lists no blocking apps",
            ),
            devices=item.devices,
            related=(item.subject,) + ((esp_subject(device_esp),) if device_esp else ()),
        )
