"""GRP-005: groups match enrollmentProfileName whole, and no profile name can be spoofed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.membership_rules import (
    And,
    CollectionCondition,
    Comparison,
    ComparisonOperator,
    Expression,
    Not,
    Or,
    Property,
    UnsupportedRule,
    parse_membership_rule,
)
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS

METADATA = RuleMetadata(
    id="GRP-005",
    title="Groups match enrollmentProfileName whole and no profile name starts with "
    "OfflineAutopilotprofile-",
    severity=Severity.WARNING,
    rationale=(
        "Autopilot for existing devices sets the Entra device attribute enrollmentProfileName "
        "to 'OfflineAutopilotprofile-<correlator ID>', and 'the device may report any "
        "correlator ID they want': a device reporting a correlator matching a profile name "
        "joins every dynamic group based on enrollmentProfileName. Microsoft's guidance: "
        "'Always create dynamic group rules matching against the entire enrollmentProfileName "
        "value' and 'Never name Autopilot or Apple ADE profiles beginning with "
        "OfflineAutopilotprofile-' (enrollment-autopilot.md). A rule is read with the "
        "membership rule parser the other group rules use: only -eq and -in compare whole "
        "values."
    ),
    remediation=(
        "Microsoft Entra admin center > Groups > All groups > the group > Dynamic membership "
        'rules: compare the whole name, e.g. (device.enrollmentProfileName -eq "Contoso '
        'Pre-provisioning"); Microsoft Intune admin center > Devices > Enrollment > Windows > '
        "Deployment Profiles: rename any profile starting with OfflineAutopilotprofile-."
    ),
    references=("https://learn.microsoft.com/autopilot/enrollment-autopilot",),
    graph_reads=(GROUPS, AUTOPILOT_PROFILES),
    permissions=("GroupMember.Read.All", "DeviceManagementServiceConfig.Read.All"),
)

PROPERTY: Final = "enrollmentprofilename"
RESERVED_PREFIX: Final = "offlineautopilotprofile-"
_WHOLE_VALUE: Final = (ComparisonOperator.EQ, ComparisonOperator.IN)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    finding = FindingBuilder(METADATA)
    checked = 0
    unreadable = context.unreadable(GROUPS)
    if unreadable:
        yield finding.unknown(
            context.tenant_subject,
            "cannot check group rules: groups could not be read",
            unreadable,
        )
    for group in context.snapshot.groups or ():
        rule = group.membership_rule
        if not group.is_dynamic or not rule or PROPERTY not in rule.casefold():
            continue
        checked += 1
        subject = Subject("group", group.id, group.display_name)
        fact = f"membership rule: {rule}"
        parsed = parse_membership_rule(rule)
        if isinstance(parsed, UnsupportedRule):
            yield finding.unknown(
                subject,
                f"the membership rule of '{group.display_name}' is not understood",
                (fact, parsed.reason),
            )
            continue
        partial = sorted(
            {op.value for op in _operators(parsed.expression)} - {op.value for op in _WHOLE_VALUE}
        )
        if partial:
            yield finding.failed(
                subject,
                f"'{group.display_name}' matches enrollmentProfileName with {', '.join(partial)}"
                ": a device reporting a made-up correlator ID can join it",
                (fact,),
            )
        else:
            yield finding.passed(
                subject,
                f"'{group.display_name}' matches the whole enrollmentProfileName",
                (fact,),
            )
    profiles_unreadable = context.unreadable(AUTOPILOT_PROFILES)
    if profiles_unreadable:
        yield finding.unknown(
            context.tenant_subject,
            "cannot check profile names: Autopilot profiles could not be read",
            profiles_unreadable,
        )
    for profile in context.snapshot.autopilot_profiles or ():
        if profile.display_name.casefold().startswith(RESERVED_PREFIX):
            checked += 1
            yield finding.failed(
                profile_subject(profile),
                f"Autopilot profile '{profile.display_name}' starts with "
                "OfflineAutopilotprofile-: a device can claim it as a correlator ID",
                (f"profile name: {profile.display_name}",),
            )
    if not checked and not unreadable and not profiles_unreadable:
        yield finding.passed(
            context.tenant_subject,
            "no group rule uses enrollmentProfileName and no profile name starts with "
            "OfflineAutopilotprofile-",
        )


def _operators(expression: Expression) -> Iterator[ComparisonOperator]:
    """Operators of every comparison on device.enrollmentProfileName in the rule."""
    match expression:
        case And(left=left, right=right) | Or(left=left, right=right):
            yield from _operators(left)
            yield from _operators(right)
        case Not(operand=operand):
            for operator in _operators(operand):
                # Negating a whole-value match selects every other (spoofable) value.
                yield ComparisonOperator.NE if operator in _WHOLE_VALUE else operator
        case CollectionCondition(condition=condition):
            yield from _operators(condition)
        case Comparison(operand=Property(name=name), operator=operator):
            if name.casefold() == PROPERTY:
                yield operator
        case _:
            return
