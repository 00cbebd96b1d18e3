"""Which registered Autopilot devices a group holds, predicted from the snapshot.

Dynamic groups are predicted from their membership rule over each device's facts; assigned
groups from their direct members (and nested groups that are in the snapshot). Groups hold Entra
device objects, so an Autopilot registration without its Entra object is in no group. When the
answer cannot be known the prediction says so with the reason: it never guesses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from rules.membership_rules import (
    CollectionCondition,
    CollectionItem,
    Comparison,
    ComparisonOperator,
    DeviceFacts,
    Expression,
    FactValue,
    NullValue,
    Or,
    ParsedRule,
    PhysicalIdBound,
    Property,
    Quantifier,
    StringValue,
    SubjectKind,
    Unknown,
    UnsupportedRule,
    evaluate,
    parse_membership_rule,
    physical_id_bound,
)
from rules.tenant_objects import (
    AutopilotDevice,
    EntraDevice,
    Group,
    NotRead,
    ObjectReference,
)

DEVICE_MEMBER_TYPE: Final = "#microsoft.graph.device"
USER_MEMBER_TYPE: Final = "#microsoft.graph.user"
GROUP_MEMBER_TYPE: Final = "#microsoft.graph.group"

# Physical ids that Intune writes from the Autopilot registration (group tag, purchase order).
_ORDER_ID_PREFIX: Final = "[OrderID]:"
_PURCHASE_ORDER_PREFIX: Final = "[PurchaseOrderId]:"
# Every Autopilot registration puts a `[ZTDId]:<id>` entry into the Entra device's physical ids.
_ZTDID_PREFIX: Final = "[ztdid]:"
_INTUNE_WRITTEN_PREFIXES: Final = (_ORDER_ID_PREFIX.casefold(), _PURCHASE_ORDER_PREFIX.casefold())


@dataclass(frozen=True, slots=True)
class MembershipPrediction:
    """The registered Autopilot devices (by Autopilot id) a group holds.

    When `unknown_reason` is None the prediction is exact: `members` is the answer. Otherwise
    `members` holds those certainly in the group and `undetermined` those that might be; an
    `undetermined` of None means any device might be (the device list itself is unknown).
    """

    group_id: str
    members: frozenset[str]
    undetermined: frozenset[str] | None
    unknown_reason: str | None
    # A paused dynamic group: the prediction is who the rule *would* hold.
    paused: bool
    rule_text: str | None
    # The rule holds every Autopilot device (e.g. the `[ZTDId]` rule), now and later.
    holds_every_autopilot_device: bool
    reasons: tuple[str, ...]

    @property
    def is_known(self) -> bool:
        return self.unknown_reason is None

    @property
    def possible_members(self) -> frozenset[str] | None:
        """Every device that is or might be a member; None when that is unbounded."""
        if self.undetermined is None:
            return None
        if not self.undetermined:
            return self.members  # the usual exact prediction: no copy of the member set
        return self.members | self.undetermined


@dataclass(frozen=True, slots=True)
class AutopilotDeviceJoin:
    """Autopilot registrations joined to their Entra device objects, with each one's facts."""

    autopilot_device_ids: frozenset[str]
    # Facts per Autopilot device id, for registrations whose Entra device object exists.
    facts: Mapping[str, DeviceFacts]
    without_entra_object: frozenset[str]
    autopilot_ids_by_entra_object_id: Mapping[str, frozenset[str]]
    # Case-folded physical id -> Autopilot device ids carrying it (see `physical_id_bound`).
    ids_by_physical_id: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Prefix -> device ids, filled on first use ("[ZTDId]" is asked by many groups).
    _by_prefix: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)
    _joinable: dict[bool, frozenset[str]] = field(default_factory=dict, compare=False)

    def carrying(self, bound: PhysicalIdBound) -> frozenset[str]:
        """Devices carrying one of the bound's physical id values or prefixes."""
        parts: list[frozenset[str]] = []
        for value in bound.values:
            ids = self.ids_by_physical_id.get(value)
            if ids:
                parts.append(ids)
        for prefix in bound.prefixes:
            cached = self._by_prefix.get(prefix)
            if cached is None:
                cached = frozenset().union(
                    *(ids for key, ids in self.ids_by_physical_id.items() if key.startswith(prefix))
                )
                self._by_prefix[prefix] = cached
            if cached:
                parts.append(cached)
        if not parts:
            return frozenset()
        if len(parts) == 1:
            # One source (a tag, "[ZTDId]"): share the immutable set instead of copying it.
            return parts[0]
        return frozenset().union(*parts)

    @classmethod
    def build(
        cls, autopilot_devices: Sequence[AutopilotDevice], entra_devices: Sequence[EntraDevice]
    ) -> AutopilotDeviceJoin:
        entra_by_device_id = {
            device.device_id.casefold(): device for device in entra_devices if device.device_id
        }
        facts: dict[str, DeviceFacts] = {}
        by_object_id: dict[str, set[str]] = {}
        missing: set[str] = set()
        for autopilot_device in autopilot_devices:
            entra = entra_by_device_id.get((autopilot_device.entra_device_id or "").casefold())
            if entra is None:
                missing.add(autopilot_device.id)
                continue
            facts[autopilot_device.id] = device_facts(autopilot_device, entra)
            by_object_id.setdefault(entra.id, set()).add(autopilot_device.id)
        by_physical_id: dict[str, set[str]] = {}
        for device_id, device_facts_ in facts.items():
            physical_ids = device_facts_.get("devicephysicalids")
            for physical_id in physical_ids if isinstance(physical_ids, tuple) else ():
                if isinstance(physical_id, str):
                    by_physical_id.setdefault(physical_id.casefold(), set()).add(device_id)
        return cls(
            ids_by_physical_id=MappingProxyType(
                {value: frozenset(ids) for value, ids in by_physical_id.items()}
            ),
            autopilot_device_ids=frozenset(device.id for device in autopilot_devices),
            facts=MappingProxyType(facts),
            without_entra_object=frozenset(missing),
            autopilot_ids_by_entra_object_id=MappingProxyType(
                {object_id: frozenset(ids) for object_id, ids in by_object_id.items()}
            ),
        )

    @property
    def joinable_ids(self) -> frozenset[str]:
        # Every unknown prediction asks: built once (the join never changes).
        cached = self._joinable.get(True)
        if cached is None:
            cached = frozenset(self.facts)
            self._joinable[True] = cached
        return cached


