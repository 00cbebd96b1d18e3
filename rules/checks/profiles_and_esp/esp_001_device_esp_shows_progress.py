"""ESP-001: the ESP pre-provisioning devices get is device-targeted and shows progress."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Certainty
from rules.checks.profiles_and_esp.esp_settings import esp_subject, shows_progress
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
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
)

METADATA = RuleMetadata(
    id="ESP-001",
    title="A device-targeted Enrollment Status Page showing progress covers pre-provisioning",
    severity=Severity.ERROR,
    rationale=(
        "Pre-provisioning requires an ESP profile targeted to the device; if the ESP is "
        "disabled the Reseal button can appear before software and configuration are applied "
        "(Windows Autopilot pre-provisioning documentation). In pre-provisioning Intune only "
        "applies ESPs targeted at devices, else the default ESP, which by default does not show "
        "app and profile progress (Enrollment Status Page documentation)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page: create or edit an ESP with 'Show app and profile configuration progress' set to "
        "Yes and assign it to the Autopilot device group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
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
            yield _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    effective = context.targeting.effective_esp(profile)
    reasons = effective.reasons
    if effective.certainty is Certainty.UNKNOWN:
        return item.finding.unknown(
            item.subject,
            f"cannot tell which ESP the devices of profile '{profile.display_name}' get",
            reasons,
            devices=item.devices,
        )
    esp = effective.esp
    if esp is None:
        return item.finding.failed(
            item.subject,
            f"no Enrollment Status Page applies to the devices of profile '{profile.display_name}'",
            reasons,
            devices=item.devices,
        )
    ignored = tuple(
        f"user-targeted ESP '{user_esp.display_name}' is ignored in pre-provisioning"
        for user_esp in effective.ignored_user_targeted
    )
    # With a filter deciding, any of the candidate ESPs may be the one a device gets.
    candidates = (*effective.undecided, esp)
    for candidate in candidates:
        progress = shows_progress(candidate)
        kind = "the default ESP" if candidate.id == esp.id and effective.is_default else "ESP"
        if progress is None:
            return item.finding.unknown(
                esp_subject(candidate),
                f"{kind} '{candidate.display_name}' does not report whether it shows progress",
                (*reasons, "showInstallationProgress is missing (a beta-only property)"),
                devices=item.devices,
                related=(item.subject,),
            )
        if not progress:
            return item.finding.failed(
                esp_subject(candidate),
                f"{kind} '{candidate.display_name}', which the devices of profile "
                f"'{profile.display_name}' get, does not show app and profile progress: the "
                "technician can reseal before provisioning is done",
                (*reasons, "showInstallationProgress is false", *ignored),
                devices=item.devices,
                related=(item.subject,),
            )
    return item.finding.passed(
        esp_subject(esp),
        f"the devices of profile '{profile.display_name}' get ESP '{esp.display_name}', which "
        "is device-targeted and shows progress",
        (*reasons, "showInstallationProgress is true"),
        devices=item.devices,
        related=(item.subject,),
    )
