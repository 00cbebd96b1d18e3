"""CMP-001: device-health compliance gives Autopilot devices a grace period before blocking."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity, Subject
from rules.graph_json import optional_mapping, optional_str, string_tuple
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    CONDITIONAL_ACCESS_POLICIES,
    GROUPS,
)
from rules.tenant_objects import CompliancePolicy, ConditionalAccessPolicy

METADATA = RuleMetadata(
    id="CMP-001",
    title="Device-health compliance gives Autopilot devices a grace period before blocking",
    severity=Severity.WARNING,
    rationale=(
        "Known issue: Conditional Access policies such as BitLocker compliance require a grace "
        "period for Autopilot devices, because the health attestation behind BitLocker, "
        "Secure Boot and code integrity is only reported after a restart; the grace period can "
        "be as short as 0.25 days (Windows Autopilot known issues). With a zero grace period "
        "the device is marked noncompliant at once, and a Conditional Access policy requiring "
        "a compliant device then blocks sign-in (Graph deviceComplianceActionItem."
        "gracePeriodHours; conditionalAccessPolicy grantControls)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Compliance > the policy > "
        "Properties > Actions for noncompliance: set 'Mark device noncompliant' to at least "
        "0.25 days after noncompliance."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/graph/api/resources/intune-deviceconfig-devicecomplianceactionitem",
        "https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy",
    ),
    graph_reads=(AUTOPILOT_PROFILES, COMPLIANCE_POLICIES, CONDITIONAL_ACCESS_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "Policy.Read.All",
        "GroupMember.Read.All",
    ),
)

_WINDOWS_COMPLIANCE: Final = "#microsoft.graph.windows10compliancepolicy"
_HEALTH_SETTINGS: Final = ("bitLockerEnabled", "secureBootEnabled", "codeIntegrityEnabled")


def _block_grace_hours(policy: CompliancePolicy) -> list[int | float] | None:
    """Grace periods of the 'mark noncompliant' (block) actions; None when not read."""
    if policy.scheduled_actions is None:
        return None
    hours: list[int | float] = []
    for rule in policy.scheduled_actions:
        actions = rule.get("scheduledActionConfigurations")
        if not isinstance(actions, tuple):
            return None
        for action in actions:
            if not isinstance(action, Mapping):
                continue
            if (optional_str(action, "actionType") or "").casefold() != "block":
                continue
            value: Any = action.get("gracePeriodHours")
            if isinstance(value, int | float) and not isinstance(value, bool):
                hours.append(value)
    return hours


def _requires_compliant_device(policy: ConditionalAccessPolicy) -> bool:
    if (policy.state or "").casefold() != "enabled":
        return False
    grant = optional_mapping(policy.raw, "grantControls") or {}
    controls = {control.casefold() for control in string_tuple(grant, "builtInControls")}
    return "compliantdevice" in controls


def evaluate(context: RuleContext) -> Iterator[Finding]:
    stop = unreadable_or_nothing_to_check(context, METADATA, COMPLIANCE_POLICIES)
    if stop is not None:
        yield from stop
        return
    ca_policies = context.snapshot.conditional_access_policies
    requiring = [p for p in ca_policies or () if _requires_compliant_device(p)]
    ca_facts: tuple[str, ...]
    if ca_policies is None:
        ca_facts = context.unreadable(CONDITIONAL_ACCESS_POLICIES)
    elif requiring:
        ca_facts = tuple(
            f"Conditional Access policy '{p.display_name}' requires a compliant device"
            for p in requiring
        )
    else:
        ca_facts = ("no enabled Conditional Access policy requires a compliant device",)
    related = tuple(Subject("conditionalAccessPolicy", p.id, p.display_name) for p in requiring)
    policies = [
        p
        for p in context.snapshot.compliance_policies or ()
        if (p.odata_type or "").casefold() == _WINDOWS_COMPLIANCE
        and any(p.raw.get(setting) is True for setting in _HEALTH_SETTINGS)
    ]
    for view in profile_views(context, METADATA):
        for policy in policies:
            applicability = view.applicability(policy)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(policy)
            checks = ", ".join(s for s in _HEALTH_SETTINGS if policy.raw.get(s) is True)
            grace = _block_grace_hours(policy)
            name = policy.display_name
            if grace is None or not grace:
                yield view.finding.unknown(
                    subject,
                    f"the grace period of compliance policy '{name}' could not be read",
                    (
                        "scheduledActionsForRule could not be read"
                        if grace is None
                        else "no 'mark noncompliant' (block) action found",
                        *applicability.reasons,
                    ),
                    devices=view.devices,
                )
                continue
            facts = (f"checks {checks}", f"marks noncompliant after {min(grace)} hour(s)")
            if min(grace) > 0:
                yield view.finding.passed(
                    subject,
                    f"compliance policy '{name}' gives a grace period of {min(grace)} hour(s)",
                    (*facts, *applicability.reasons),
                    devices=view.devices,
                )
            elif ca_policies is None:
                yield view.finding.unknown(
                    subject,
                    f"compliance policy '{name}' has no grace period, and whether Conditional "
                    "Access requires compliant devices could not be read",
                    (*facts, *ca_facts, *applicability.reasons),
                    devices=view.devices,
                )
            elif not requiring:
                yield view.finding.passed(
                    subject,
                    f"compliance policy '{name}' has no grace period, but no Conditional Access "
                    "policy requires a compliant device",
                    (*facts, *ca_facts, *applicability.reasons),
                    devices=view.devices,
                )
            else:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"compliance policy '{name}' marks Autopilot devices noncompliant without "
                    "a grace period while Conditional Access requires compliant devices",
                    (*facts, *ca_facts),
                    related=related,
                )
                if finding is not None:
                    yield finding