def device_facts(autopilot_device: AutopilotDevice, entra_device: EntraDevice) -> DeviceFacts:
    """The `device.*` rule properties of one Autopilot device, keyed by lower-case name.

    Entra's device object is what the dynamic membership engine reads; the Autopilot
    registration fills in what Intune writes onto it. Properties the snapshot does not carry are
    left out, so rules that read them evaluate to Unknown.
    """
    raw = entra_device.raw
    facts: dict[str, FactValue] = {
        "devicephysicalids": _physical_ids(autopilot_device, entra_device),
        "objectid": entra_device.id,
        "deviceid": entra_device.device_id,
        "displayname": _raw_text(raw, "displayName"),
        "deviceostype": entra_device.operating_system,
        "deviceosversion": entra_device.operating_system_version,
        # The Entra object may not carry model and manufacturer before the first enrollment;
        # the hardware hash registration does.
        "devicemodel": _raw_text(raw, "model") or autopilot_device.model,
        "devicemanufacturer": _raw_text(raw, "manufacturer") or autopilot_device.manufacturer,
    }
    for key, fact in (
        ("accountEnabled", "accountenabled"),
        ("deviceOwnership", "deviceownership"),
        ("managementType", "managementtype"),
        ("isRooted", "isrooted"),
        ("trustType", "devicetrusttype"),
        ("deviceCategory", "devicecategory"),
        ("profileType", "profiletype"),
    ):
        if key in raw and isinstance(raw[key], str | bool | None):
            facts[fact] = raw[key]
    if "systemLabels" in raw and isinstance(raw["systemLabels"], tuple):
        facts["systemlabels"] = tuple(str(label) for label in raw["systemLabels"])
    extension_attributes = raw.get("extensionAttributes")
    if isinstance(extension_attributes, Mapping):
        for key, value in extension_attributes.items():
            if isinstance(value, str | None):
                facts[str(key).casefold()] = value
    profile_name = _enrollment_profile_name(autopilot_device, raw)
    if not isinstance(profile_name, NotRead):
        facts["enrollmentprofilename"] = profile_name
    return MappingProxyType(facts)


def _raw_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _physical_ids(autopilot_device: AutopilotDevice, entra_device: EntraDevice) -> tuple[str, ...]:
    # Intune maps the group tag to `[OrderID]:` and the purchase order to `[PurchaseOrderId]:` on
    # the Entra device. The registration is authoritative: a tag just edited in Intune reaches
    # Entra a little later, and the prediction is about the state the tenant is heading to.
    kept = [
        physical_id
        for physical_id in entra_device.physical_ids
        if not physical_id.casefold().startswith(_INTUNE_WRITTEN_PREFIXES)
    ]
    if autopilot_device.group_tag:
        kept.append(_ORDER_ID_PREFIX + autopilot_device.group_tag)
    if autopilot_device.purchase_order_identifier:
        kept.append(_PURCHASE_ORDER_PREFIX + autopilot_device.purchase_order_identifier)
    return tuple(kept)


