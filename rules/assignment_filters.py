"""Intune assignment filters, evaluated on what a device is known to be before it enrolls.

A managed-device filter (`deviceAndAppManagementAssignmentFilter.rule`) uses the grammar of
Entra dynamic membership rules: `device.<property> <operator> <value>` joined by and / or / not,
with or without the leading hyphen, `-in [...]` lists, case-insensitive comparisons (Microsoft's
"Assignment filter properties and operators reference", filters-device-properties.md). The
membership rule parser reads it; this module adds the filter's own property vocabulary and the
facts a pre-provisioning device has before it enrolls:

- `model`, `manufacturer`: from the hardware hash registration (the Autopilot device identity);
- `enrollmentProfileName`: the name of the Autopilot profile the device deploys with;
- `deviceOwnership`: `Corporate`, which Autopilot registration makes every device;
- `deviceTrustType`: `Azure AD joined` for a Microsoft Entra join profile, `Hybrid Azure AD
  joined` for a hybrid one.

Every other Windows filter property (deviceName, osVersion, operatingSystemVersion,
operatingSystemSKU, cpuArchitecture, deviceCategory, ...) is read from the enrolled device, so
a rule that needs it evaluates to `Unknown`, never to a match. A filter rule that cannot be read
is `UnsupportedRule`; nothing here raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from rules.membership_rules import (
    DEVICE,
    And,
    CollectionCondition,
    Comparison,
    DeviceFacts,
    Expression,
    FactValue,
    ItemProperty,
    Not,
    Or,
    ParsedRule,
    Property,
    Truth,
    Unknown,
    UnsupportedRule,
    evaluate,
    parse_membership_rule,
)
from rules.tenant_objects import AutopilotDevice, AutopilotProfile

# Windows managed-device filter properties (filters-device-properties.md), lower-case.
WINDOWS_FILTER_PROPERTIES: Final = frozenset(
    {
        "cpuarchitecture",
        "devicecategory",
        "devicename",
        "deviceownership",
        "devicetrusttype",
        "enrollmentprofilename",
        "istpmattested",
        "manufacturer",
        "model",
        "operatingsystemsku",
        "operatingsystemversion",
        "osversion",
    }
)
# Known for every device of a profile from the profile alone.
PROFILE_PROPERTIES: Final = frozenset(
    {"deviceownership", "devicetrusttype", "enrollmentprofilename"}
)

CORPORATE: Final = "Corporate"
ENTRA_JOINED: Final = "Azure AD joined"
HYBRID_JOINED: Final = "Hybrid Azure AD joined"


@dataclass(frozen=True, slots=True)
class ParsedFilter:
    rule: ParsedRule
    # Lower-case names of the properties the rule reads.
    properties: frozenset[str]

    @property
    def device_dependent(self) -> bool:
        """Whether the answer can differ between devices of one profile."""
        return not self.properties <= PROFILE_PROPERTIES


def parse_filter_rule(text: str | None) -> ParsedFilter | UnsupportedRule:
    """Parse a managed-device filter rule. Never raises: unreadable text is `UnsupportedRule`."""
    return _parse_filter_rule(text)


@lru_cache(maxsize=4096)
def _parse_filter_rule(text: str | None) -> ParsedFilter | UnsupportedRule:
    if text is None or not text.strip():
        return UnsupportedRule("the filter has no rule", text or "")
    parsed = parse_membership_rule(text)
    if isinstance(parsed, UnsupportedRule):
        return parsed
    properties: set[str] = set()
    problem = _filter_problem(parsed.expression, properties)
    if problem is not None:
        return UnsupportedRule(problem, text)
    return ParsedFilter(parsed, frozenset(properties))


def _filter_problem(expression: Expression, properties: set[str]) -> str | None:
    stack: list[Expression] = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, Comparison):
            operand = node.operand
            if not isinstance(operand, Property) or operand.subject != DEVICE:
                if isinstance(operand, ItemProperty):
                    return f"{operand.variable}.{operand.name} is not a device filter property"
                return "a filter rule compares device properties only"
            key = operand.name.casefold()
            if key not in WINDOWS_FILTER_PROPERTIES:
                return f"device.{operand.name} is not a Windows filter property"
            properties.add(key)
        elif isinstance(node, CollectionCondition):
            return "filter rules have no -any / -all"
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, And | Or):
            stack.extend((node.left, node.right))
        else:
            return "a filter rule compares device properties only"
    return None


def profile_facts(profile: AutopilotProfile) -> DeviceFacts:
    """What every device deploying with `profile` is, before it enrolls."""
    return MappingProxyType(
        {
            "enrollmentprofilename": profile.display_name,
            "deviceownership": CORPORATE,
            "devicetrusttype": HYBRID_JOINED if profile.is_hybrid else ENTRA_JOINED,
        }
    )


def device_filter_facts(device: AutopilotDevice, profile: AutopilotProfile) -> DeviceFacts:
    """The profile's facts plus the device's hardware registration."""
    facts: dict[str, FactValue] = dict(profile_facts(profile))
    if device.model is not None:
        facts["model"] = device.model
    if device.manufacturer is not None:
        facts["manufacturer"] = device.manufacturer
    return MappingProxyType(facts)


def evaluate_filter(parsed: ParsedFilter, facts: Mapping[str, FactValue]) -> Truth:
    """Whether a device with these facts matches the filter, or `Unknown` with the reason."""
    result = evaluate(parsed.rule, facts)
    if isinstance(result, Unknown):
        return Unknown(result.reason.replace("for this device", "before the device enrolls"))
    return result


@dataclass(frozen=True, slots=True)
class FilterSplit:
    """A filter's answer over one profile's devices."""

    # The answer for every device of the profile when the profile alone decides it.
    for_profile: bool | None
    matched: frozenset[str]
    unmatched: frozenset[str]
    # Devices whose answer is not known before enrollment.
    undecided: frozenset[str]
    # Why some answer is unknown (a property read only after enrollment, an unreadable rule).
    unknown_reason: str | None


def split_devices(
    parsed: ParsedFilter | UnsupportedRule,
    profile: AutopilotProfile,
    devices: Iterable[AutopilotDevice],
) -> FilterSplit:
    """Evaluate the filter for the profile, then per device when the devices differ."""
    kinds = hardware_kinds(devices)
    return split_hardware_kinds(parsed, profile, kinds, None)


# Devices of one hardware kind (model, manufacturer): one of them, and the ids of all of them.
HardwareKind = tuple[AutopilotDevice, frozenset[str]]


def hardware_kinds(devices: Iterable[AutopilotDevice]) -> tuple[HardwareKind, ...]:
    """The devices grouped by what a filter can tell apart before enrollment, in order of first
    appearance: thousands of devices share a few models."""
    kinds: dict[tuple[str | None, str | None], tuple[AutopilotDevice, list[str]]] = {}
    for device in devices:
        key = (device.model, device.manufacturer)
        entry = kinds.get(key)
        if entry is None:
            kinds[key] = (device, [device.id])
        else:
            entry[1].append(device.id)
    return tuple((device, frozenset(ids)) for device, ids in kinds.values())


def split_hardware_kinds(
    parsed: ParsedFilter | UnsupportedRule,
    profile: AutopilotProfile,
    kinds: Iterable[HardwareKind],
    within: frozenset[str] | None,
) -> FilterSplit:
    """`split_devices` for the devices of `kinds` that are in `within` (None: all of them).

    The filter is evaluated once per hardware kind and the answer applied to its devices with
    set operations, never device by device.
    """
    kinds = tuple((device, ids if within is None else ids & within) for device, ids in kinds)
    if isinstance(parsed, UnsupportedRule):
        return FilterSplit(None, frozenset(), frozenset(), _all_ids(kinds), parsed.reason)
    answer = evaluate_filter(parsed, profile_facts(profile))
    if isinstance(answer, bool):
        return FilterSplit(answer, frozenset(), frozenset(), frozenset(), None)
    if not parsed.device_dependent:
        return FilterSplit(None, frozenset(), frozenset(), _all_ids(kinds), answer.reason)
    matched: list[frozenset[str]] = []
    unmatched: list[frozenset[str]] = []
    undecided: list[frozenset[str]] = []
    reason: str | None = None
    for device, ids in kinds:
        if not ids:
            continue
        result = evaluate_filter(parsed, device_filter_facts(device, profile))
        if result is True:
            matched.append(ids)
        elif result is False:
            unmatched.append(ids)
        else:
            undecided.append(ids)
            reason = reason or result.reason
    return FilterSplit(
        None,
        frozenset().union(*matched),
        frozenset().union(*unmatched),
        frozenset().union(*undecided),
        reason,
    )


def _all_ids(kinds: Iterable[HardwareKind]) -> frozenset[str]:
    return frozenset().union(*(ids for _, ids in kinds))
