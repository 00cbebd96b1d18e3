"""CMP-002: Conditional Access expects the Entra compliance reset of the user flow."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.payloads.cmp_compliance_ca import requires_compliant_device
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES, CONDITIONAL_ACCESS_POLICIES

METADATA = RuleMetadata(
    id="CMP-002",
    title="No Conditional Access policy meets a pre-provisioned device at the user-flow reset",
    severity=Severity.INFO,
    rationale=(
        "Compliance in Microsoft Entra ID is reset during the user flow of a pre-provisioned "
        "deployment (Windows Autopilot pre-provisioning): a device that was compliant at reseal "
        "starts the user flow without a compliance state until Intune evaluates it again. An "
        "enabled Conditional Access policy requiring a compliant device (Graph "
        "conditionalAccessPolicy grantControls) then blocks the user's first sign-ins to the "
        "apps it covers for that time. INFO: expected behaviour to plan for (grace periods are "
        "CMP-001)."
    ),
    remediation=(
        "Microsoft Entra admin center > Protection > Conditional Access > the policy: make sure "
        "the apps needed during the first sign-in (Intune enrollment, Company Portal) are "
        "excluded, and tell users the first minutes after the user flow may need a retry."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
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
    profiles = context.targeting.preprovisioning_profiles() or ()
    if not profiles:
        return
    finding = FindingBuilder(METADATA)
    related = tuple(Subject("autopilotProfile", p.id, p.display_name) for p in profiles)
    policies = context.snapshot.conditional_access_policies
    if policies is None:
        yield finding.unknown(
            context.tenant_subject,
            "whether Conditional Access requires compliant devices could not be read",
            context.unreadable(CONDITIONAL_ACCESS_POLICIES),
            related=related,
        )
        return
    requiring = [p for p in policies if requires_compliant_device(p)]
    for policy in requiring:
        yield finding.failed(
            Subject("conditionalAccessPolicy", policy.id, policy.display_name),
            f"Conditional Access policy '{policy.display_name}' requires a compliant device: "
            "pre-provisioned devices lose their Entra compliance at the start of the user flow",
            ("grantControls.builtInControls includes compliantDevice", "state is enabled"),
            related=related,
        )
    if not requiring:
        yield finding.passed(
            context.tenant_subject,
            "no enabled Conditional Access policy requires a compliant device",
            (f"{len(policies)} Conditional Access policies read",),
            related=related,
        )