def _enrollment_profile_name(
    autopilot_device: AutopilotDevice, raw: Mapping[str, Any]
) -> str | NotRead | None:
    # Entra's enrollmentProfileName of an Autopilot device is the assigned profile's name.
    profile = autopilot_device.deployment_profile
    if isinstance(profile, ObjectReference):
        return profile.display_name
    if profile is None:
        return None
    if "enrollmentProfileName" in raw and isinstance(raw["enrollmentProfileName"], str | None):
        value: str | None = raw["enrollmentProfileName"]
        return value
    return profile


def holds_every_autopilot_device(rule: ParsedRule) -> bool:
    """Whether the rule holds every Autopilot device whatever its other properties.

    Recognises the documented "all Autopilot devices" rules (`-any (_ -startsWith "[ZTDId]")`,
    the older `-contains "[ZTDID]"`) and "all devices" (`device.objectId -ne null`), also as one
    side of an -or. Anything else answers False, which only means "not known to be universal".
    """
    return rule.subject_kind is SubjectKind.DEVICE and _universal(rule.expression)


def _universal(expression: Expression) -> bool:
    match expression:
        case Or(left=left, right=right):
            return _universal(left) or _universal(right)
        case CollectionCondition(
            property=Property(name=name), quantifier=Quantifier.ANY, condition=condition
        ) if name.casefold() == "devicephysicalids":
            return _every_item_condition(condition)
        case Comparison(
            operand=Property(name=name), operator=operator, value=StringValue(text=text)
        ) if name.casefold() == "devicephysicalids":
            return _matches_every_ztdid(operator, text)
        case Comparison(
            operand=Property(name=name), operator=ComparisonOperator.NE, value=NullValue()
        ) if name.casefold() in ("objectid", "deviceid"):
            return True
        case _:
            return False


def _every_item_condition(condition: Expression) -> bool:
    match condition:
        case Or(left=left, right=right):
            return _every_item_condition(left) or _every_item_condition(right)
        case Comparison(operand=CollectionItem(), operator=operator, value=StringValue(text=text)):
            return _matches_every_ztdid(operator, text)
        case _:
            return False


def _matches_every_ztdid(operator: ComparisonOperator, text: str) -> bool:
    # Only the `[ZTDId]:` prefix is known; the id after it differs per device.
    folded = text.casefold()
    if operator is ComparisonOperator.STARTS_WITH:
        return _ZTDID_PREFIX.startswith(folded)
    if operator is ComparisonOperator.CONTAINS:
        return folded in _ZTDID_PREFIX
    return False


def predict_members(
    group: Group,
    autopilot_devices: Sequence[AutopilotDevice] | None,
    entra_devices: Sequence[EntraDevice] | None,
    *,
    groups: Mapping[str, Group] | None = None,
) -> MembershipPrediction:
    """The registered Autopilot devices `group` holds; `groups` resolves nested members."""
    if autopilot_devices is None:
        return _unbounded(group, "Autopilot devices could not be read")
    if entra_devices is None:
        return _unbounded(group, "Entra devices could not be read")
    join = AutopilotDeviceJoin.build(autopilot_devices, entra_devices)
    return predict_group_members(group, join, groups or {})


def predict_group_members(
    group: Group,
    join: AutopilotDeviceJoin,
    groups: Mapping[str, Group],
    _visiting: frozenset[str] = frozenset(),
) -> MembershipPrediction:
    """As `predict_members`, over a join built once for many groups."""
    if group.is_dynamic:
        return _predict_dynamic(group, join)
    return _predict_assigned(group, join, groups, _visiting | {group.id})


def _unbounded(group: Group, reason: str) -> MembershipPrediction:
    return MembershipPrediction(
        group_id=group.id,
        members=frozenset(),
        undetermined=None,
        unknown_reason=reason,
        paused=group.is_dynamic and group.processing_paused,
        rule_text=group.membership_rule,
        holds_every_autopilot_device=False,
        reasons=(reason,),
    )


