"""CMP-003: hybrid pre-provisioning devices are not met by a compliant-device requirement."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.payloads.cmp_compliance_ca import (
    accepts_hybrid_join,
    requires_compliant_device,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES, CONDITIONAL_ACCESS_POLICIES

METADATA = RuleMetadata(
    id="CMP-003",
    title="Hybrid pre-provisioned devices aren't blocked by a compliant-device requirement",
    severity=Severity.WARNING,
    rationale=(
        "Known issue: the compliance state of Microsoft Entra hybrid joined Autopilot devices "
        "displays as N/A until a user signs in (Windows Autopilot known issues). An enabled "
        "Conditional Access policy requiring a compliant device therefore treats a hybrid "
        "pre-provisioned device as not compliant at the start of the user flow."
    ),
    remediation=(
        "Microsoft Entra admin center > Protection > Conditional Access > the policy: also "
        "accept 'Require Microsoft Entra hybrid joined device' (require one of the selected "
        "controls), or exclude what the first sign-in needs; or move the profile to Microsoft "
        "Entra join (Intune admin center > Devices > Enrollment > Windows > Deployment Profiles)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy",
    ),
    graph_reads=(AUTOPILOT_PROFILES, CONDITIONAL_ACCESS_POLICIES),
    permissions=("DeviceManagementServiceConfig.Read.All", "Policy.Read.All"),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    hybrid = [p for p in context.targeting.preprovisioning_profiles() or () if p.is_hybrid]
    policies = context.snapshot.conditional_access_policies
    for profile in hybrid:
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        subject = profile_subject(profile)
        devices = context.targeting.profile_targeting(profile).device_ids
        if policies is None:
            yield finding.unknown(
                subject,
                "whether Conditional Access requires compliant devices could not be read",
                context.unreadable(CONDITIONAL_ACCESS_POLICIES),
                devices=devices,
            )
            continue
        requiring = [
            p for p in policies if requires_compliant_device(p) and not accepts_hybrid_join(p)
        ]
        if requiring:
            names = ", ".join(f"'{p.display_name}'" for p in requiring)
            yield finding.failed(
                subject,
                f"hybrid profile '{profile.display_name}': Conditional Access {names} requires a "
                "compliant device, and hybrid devices show compliance N/A until a user signs in",
                tuple(f"'{p.display_name}' requires compliantDevice" for p in requiring),
                devices=devices,
                related=tuple(
                    Subject("conditionalAccessPolicy", p.id, p.display_name) for p in requiring
                ),
            )
        else:
            yield finding.passed(
                subject,
                f"no Conditional Access policy requires a compliant device for the hybrid devices "
                f"of profile '{profile.display_name}'",
                (f"{len(policies)} Conditional Access policies read",),
                devices=devices,
            )
