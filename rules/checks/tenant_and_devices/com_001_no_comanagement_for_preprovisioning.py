"""COM-001: no Autopilot-into-co-management policy targets pre-provisioning devices."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
)
from rules.tenant_objects import EnrollmentConfigurationKind

METADATA = RuleMetadata(
    id="COM-001",
    title="No Autopilot-into-co-management policy targets pre-provisioning devices",
    severity=Severity.ERROR,
    rationale=(
        "Autopilot into co-management currently doesn't support Autopilot pre-provisioning "
        "(white glove), and with Microsoft Entra hybrid join Autopilot provisioning times out "
        "during the ESP (configmgr/comanage/autopilot-enrollment.md). The co-management "
        "settings are a deviceComanagementAuthorityConfiguration among the enrollment "
        "configurations (Microsoft Graph beta)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Co-management "
        "Settings > Properties > Assignments: exclude the pre-provisioning Autopilot device "
        "groups, or assign it only to devices that are not pre-provisioned."
    ),
    references=("https://learn.microsoft.com/mem/configmgr/comanage/autopilot-enrollment",),
    graph_reads=(ENROLLMENT_CONFIGURATIONS, AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(
        context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS, AUTOPILOT_PROFILES)
    )
    if missing:
        yield from missing
        return
    comanagement = [
        configuration
        for configuration in context.snapshot.enrollment_configurations or ()
        if configuration.kind is EnrollmentConfigurationKind.CO_MANAGEMENT
    ]
    for profile in context.targeting.preprovisioning_profiles() or ():
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        devices = context.targeting.profile_targeting(profile).device_ids
        related = (profile_subject(profile),)
        hybrid_note = (
            ("the profile is hybrid join: provisioning also times out during the ESP",)
            if profile.is_hybrid
            else ()
        )
        for configuration in comanagement:
            name = configuration.display_name
            subject = Subject("enrollmentConfiguration", configuration.id, name)
            applicability = context.targeting.device_phase_applicability(configuration, profile)
            reasons = (*applicability.reasons, *hybrid_note)
            verdict = applicability.verdict
            if verdict is Applicability.APPLIES:
                yield finding.failed(
                    subject,
                    f"co-management settings '{name}' target the devices of pre-provisioning "
                    f"profile '{profile.display_name}', which Autopilot into co-management "
                    "does not support",
                    reasons,
                    devices=devices,
                    related=related,
                )
            elif verdict is Applicability.CONDITIONAL:
                yield finding.failed(
                    subject,
                    f"co-management settings '{name}' reach devices of pre-provisioning profile "
                    f"'{profile.display_name}' that pass its assignment filter",
                    reasons,
                    severity=Severity.WARNING,
                    devices=devices,
                    related=related,
                )
            elif verdict is Applicability.UNKNOWN:
                yield finding.unknown(
                    subject,
                    f"cannot tell whether co-management settings '{name}' reach the devices of "
                    f"pre-provisioning profile '{profile.display_name}'",
                    reasons,
                    devices=devices,
                    related=related,
                )
            else:
                yield finding.passed(
                    subject,
                    f"co-management settings '{name}' do not target the devices of "
                    f"pre-provisioning profile '{profile.display_name}'",
                    reasons,
                    related=related,
                )
