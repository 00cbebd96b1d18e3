"""HYB-007: the bench plans for the 40 minutes hybrid join adds to the ESP timeout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.applicability import Certainty
from rules.checks.profiles_and_esp.esp_settings import esp_subject, timeout_minutes
from rules.checks.tenant_and_devices.hybrid_profiles import hybrid_profiles_or_verdict
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, ENROLLMENT_CONFIGURATIONS, GROUPS

METADATA = RuleMetadata(
    id="HYB-007",
    title="Hybrid pre-provisioning time is planned as the ESP timeout plus 40 minutes",
    severity=Severity.INFO,
    rationale=(
        "windows-enrollment-status.md (known issues): with Microsoft Entra hybrid join the "
        "ESP takes 40 minutes longer than the configured timeout before it reports a failure, "
        "to allow for the domain join. The timeout is installProgressTimeoutInMinutes of the "
        "profile's device-phase ESP (beta); the effective ESP is the one ESP-001 and ESP-005 "
        "use."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Settings: size 'Show an error when installation takes longer than' "
        "knowing hybrid devices wait 40 minutes more."
    ),
    references=("https://learn.microsoft.com/mem/intune/enrollment/windows-enrollment-status",),
    graph_reads=(AUTOPILOT_PROFILES, ENROLLMENT_CONFIGURATIONS, GROUPS),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
)

HYBRID_EXTRA_MINUTES: Final = 40


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    for profile in hybrid:
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        effective = context.targeting.effective_esp(profile)
        esp = effective.esp
        if esp is None:
            yield finding.unknown(
                profile_subject(profile),
                f"cannot tell which ESP the devices of '{profile.display_name}' get",
                effective.reasons,
            )
            continue
        timeout = timeout_minutes(esp)
        if timeout is None:
            yield finding.unknown(
                esp_subject(esp),
                f"ESP '{esp.display_name}' does not report its timeout",
                ("installProgressTimeoutInMinutes is missing (a beta-only property)",),
            )
            continue
        yield finding.passed(
            esp_subject(esp),
            f"hybrid devices of '{profile.display_name}' may stay in the ESP for "
            f"{timeout + HYBRID_EXTRA_MINUTES} minutes ({timeout} configured + "
            f"{HYBRID_EXTRA_MINUTES} for hybrid join) before it reports a failure",
            (
                f"ESP '{esp.display_name}' times out after {timeout} minutes",
                *(effective.reasons if effective.certainty is not Certainty.CERTAIN else ()),
            ),
            related=(profile_subject(profile),),
        )