def _predict_dynamic(group: Group, join: AutopilotDeviceJoin) -> MembershipPrediction:
    paused = group.processing_paused
    reasons: list[str] = []
    if paused:
        reasons.append("dynamic membership processing is paused: this is who the rule would hold")
    parsed = parse_membership_rule(group.membership_rule)

    def unknown(reason: str) -> MembershipPrediction:
        return MembershipPrediction(
            group_id=group.id,
            members=frozenset(),
            undetermined=join.joinable_ids,
            unknown_reason=reason,
            paused=paused,
            rule_text=group.membership_rule,
            holds_every_autopilot_device=False,
            reasons=(*reasons, reason),
        )

    if isinstance(parsed, UnsupportedRule):
        return unknown(f"membership rule not understood: {parsed.reason}")
    if parsed.subject_kind is SubjectKind.MIXED:
        return unknown("membership rule mixes user and device properties")
    if parsed.subject_kind is SubjectKind.USER:
        reasons.append("membership rule selects users, so the group holds no devices")
        return MembershipPrediction(
            group_id=group.id,
            members=frozenset(),
            undetermined=frozenset(),
            unknown_reason=None,
            paused=paused,
            rule_text=group.membership_rule,
            holds_every_autopilot_device=False,
            reasons=tuple(reasons),
        )

    members: set[str] = set()
    undetermined: set[str] = set()
    first_unknown: Unknown | None = None
    bound = physical_id_bound(parsed)
    candidates: Iterable[str] = join.facts
    # When the bound is the whole rule, its (immutable, shared) device set is the answer.
    exact: frozenset[str] | None = None
    if bound is not None:
        # Devices carrying none of the bound's physical ids cannot match: skip them. When the
        # bound is the whole rule, carrying one is matching: nothing is left to evaluate.
        candidates = join.carrying(bound)
        if bound.exact:
            exact = candidates
            candidates = ()
    for device_id in candidates:
        facts = join.facts[device_id]
        result = evaluate(parsed, facts)
        if result is True:
            members.add(device_id)
        elif isinstance(result, Unknown):
            undetermined.add(device_id)
            first_unknown = first_unknown or result
    if join.without_entra_object:
        reasons.append(
            f"{len(join.without_entra_object)} Autopilot device(s) have no Entra device object "
            "and can be in no group"
        )
    unknown_reason = None
    if first_unknown is not None:
        unknown_reason = (
            f"membership rule undecided for {len(undetermined)} device(s): {first_unknown.reason}"
        )
        reasons.append(unknown_reason)
    universal = holds_every_autopilot_device(parsed)
    if universal:
        reasons.append("membership rule holds every Autopilot device")
    held = exact if exact is not None else frozenset(members)
    reasons.append(f"membership rule holds {len(held)} Autopilot device(s)")
    return MembershipPrediction(
        group_id=group.id,
        members=held,
        undetermined=frozenset(undetermined),
        unknown_reason=unknown_reason,
        paused=paused,
        rule_text=group.membership_rule,
        holds_every_autopilot_device=universal,
        reasons=tuple(reasons),
    )


def _predict_assigned(
    group: Group,
    join: AutopilotDeviceJoin,
    groups: Mapping[str, Group],
    visiting: frozenset[str],
) -> MembershipPrediction:
    if group.members is None:
        return MembershipPrediction(
            group_id=group.id,
            members=frozenset(),
            undetermined=join.joinable_ids,
            unknown_reason=f"members of '{group.display_name}' could not be read",
            paused=False,
            rule_text=None,
            holds_every_autopilot_device=False,
            reasons=(f"members of '{group.display_name}' could not be read",),
        )
    members: set[str] = set()
    undetermined: set[str] = set()
    unknown_reasons: list[str] = []
    for member in group.members:
        member_type = (member.odata_type or "").casefold()
        if member_type == DEVICE_MEMBER_TYPE.casefold():
            members |= join.autopilot_ids_by_entra_object_id.get(member.id, frozenset())
        elif member_type == GROUP_MEMBER_TYPE.casefold() and member.id not in visiting:
            nested = groups.get(member.id)
            if nested is None:
                undetermined |= join.joinable_ids
                unknown_reasons.append(f"nested group {member.id} is not in the snapshot")
                continue
            prediction = predict_group_members(nested, join, groups, visiting)
            members |= prediction.members
            if prediction.undetermined is None:
                undetermined |= join.joinable_ids
            else:
                undetermined |= prediction.undetermined
            if prediction.unknown_reason is not None:
                unknown_reasons.append(prediction.unknown_reason)
    reasons = [f"assigned group holds {len(members)} Autopilot device(s) as members"]
    reasons.extend(unknown_reasons)
    return MembershipPrediction(
        group_id=group.id,
        members=frozenset(members),
        undetermined=frozenset(undetermined - members),
        unknown_reason=unknown_reasons[0] if unknown_reasons else None,
        paused=False,
        rule_text=None,
        holds_every_autopilot_device=False,
        reasons=tuple(reasons),
    )
