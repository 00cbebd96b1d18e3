"""GRP-001: every Autopilot device group is a device group that selects Autopilot devices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.applicability import GroupKind
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.membership_rules import (
    And,
    CollectionCondition,
    CollectionItem,
    Comparison,
    Expression,
    ListValue,
    Not,
    Or,
    ParsedRule,
    Property,
    StringValue,
    SubjectKind,
    UnsupportedRule,
    parse_membership_rule,
)
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotProfile, Group

METADATA = RuleMetadata(
    id="GRP-001",
    title="Every Autopilot device group is a device group that selects Autopilot devices",
    severity=Severity.ERROR,
    rationale=(
        "Microsoft documents Autopilot device groups as dynamic device groups over "
        "devicePhysicalIds: '[ZTDid]' for every Autopilot device "
        "(create-dynamic-device-group.md), '[OrderID]:<tag>' and '[PurchaseOrderId]:<id>' "
        "(windows-autopilot-hybrid.md). A group can be dynamic for devices or users but not "
        "both (Microsoft Graph groups overview): a user rule never holds a device, so the "
        "profile reaches nobody. Assigned groups work only if the device objects are added."
    ),
    remediation=(
        "Microsoft Entra admin center > Groups > All groups > the group > Dynamic membership "
        'rules: use a device rule such as (device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))'
        ", or add the Autopilot device objects to the assigned group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/azure-ad-join-device-group",
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/graph/api/resources/groups-overview",
    ),
    graph_reads=(AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

# The physical-id markers Autopilot registrations carry (folded).
_AUTOPILOT_MARKERS: Final = ("[ztdid]", "[orderid]:", "[purchaseorderid]:")
_PHYSICAL_IDS: Final = "devicephysicalids"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES, GROUPS))
    if missing:
        yield from missing
        return
    checked: set[tuple[str, str]] = set()
    for profile in context.targeting.preprovisioning_profiles() or ():
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        targeting = context.targeting.profile_targeting(profile)
        for group_id in sorted(targeting.ap_device_group_ids):
            group = context.snapshot.group(group_id)
            if group is None or (profile.id, group.id) in checked:
                continue  # a group that no longer exists is GRP-006's finding
            checked.add((profile.id, group.id))
            yield _verdict(context, profile, group, finding)


def _verdict(
    context: RuleContext, profile: AutopilotProfile, group: Group, finding: FindingBuilder
) -> Finding:
    subject = Subject("group", group.id, group.display_name)
    role = f"'{group.display_name}' is an Autopilot device group of '{profile.display_name}'"
    if group.is_dynamic:
        return _dynamic_verdict(group, subject, role, finding)
    prediction = context.targeting.membership(group)
    kind = context.targeting.group_kind(group)
    reasons = (role, "assigned (static) group", *kind.reasons, *prediction.reasons)
    name = group.display_name
    if kind.kind is GroupKind.UNKNOWN:
        return finding.unknown(subject, f"cannot tell what assigned group '{name}' holds", reasons)
    if kind.kind is GroupKind.USER:
        return finding.failed(
            subject,
            f"assigned group '{name}' holds only users: the profile reaches no device",
            reasons,
        )
    if kind.kind is GroupKind.UNKNOWN_EMPTY:
        return finding.failed(
            subject,
            f"assigned group '{name}' is empty: add the Autopilot device objects to it",
            reasons,
            severity=Severity.WARNING,
        )
    if not prediction.members:
        if not prediction.is_known:
            return finding.unknown(
                subject, f"cannot tell whether '{name}' holds Autopilot devices", reasons
            )
        return finding.failed(
            subject,
            f"assigned group '{name}' holds none of the registered Autopilot devices",
            reasons,
            severity=Severity.WARNING,
        )
    return finding.passed(
        subject,
        f"assigned group '{name}' holds {len(prediction.members)} Autopilot device(s); new "
        "ones must be added to it by hand",
        reasons,
        devices=prediction.members,
    )


def _dynamic_verdict(group: Group, subject: Subject, role: str, finding: FindingBuilder) -> Finding:
    name = group.display_name
    rule_fact = f"membership rule: {group.membership_rule}"
    parsed = parse_membership_rule(group.membership_rule)
    if isinstance(parsed, UnsupportedRule):
        return finding.unknown(
            subject,
            f"the membership rule of '{name}' is not understood",
            (role, rule_fact, parsed.reason),
        )
    if parsed.subject_kind is not SubjectKind.DEVICE:
        return finding.failed(
            subject,
            f"the membership rule of '{name}' selects {parsed.subject_kind.value}s, so the "
            "group can hold no Autopilot device",
            (role, rule_fact),
        )
    if not selects_autopilot_registrations(parsed):
        return finding.failed(
            subject,
            f"the device rule of '{name}' does not select Autopilot registrations "
            "(devicePhysicalIds with [ZTDId], [OrderID] or [PurchaseOrderId])",
            (role, rule_fact),
            severity=Severity.WARNING,
        )
    return finding.passed(
        subject,
        f"'{name}' is a dynamic device group selecting Autopilot registrations",
        (role, rule_fact),
    )


def selects_autopilot_registrations(rule: ParsedRule) -> bool:
    """Whether the rule compares devicePhysicalIds with an Autopilot marker, not negated."""
    return _selects(rule.expression, in_physical_ids=False)


def _selects(expression: Expression, *, in_physical_ids: bool) -> bool:
    match expression:
        case And(left=left, right=right) | Or(left=left, right=right):
            return _selects(left, in_physical_ids=in_physical_ids) or _selects(
                right, in_physical_ids=in_physical_ids
            )
        case Not():
            return False
        case CollectionCondition(property=Property(name=name), condition=condition):
            return _selects(condition, in_physical_ids=name.casefold() == _PHYSICAL_IDS)
        case Comparison(operand=operand, operator=operator, value=value):
            on_physical_ids = (
                isinstance(operand, Property) and operand.name.casefold() == _PHYSICAL_IDS
            ) or (isinstance(operand, CollectionItem) and in_physical_ids)
            return on_physical_ids and not operator.is_negative and _has_marker(value)
        case _:
            return False


def _has_marker(value: object) -> bool:
    texts: list[str] = []
    if isinstance(value, StringValue):
        texts.append(value.text)
    elif isinstance(value, ListValue):
        texts.extend(item.text for item in value.items if isinstance(item, StringValue))
    return any(text.casefold().startswith(_AUTOPILOT_MARKERS) for text in texts)
