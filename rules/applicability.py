"""Device-phase applicability: what reaches a pre-provisioning profile's devices (docs/rules.md,
"Device-phase applicability").

During the technician flow there is no user: only device-targeted payload applies. This module
answers, for a payload's assignments and an Autopilot profile, whether the payload applies to
that profile's devices in the device phase, and why. It also resolves each profile's Autopilot
device groups, each group's kind, each Autopilot device's effective profile and each profile's
effective device-phase ESP. Every answer is immutable and carries its chain of reasons.

Semantics, each from Microsoft's documentation:
- All devices applies; All users never does in the device phase (pre-provision.md).
- A device group include applies when it is an Autopilot device group of the profile or holds
  the profile's devices; a user group include does not ("Other user-targeted policies aren't
  applied until the user signs into the device"). User-targeted device-context apps install for
  the device's assigned user: reported as a separate fact.
- Exclusions work only within the same group kind (apps-inc-exl-assignments.md): a device
  exclusion removes a device include; a user exclusion does not.
- Assignment filters are evaluated on the device at enrollment (filters.md). A filter is
  evaluated here on what the device is before it enrolls (rules/assignment_filters.py): the
  profile's name, corporate ownership, the join type, the registered model and manufacturer. A
  filter that needs anything else (device name, OS version, ...) leaves the answer conditional
  and names the filter; it never counts as a match.
- Coverage is per device: every answer carries the profile's registered devices the payload
  certainly reaches and those it certainly misses, so a payload the technician phase needs can
  be checked against every device of the profile, not just one.
- Only `required` app assignments install in the device phase; `available` is not pushed.
- ESP: the highest-priority device-targeted ESP, else the default; user-targeted ESPs are
  ignored in pre-provisioning (windows-enrollment-status.md).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Final

from rules.assignment_filters import (
    FilterSplit,
    HardwareKind,
    hardware_kinds,
    parse_filter_rule,
    split_hardware_kinds,
)
from rules.assignments import Assignment, FilterType, TargetKind
from rules.fast_init import fast_init
from rules.membership_prediction import (
    DEVICE_MEMBER_TYPE,
    GROUP_MEMBER_TYPE,
    USER_MEMBER_TYPE,
    AutopilotDeviceJoin,
    MembershipPrediction,
    holds_every_autopilot_device,
    predict_group_members,
)
from rules.membership_rules import (
    ParsedRule,
    SubjectKind,
    UnsupportedRule,
    parse_membership_rule,
)
from rules.snapshot_model import TenantSnapshot
from rules.tenant_objects import (
    AssignedPayload,
    AutopilotDevice,
    AutopilotProfile,
    EnrollmentConfiguration,
    EnrollmentConfigurationKind,
    Group,
    MobileApp,
)

REQUIRED_INTENT = "required"


class GroupKind(Enum):
    DEVICE = "device"
    USER = "user"
    MIXED = "mixed"
    UNKNOWN = "unknown"
    # An assigned group read with no members at all.
    UNKNOWN_EMPTY = "unknown-empty"


@dataclass(frozen=True, slots=True)
class GroupKindVerdict:
    group_id: str
    kind: GroupKind
    # "dynamic device group", "assigned user group", ...: how reasons name the group.
    description: str
    reasons: tuple[str, ...]


class Applicability(Enum):
    APPLIES = "applies"
    DOES_NOT_APPLY = "does not apply"
    # An assignment filter decides on the device; `filters` names it.
    CONDITIONAL = "conditional"
    UNKNOWN = "unknown"


class Certainty(Enum):
    CERTAIN = "certain"
    CONDITIONAL = "conditional"
    UNKNOWN = "unknown"


@fast_init
@dataclass(frozen=True, slots=True)
class FilterCondition:
    filter_id: str
    filter_type: FilterType
    # None when the filter is not in the snapshot (or filters could not be read).
    display_name: str | None
    rule: str | None


@fast_init
@dataclass(frozen=True, slots=True)
class UserTargeting:
    """The payload is (also) targeted at users: applied after sign-in, not in the device phase.

    Exception from pre-provision.md: a user-targeted app that installs in device context is
    installed in the technician phase for the Autopilot device's assigned user.
    """

    targets: tuple[str, ...]
    # The profile's devices that have an assigned user (`userPrincipalName`).
    devices_with_assigned_user: frozenset[str]


@fast_init
@dataclass(frozen=True, slots=True)
class DeviceReach:
    """Which of the profile's registered devices a payload reaches in the device phase.

    Only what every caller needs is stored; the differences are worked out when asked (most
    answers are asked only for the devices at risk, `may_reach`).
    """

    # Devices it certainly reaches.
    reached: frozenset[str]
    # Devices it certainly or possibly reaches (a superset of `reached`).
    may_reach: frozenset[str]
    # Every registered device of the profile.
    devices: frozenset[str]

    @property
    def missed(self) -> frozenset[str]:
        """Devices it certainly does not reach."""
        if len(self.may_reach) == len(self.devices):
            return frozenset()
        return self.devices - self.may_reach

    @property
    def undecided(self) -> frozenset[str]:
        """A filter on a property not known before enrollment, or unreadable targeting."""
        if len(self.reached) == len(self.may_reach):
            return frozenset()
        return self.may_reach - self.reached


_NO_REACH = DeviceReach(frozenset(), frozenset(), frozenset())

# Below this many ids on either side, two device sets are intersected again when asked; from
# it on, their intersection's size is remembered (see `TenantTargeting._held`).
_COUNT_ONCE: Final = 256

# How many devices a message names before it only counts the rest.
DEVICE_SAMPLE: Final = 5


def name_devices(
    snapshot: TenantSnapshot, device_ids: Iterable[str], total: int, whole: str = "the profile's"
) -> str:
    """ "3 of the profile's 40 device(s) (PF3A, PF3B, PF3C)": a bounded, stable sample.

    The full list travels in the finding's `devices`; the message names a few by serial number
    (the first ids in sort order, picked without sorting thousands).
    """
    ids = device_ids if isinstance(device_ids, frozenset) else frozenset(device_ids)
    sample = heapq.nsmallest(DEVICE_SAMPLE, ids)
    names = [
        (device.serial_number or device_id)
        if (device := snapshot.autopilot_device(device_id)) is not None
        else device_id
        for device_id in sample
    ]
    more = f", and {len(ids) - len(sample)} more" if len(ids) > len(sample) else ""
    return f"{len(ids)} of {whole} {total} device(s) ({', '.join(names)}{more})"


@fast_init
@dataclass(frozen=True, slots=True)
class DevicePhaseApplicability:
    payload_id: str
    profile_id: str
    verdict: Applicability
    reasons: tuple[str, ...]
    filters: tuple[FilterCondition, ...] = ()
    user_targeting: UserTargeting | None = None
    # What the per-device answer is computed from; set by the engine (None: no devices known).
    # Shared by every answer of the view with the same include, exclude and devices.
    _coverage: _ReachInputs | None = field(default=None, repr=False, compare=False)

    def device_reach(self) -> DeviceReach:
        """Per device of the profile: reached, missed or undecided (computed on first ask)."""
        if self._coverage is None:
            return _NO_REACH
        return self._coverage.device_reach()


@dataclass(frozen=True, slots=True)
class ProfileTargeting:
    """Whom an Autopilot profile is assigned to, and the registered devices that holds."""

    profile_id: str
    all_devices: bool
    included_group_ids: tuple[str, ...]
    excluded_group_ids: tuple[str, ...]
    # Include targets minus exclusions: the profile's Autopilot device groups.
    ap_device_group_ids: frozenset[str]
    # Autopilot device ids the targeting certainly holds.
    device_ids: frozenset[str]
    # Ids it might hold; None when any device might (the devices could not be predicted).
    undetermined_device_ids: frozenset[str] | None
    unknown_reason: str | None
    reasons: tuple[str, ...]
    # Asked for every payload of the profile: computed once (a union of thousands of ids).
    _possible: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        possible = (
            None
            if self.undetermined_device_ids is None
            else self.device_ids | self.undetermined_device_ids
        )
        object.__setattr__(self, "_possible", possible)

    @property
    def possible_device_ids(self) -> frozenset[str] | None:
        return self._possible


@fast_init
@dataclass(frozen=True, slots=True)
class EffectiveProfile:
    autopilot_device_id: str
    # The profile the device gets; None when no profile targets it or the answer is unknown.
    profile: AutopilotProfile | None
    certainty: Certainty
    # Other profiles targeting the device, which lose to the oldest (profiles.md).
    competing: tuple[AutopilotProfile, ...]
    # Profiles that might target the device and could change the answer.
    undecided: tuple[AutopilotProfile, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EffectiveEsp:
    profile_id: str
    # The ESP the profile's devices get in the device phase; None when unknown or none exists.
    esp: EnrollmentConfiguration | None
    is_default: bool
    certainty: Certainty
    # Higher-priority ESPs that might apply instead (a filter or unknown data decides).
    undecided: tuple[EnrollmentConfiguration, ...]
    # ESPs targeted at users only, which pre-provisioning ignores.
    ignored_user_targeted: tuple[EnrollmentConfiguration, ...]
    reasons: tuple[str, ...]


# --- coverage: which of a profile's devices a set of targets reaches -------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class _Coverage:
    # Every device of the profile, present and future (All devices, an AP device group of the
    # profile, a rule that holds every Autopilot device).
    every_device: bool = False
    certain: frozenset[str] = frozenset()
    # Superset of `certain`; None when unbounded (the target could hold any device).
    possible: frozenset[str] | None = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.every_device and self.possible is not None and not self.possible


_NOTHING = _Coverage()
_EVERYTHING = _Coverage(every_device=True)
_UNBOUNDED = _Coverage(possible=None)
_NO_DEVICES: frozenset[str] = frozenset()


class _DeviceSets:
    """One copy of each distinct device set the view computes.

    Thousands of answers (apps assigned to the same groups, filters that split a profile's
    devices alike) come to equal sets of up to every device of the tenant; each is kept once
    and every answer refers to that copy, so memory grows with the distinct sets, not with
    apps x profiles.
    """

    __slots__ = ("_sets",)

    def __init__(self) -> None:
        self._sets: dict[frozenset[str], frozenset[str]] = {}

    def __call__(self, ids: frozenset[str]) -> frozenset[str]:
        if not ids:
            return _NO_DEVICES
        return self._sets.setdefault(ids, ids)

    def __len__(self) -> int:
        return len(self._sets)


class _ReachInputs:
    """What one (payload, profile) answer's device reach is computed from, and the reach once
    computed: answers with the same include, exclude and devices share one (and one reach)."""

    __slots__ = ("_reach", "_sets", "devices", "exclude", "include")

    def __init__(
        self, include: _Coverage, exclude: _Coverage, devices: frozenset[str], sets: _DeviceSets
    ) -> None:
        self.include = include
        self.exclude = exclude
        self.devices = devices
        self._sets = sets
        self._reach: DeviceReach | None = None

    def device_reach(self) -> DeviceReach:
        reach = self._reach
        if reach is None:
            reach = self._reach = _reach_of(self.include, self.exclude, self.devices, self._sets)
        return reach


class _IncludePart:
    """What an include target is, whichever profile asks: its coverage, the reasons and user
    targets it adds, and for a device group the group and its predicted members (the rest of
    the answer depends on the profile: `TenantTargeting._device_group_tail`)."""

    __slots__ = ("coverage", "group_id", "prediction", "reasons", "user_targets")

    def __init__(
        self,
        coverage: _Coverage,
        reasons: tuple[str, ...],
        user_targets: tuple[str, ...] = (),
        group_id: str | None = None,
        prediction: MembershipPrediction | None = None,
    ) -> None:
        self.coverage = coverage
        self.reasons = reasons
        self.user_targets = user_targets
        self.group_id = group_id
        self.prediction = prediction


_NO_PART: Final = _IncludePart(_NOTHING, ())


class _StepKind(Enum):
    TEXT = "text"  # the assignment only adds a reason (an app's non-required intent, ...)
    EXCLUDE = "exclude"
    INCLUDE = "include"
    INCLUDE_FILTERED = "include with a filter"


_TEXT: Final = _StepKind.TEXT
_EXCLUDE: Final = _StepKind.EXCLUDE
_INCLUDE: Final = _StepKind.INCLUDE
_INCLUDE_FILTERED: Final = _StepKind.INCLUDE_FILTERED

# What the step does, the assignment, and its part: an include's (see `_IncludePart`); the
# reason a text step adds; nothing for an exclusion (worked out per profile).
_Step = tuple[_StepKind, Assignment, "_IncludePart"]


def _union(coverages: Iterable[_Coverage]) -> _Coverage:
    if isinstance(coverages, list | tuple):
        # Most payloads have one or two assignments: skip copying the device sets.
        if not coverages:
            return _NOTHING
        if len(coverages) == 1:
            return coverages[0]
    every = False
    certain: frozenset[str] = frozenset()
    possible: frozenset[str] | None = frozenset()
    for coverage in coverages:
        every = every or coverage.every_device
        certain |= coverage.certain
        possible = (
            None if possible is None or coverage.possible is None else possible | coverage.possible
        )
    return _Coverage(every, certain, possible)


def _widened(coverage: _Coverage, target: ProfileTargeting) -> _Coverage:
    """The coverage with nothing certain: whatever it might reach, it might not."""
    if coverage.every_device:
        return _Coverage(possible=target.possible_device_ids)
    return _Coverage(possible=coverage.possible)


def _decide(include: _Coverage, exclude: _Coverage, target: ProfileTargeting) -> Applicability:
    if exclude.every_device:
        return Applicability.DOES_NOT_APPLY
    devices = target.device_ids
    possible_devices = target.possible_device_ids
    excluded_possibly = exclude.possible
    if include.every_device:
        if excluded_possibly is None:
            return Applicability.UNKNOWN
        if not excluded_possibly:
            # Nothing is excluded: every device the profile gets, whichever those are.
            return Applicability.APPLIES
        if devices - excluded_possibly:
            return Applicability.APPLIES
        if possible_devices is not None and not possible_devices:
            # No registered device yet: it applies to whichever devices the profile gets.
            return Applicability.APPLIES
        if possible_devices is not None and possible_devices <= exclude.certain:
            return Applicability.DOES_NOT_APPLY
        return Applicability.UNKNOWN
    certain = include.certain & devices
    if excluded_possibly is not None and certain - excluded_possibly:
        return Applicability.APPLIES
    if include.possible is None:
        reachable = possible_devices
    elif possible_devices is None:
        reachable = include.possible
    else:
        reachable = include.possible & possible_devices
    if reachable is not None and not reachable - exclude.certain:
        return Applicability.DOES_NOT_APPLY
    return Applicability.UNKNOWN


def _reach_of(
    include: _Coverage, exclude: _Coverage, devices: frozenset[str], sets: _DeviceSets
) -> DeviceReach:
    """Split the profile's registered devices into reached, possibly reached and the rest."""
    if not devices:
        return _NO_REACH
    if exclude.every_device:
        return DeviceReach(_NO_DEVICES, _NO_DEVICES, devices)
    if include.every_device:
        reached, possible = devices, devices
    else:
        reached = include.certain & devices
        if include.possible is None:
            possible = devices
        elif include.possible is include.certain:
            possible = reached  # an exact prediction: one intersection, not two
        else:
            possible = include.possible & devices
    if exclude.possible is None:
        reached = frozenset()
    elif exclude.possible:
        reached = reached - exclude.possible
    if exclude.certain:
        possible = possible - exclude.certain
    if len(reached) == len(devices):
        # Every device reached (the usual answer): share the profile's set, compute nothing.
        return DeviceReach(devices, devices, devices)
    reached = sets(reached)
    if len(possible) == len(reached):
        possible = reached
    return DeviceReach(reached, sets(possible), devices)


# --- the view ------------------------------------------------------------------------------------


def tenant_targeting(snapshot: TenantSnapshot) -> TenantTargeting:
    """The snapshot's targeting view, built once per snapshot and shared by every rule."""
    return snapshot.derived_view(TenantTargeting)


class TenantTargeting:
    """Targeting answers over one snapshot. Results are immutable and memoised per object."""

    def __init__(self, snapshot: TenantSnapshot) -> None:
        self._snapshot = snapshot
        self._join = (
            AutopilotDeviceJoin.build(snapshot.autopilot_devices, snapshot.entra_devices)
            if snapshot.autopilot_devices is not None and snapshot.entra_devices is not None
            else None
        )
        self._groups = {group.id: group for group in snapshot.groups or ()}
        self._kinds: dict[str, GroupKindVerdict] = {}
        self._predictions: dict[str, MembershipPrediction] = {}
        self._profiles: dict[str, ProfileTargeting] = {}
        self._devices_with_user: dict[str, frozenset[str]] = {}
        # Keyed by object identity; the object is kept beside the answer so the id stays its own
        # (rules may pass a narrowed copy of a payload, which must not share a cached answer).
        self._applicability: dict[
            tuple[int, str], tuple[AssignedPayload, DevicePhaseApplicability]
        ] = {}
        self._effective_profiles: dict[int, tuple[AutopilotDevice, EffectiveProfile]] = {}
        self._labels: dict[str, str] = {}
        self._profile_pairs: tuple[tuple[AutopilotProfile, ProfileTargeting], ...] | None = None
        # Profiles that might target any device, and device id -> profiles that (might) target it.
        self._concerning: tuple[list[int], dict[str, list[int]]] | None = None
        self._filter_splits: dict[tuple[str, str], FilterSplit | None] = {}
        # The registered devices by hardware kind, for filters (built on first use).
        self._hardware: tuple[HardwareKind, ...] | None = None
        self._filtered_coverages: dict[
            tuple[object, ...], tuple[_Coverage, _Coverage, bool, tuple[str, ...]]
        ] = {}
        # Each payload's assignments as the answers read them (see `_plan`), and what one
        # exclusion contributes for one profile, by (target, profile).
        self._plans: dict[int, tuple[AssignedPayload, tuple[_Step, ...]]] = {}
        # How many of a profile's devices a large member set holds (see `_held`).
        self._held_counts: dict[tuple[int, int], tuple[frozenset[str], frozenset[str], int]] = {}
        self._target_coverages: dict[
            tuple[object, ...], tuple[_Coverage, tuple[str, ...], tuple[str, ...]]
        ] = {}
        # Each distinct device set once (see _DeviceSets); coverages by (every device, the
        # identity of their sets), unions of coverages and reach inputs by their parts'
        # identities: answers with the same targeting share one object all the way down.
        self._sets = _DeviceSets()
        self._coverages: dict[tuple[bool, int, int], _Coverage] = {}
        self._unions: dict[tuple[int, ...], tuple[tuple[_Coverage, ...], _Coverage]] = {}
        self._reach_inputs: dict[tuple[int, int, int], _ReachInputs] = {}
        # Reasons repeated word for word across answers (see where they are used), each once.
        self._texts: dict[tuple[object, ...], str] = {}
        # Per profile: the hardware kinds holding its possible devices, for filters.
        self._profile_hardware: dict[str, tuple[HardwareKind, ...]] = {}

    @property
    def snapshot(self) -> TenantSnapshot:
        return self._snapshot

    def _coverage_of(
        self,
        certain: frozenset[str] = _NO_DEVICES,
        possible: frozenset[str] | None = _NO_DEVICES,
        every_device: bool = False,
    ) -> _Coverage:
        """The one coverage of these parts (each device set kept once)."""
        certain = self._sets(certain)
        possible = None if possible is None else self._sets(possible)
        key = (every_device, id(certain), id(possible))
        coverage = self._coverages.get(key)
        if coverage is None:
            coverage = self._coverages[key] = _Coverage(every_device, certain, possible)
        return coverage

    def _joined(self, coverages: list[_Coverage]) -> _Coverage:
        """`_union`, computed once per distinct list of coverages."""
        if len(coverages) <= 1:
            return _union(coverages)
        key = tuple(map(id, coverages))
        known = self._unions.get(key)
        if known is not None:
            return known[1]
        union = _union(coverages)
        joined = self._coverage_of(union.certain, union.possible, union.every_device)
        # The parts are kept beside the answer so that their ids stay their own.
        self._unions[key] = (tuple(coverages), joined)
        return joined

    def _reach_source(
        self, include: _Coverage, exclude: _Coverage, devices: frozenset[str]
    ) -> _ReachInputs:
        key = (id(include), id(exclude), id(devices))
        inputs = self._reach_inputs.get(key)
        if inputs is None:
            inputs = self._reach_inputs[key] = _ReachInputs(include, exclude, devices, self._sets)
        return inputs

    def preprovisioning_profiles(self) -> tuple[AutopilotProfile, ...] | None:
        profiles = self._snapshot.autopilot_profiles
        if profiles is None:
            return None
        return tuple(profile for profile in profiles if profile.preprovisioning_allowed)

    # --- groups ---------------------------------------------------------------------------------

    def group_kind(self, group: Group) -> GroupKindVerdict:
        cached = self._kinds.get(group.id)
        if cached is None:
            cached = self._group_kind(group, frozenset())
            self._kinds[group.id] = cached
        return cached

    def _group_kind(self, group: Group, visiting: frozenset[str]) -> GroupKindVerdict:
        if group.is_dynamic:
            return _dynamic_group_kind(group)
        if group.members is None:
            return GroupKindVerdict(
                group.id,
                GroupKind.UNKNOWN,
                "assigned group whose members could not be read",
                (f"members of '{group.display_name}' could not be read",),
            )
        if not group.members:
            return GroupKindVerdict(
                group.id,
                GroupKind.UNKNOWN_EMPTY,
                "empty assigned group",
                (f"assigned group '{group.display_name}' has no members",),
            )
        kinds: set[GroupKind] = set()
        reasons: list[str] = []
        for member in group.members:
            member_type = (member.odata_type or "").casefold()
            if member_type == DEVICE_MEMBER_TYPE.casefold():
                kinds.add(GroupKind.DEVICE)
            elif member_type == USER_MEMBER_TYPE.casefold():
                kinds.add(GroupKind.USER)
            elif member_type == GROUP_MEMBER_TYPE.casefold() and member.id not in visiting:
                nested = self._groups.get(member.id)
                if nested is None:
                    kinds.add(GroupKind.UNKNOWN)
                    reasons.append(f"nested group {member.id} is not in the snapshot")
                    continue
                verdict = self._group_kind(nested, visiting | {group.id})
                if verdict.kind is GroupKind.MIXED:
                    kinds |= {GroupKind.DEVICE, GroupKind.USER}
                elif verdict.kind is not GroupKind.UNKNOWN_EMPTY:
                    kinds.add(verdict.kind)
                reasons.extend(verdict.reasons)
        return _assigned_group_kind(group, kinds, reasons)

    def membership(self, group: Group) -> MembershipPrediction:
        """The registered Autopilot devices the group holds (see membership_prediction)."""
        cached = self._predictions.get(group.id)
        if cached is None:
            cached = self._predict(group)
            self._predictions[group.id] = cached
        return cached

    def _predict(self, group: Group) -> MembershipPrediction:
        if self._join is not None:
            return predict_group_members(group, self._join, self._groups)
        missing = (
            "Autopilot devices" if self._snapshot.autopilot_devices is None else "Entra devices"
        )
        reason = f"{missing} could not be read"
        parsed = parse_membership_rule(group.membership_rule) if group.is_dynamic else None
        # Whether a rule holds every Autopilot device is known from the rule alone.
        universal = isinstance(parsed, ParsedRule) and holds_every_autopilot_device(parsed)
        return MembershipPrediction(
            group_id=group.id,
            members=frozenset(),
            undetermined=None,
            unknown_reason=reason,
            paused=group.is_dynamic and group.processing_paused,
            rule_text=group.membership_rule,
            holds_every_autopilot_device=universal,
            reasons=(reason,),
        )

    def _label(self, group: Group) -> str:
        label = self._labels.get(group.id)
        if label is None:
            label = f"'{group.display_name}' ({self.group_kind(group).description})"
            self._labels[group.id] = label
        return label

    # --- profiles -------------------------------------------------------------------------------

    def profile_targeting(self, profile: AutopilotProfile) -> ProfileTargeting:
        cached = self._profiles.get(profile.id)
        if cached is None:
            cached = self._profile_targeting(profile)
            self._profiles[profile.id] = cached
        return cached

    def _profile_targeting(self, profile: AutopilotProfile) -> ProfileTargeting:
        all_ids = frozenset(device.id for device in self._snapshot.autopilot_devices or ())
        unknown_universe: frozenset[str] | None = (
            None if self._snapshot.autopilot_devices is None else all_ids
        )
        if profile.assignments is None:
            reason = f"assignments of profile '{profile.display_name}' could not be read"
            return ProfileTargeting(
                profile_id=profile.id,
                all_devices=False,
                included_group_ids=(),
                excluded_group_ids=(),
                ap_device_group_ids=frozenset(),
                device_ids=frozenset(),
                undetermined_device_ids=unknown_universe,
                unknown_reason=reason,
                reasons=(reason,),
            )
        includes = tuple(
            a.group_id
            for a in profile.assignments
            if a.target_kind is TargetKind.GROUP_INCLUDE and a.group_id
        )
        excludes = tuple(
            a.group_id
            for a in profile.assignments
            if a.target_kind is TargetKind.GROUP_EXCLUDE and a.group_id
        )
        all_devices = any(a.target_kind is TargetKind.ALL_DEVICES for a in profile.assignments)
        reasons: list[str] = []
        unknown: list[str] = []
        included: list[_Coverage] = []
        if all_devices:
            reasons.append(f"profile '{profile.display_name}' is assigned to All devices")
            if self._snapshot.autopilot_devices is None:
                unknown.append("Autopilot devices could not be read")
                included.append(_UNBOUNDED)
            else:
                included.append(_Coverage(certain=all_ids, possible=all_ids))
        for group_id in includes:
            included.append(self._profile_group_coverage(group_id, "assigned to", reasons, unknown))
        excluded = [
            self._profile_group_coverage(group_id, "excluded", reasons, unknown)
            for group_id in excludes
        ]
        include = _union(included)
        exclude = _union(excluded)
        certain = include.certain - (exclude.possible if exclude.possible is not None else all_ids)
        undetermined: frozenset[str] | None
        if include.possible is None:
            undetermined = (
                None if unknown_universe is None else unknown_universe - exclude.certain - certain
            )
        else:
            undetermined = include.possible - exclude.certain - certain
        if unknown_universe is not None and undetermined is not None:
            undetermined &= unknown_universe
        if unknown:
            # A count next to "could not be read" reads as a fact; say what is known instead.
            reasons.append(
                f"which registered devices profile '{profile.display_name}' targets is not known"
                + (f" (at least {len(certain)})" if certain else "")
            )
        else:
            reasons.append(
                f"profile '{profile.display_name}' targets {len(certain)} registered device(s)"
            )
        return ProfileTargeting(
            profile_id=profile.id,
            all_devices=all_devices,
            included_group_ids=includes,
            excluded_group_ids=excludes,
            ap_device_group_ids=frozenset(includes) - frozenset(excludes),
            device_ids=certain,
            undetermined_device_ids=undetermined,
            unknown_reason=unknown[0] if unknown else None,
            reasons=tuple(reasons + unknown),
        )

    def _profile_group_coverage(
        self, group_id: str, verb: str, reasons: list[str], unknown: list[str]
    ) -> _Coverage:
        if self._snapshot.groups is None:
            unknown.append("groups could not be read")
            return _UNBOUNDED
        group = self._groups.get(group_id)
        if group is None:
            reasons.append(f"{verb} group {group_id}, which is not in the tenant (ignored)")
            return _NOTHING
        reasons.append(f"{verb} {self._label(group)}")
        prediction = self.membership(group)
        if prediction.unknown_reason is not None:
            unknown.append(prediction.unknown_reason)
        return self._coverage_of(prediction.members, prediction.possible_members)

    # --- payload applicability ------------------------------------------------------------------

    def device_phase_applicability(
        self, payload: AssignedPayload, profile: AutopilotProfile
    ) -> DevicePhaseApplicability:
        """Whether `payload` applies in the device phase to `profile`'s devices, and why."""
        key = (id(payload), profile.id)
        cached = self._applicability.get(key)
        if cached is not None and cached[0] is payload:
            return cached[1]
        answer = self._device_phase_applicability(payload, profile)
        self._applicability[key] = (payload, answer)
        return answer

    def _device_phase_applicability(
        self, payload: AssignedPayload, profile: AutopilotProfile
    ) -> DevicePhaseApplicability:
        target = self._profiles.get(profile.id) or self.profile_targeting(profile)
        if payload.assignments is None:
            return DevicePhaseApplicability(
                payload.id,
                profile.id,
                Applicability.UNKNOWN,
                (f"assignments of '{payload.display_name}' could not be read",),
                _coverage=self._reach_source(_UNBOUNDED, _NOTHING, target.device_ids),
            )
        if not payload.assignments:
            return DevicePhaseApplicability(
                payload.id,
                profile.id,
                Applicability.DOES_NOT_APPLY,
                (f"'{payload.display_name}' is not assigned",),
                _coverage=self._reach_source(_NOTHING, _NOTHING, target.device_ids),
            )
        is_app = isinstance(payload, MobileApp)
        reasons: list[str] = []
        user_targets: list[str] = []
        unfiltered: list[_Coverage] = []
        filtered: list[tuple[_Coverage, FilterCondition, Assignment]] = []
        exclusions: list[_Coverage] = []
        for step, assignment, part in self._plan(payload):
            if step is _TEXT:
                reasons.extend(part.reasons)
                continue
            if step is _EXCLUDE:
                exclusions.append(
                    self._memo_exclusion_coverage(assignment, profile, target, reasons)
                )
                continue
            reasons.extend(part.reasons)
            if part.user_targets:
                user_targets.extend(part.user_targets)
            coverage = (
                part.coverage
                if part.prediction is None
                else self._device_group_tail(part, profile, target, reasons)
            )
            if step is _INCLUDE_FILTERED and not coverage.is_empty:
                filtered.append((coverage, self._filter_condition(assignment, reasons), assignment))
            else:
                unfiltered.append(coverage)

        # No exclusion, one include: the usual payload; `_joined` would give the same objects.
        exclude = self._joined(exclusions) if exclusions else _NOTHING
        undecided_filter = False
        if filtered:
            evaluated: list[_Coverage] = []
            for coverage, _condition, assignment in filtered:
                narrowed, sure = self._filtered_coverage(
                    coverage, assignment, profile, target, reasons
                )
                evaluated.append(narrowed)
                undecided_filter = undecided_filter or not sure
            include = self._joined([*unfiltered, *evaluated])
        else:
            # The usual payload: no filter.
            include = unfiltered[0] if len(unfiltered) == 1 else self._joined(unfiltered)
        verdict = _decide(include, exclude, target)
        conditions: tuple[FilterCondition, ...] = ()
        if verdict is not Applicability.APPLIES and undecided_filter:
            # Some filter answer waits for enrollment: would the payload apply if it matched?
            with_filters = _decide(
                _union([*unfiltered, *(coverage for coverage, _, _ in filtered)]), exclude, target
            )
            if with_filters is Applicability.APPLIES:
                verdict = Applicability.CONDITIONAL
                conditions = tuple(condition for _, condition, _ in filtered)
            elif with_filters is Applicability.UNKNOWN:
                verdict = Applicability.UNKNOWN
        user_targeting = None
        if user_targets:
            user_targeting = self._user_targeting(tuple(user_targets), target, is_app, reasons)
        # Positional, in field order: this runs for every (payload, profile) answer.
        return DevicePhaseApplicability(
            payload.id,
            profile.id,
            verdict,
            tuple(reasons),
            conditions,
            user_targeting,
            self._reach_source(include, exclude, target.device_ids),
        )

    def _plan(self, payload: AssignedPayload) -> tuple[_Step, ...]:
        """The payload's assignments as each profile's answer reads them, in order.

        What does not depend on the profile (an assignment that adds only words, an include's
        group, kind and members) is worked out once per payload; the answer for a profile then
        only looks at each device group's place in that profile's targeting.
        """
        known = self._plans.get(id(payload))
        if known is not None and known[0] is payload:
            return known[1]
        is_app = isinstance(payload, MobileApp)
        plan: list[_Step] = []
        for assignment in payload.assignments or ():
            if assignment.target_kind is TargetKind.GROUP_EXCLUDE:
                if is_app and assignment.intent not in (None, REQUIRED_INTENT):
                    # The admin center keeps exclusions per assignment type (intent).
                    text = (
                        f"exclusion under '{assignment.intent}' does not affect required installs"
                    )
                    plan.append((_TEXT, assignment, _IncludePart(_NOTHING, (text,))))
                else:
                    plan.append((_EXCLUDE, assignment, _NO_PART))
            elif is_app and assignment.intent != REQUIRED_INTENT:
                text = self._not_required_reason(assignment)
                plan.append((_TEXT, assignment, _IncludePart(_NOTHING, (text,))))
            else:
                step = _INCLUDE_FILTERED if assignment.has_filter else _INCLUDE
                plan.append((step, assignment, self._include_part(assignment)))
        steps = tuple(plan)
        # The payload is kept beside its plan so that its id stays its own.
        self._plans[id(payload)] = (payload, steps)
        return steps

    def _not_required_reason(self, assignment: Assignment) -> str:
        # The same words for every app and profile with this target and intent: one string.
        key = (
            assignment.target_kind,
            assignment.group_id,
            assignment.target_odata_type,
            assignment.intent,
        )
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = (
                f"{self._target_label(assignment)} as '{assignment.intent}': only required "
                "apps install in the device phase"
            )
        return text

    def _target_label(self, assignment: Assignment) -> str:
        if assignment.target_kind is TargetKind.ALL_DEVICES:
            return "assigned to All devices"
        if assignment.target_kind is TargetKind.ALL_LICENSED_USERS:
            return "assigned to All users"
        group = self._groups.get(assignment.group_id or "")
        if group is None:
            return f"assigned to group {assignment.group_id}"
        return f"assigned to group {self._label(group)}"

    def _include_part(self, assignment: Assignment) -> _IncludePart:
        """What an include is, whichever profile asks (see `_plan`)."""
        kind = assignment.target_kind
        if kind is TargetKind.ALL_DEVICES:
            return _IncludePart(_EVERYTHING, ("assigned to All devices",))
        if kind is TargetKind.ALL_LICENSED_USERS:
            return _IncludePart(
                _NOTHING,
                ("assigned to All users: user-targeted, applied after a user signs in",),
                ("All users",),
            )
        if kind is not TargetKind.GROUP_INCLUDE or not assignment.group_id:
            return _IncludePart(
                _UNBOUNDED,
                (f"assigned to an unsupported target ({assignment.target_odata_type})",),
            )
        if self._snapshot.groups is None:
            return _IncludePart(
                _UNBOUNDED,
                (f"assigned to group {assignment.group_id}, but groups could not be read",),
            )
        group = self._groups.get(assignment.group_id)
        if group is None:
            # The groups were read in full: a group not among them is deleted and holds nobody
            # (GRP-006 reports the dangling reference; profile targeting ignores it alike).
            return _IncludePart(
                _NOTHING,
                (
                    f"assigned to group {assignment.group_id}, which is not in the tenant "
                    "(deleted?): it reaches no device",
                ),
            )
        verdict = self.group_kind(group)
        assigned = f"assigned to group {self._label(group)}"
        if verdict.kind is GroupKind.USER:
            return _IncludePart(
                _NOTHING,
                (assigned, "user group: user-targeted, applied after a user signs in"),
                (self._label(group),),
            )
        if verdict.kind is GroupKind.UNKNOWN_EMPTY:
            return _IncludePart(_NOTHING, (assigned, "the group has no members"))
        if verdict.kind is GroupKind.UNKNOWN:
            return _IncludePart(_UNBOUNDED, (assigned, *verdict.reasons))
        return self._device_group_part(group, (assigned,))

    def _device_group_part(self, group: Group, reasons: tuple[str, ...]) -> _IncludePart:
        if group.is_dynamic and group.processing_paused:
            reasons = (*reasons, f"membership processing of '{group.display_name}' is paused")
        prediction = self.membership(group)
        coverage = self._coverage_of(prediction.members, prediction.possible_members)
        return _IncludePart(coverage, reasons, (), group.id, prediction)

    def _device_group_tail(
        self,
        part: _IncludePart,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> _Coverage:
        """What a device group reaches of one profile's devices, and why."""
        group_id = part.group_id
        if group_id in target.ap_device_group_ids:
            reasons.append(
                f"group is an Autopilot device group of profile '{profile.display_name}'"
            )
            return _EVERYTHING
        if group_id in target.excluded_group_ids:
            # Exclusion wins over inclusion: no device of the group gets the profile, whichever
            # devices it holds (known without the device list).
            reasons.append(
                f"profile '{profile.display_name}' excludes the group: none of its devices get "
                "the profile"
            )
            return _NOTHING
        prediction = part.prediction
        assert prediction is not None  # a device group's part always has its prediction
        if prediction.holds_every_autopilot_device:
            reasons.append("the group's rule holds every Autopilot device")
            return _EVERYTHING
        if prediction.unknown_reason is not None:
            reasons.append(prediction.unknown_reason)
        elif target.unknown_reason is not None:
            reasons.append(f"the profile's devices are not known: {target.unknown_reason}")
        else:
            # A count is a fact only when both sides were read.
            devices = target.device_ids
            reasons.append(
                f"group holds {self._held(part.coverage.certain, devices)} of the profile's "
                f"{len(devices)} registered device(s)"
            )
        return part.coverage

    def _memo_exclusion_coverage(
        self,
        assignment: Assignment,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> _Coverage:
        key = (False, assignment.group_id, profile.id)
        cached = self._target_coverages.get(key)
        if cached is None:
            added: list[str] = []
            coverage = self._exclusion_coverage(assignment, profile, target, added)
            cached = (coverage, tuple(added), ())
            self._target_coverages[key] = cached
        reasons.extend(cached[1])
        return cached[0]

    def _exclusion_coverage(
        self,
        assignment: Assignment,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> _Coverage:
        if not assignment.group_id:
            return _NOTHING
        if self._snapshot.groups is None:
            reasons.append(f"excluded group {assignment.group_id}, but groups could not be read")
            return _UNBOUNDED
        group = self._groups.get(assignment.group_id)
        if group is None:
            reasons.append(
                f"exclusion of group {assignment.group_id} ignored: it is not in the tenant"
            )
            return _NOTHING
        verdict = self.group_kind(group)
        if verdict.kind is GroupKind.USER:
            reasons.append(
                f"exclusion via {self._label(group)} does not remove device targeting "
                "(exclusions apply within the same group kind)"
            )
            return _NOTHING
        if verdict.kind is GroupKind.UNKNOWN_EMPTY:
            reasons.append(f"exclusion via {self._label(group)} excludes nobody")
            return _NOTHING
        if verdict.kind is GroupKind.UNKNOWN:
            reasons.append(f"excluded via {self._label(group)}")
            reasons.extend(verdict.reasons)
            return _UNBOUNDED
        reasons.append(f"excluded via {self._label(group)}")
        return self._device_group_coverage(group, profile, target, reasons)

    def _held(self, members: frozenset[str], devices: frozenset[str]) -> int:
        """How many of `devices` the (interned) member set holds.

        Small sets are intersected on the spot; a large pair (a group holding every device, a
        profile assigned to All devices) is asked once per payload targeting it: counted once.
        """
        if len(members) < _COUNT_ONCE or len(devices) < _COUNT_ONCE:
            return len(members & devices)
        key = (id(members), id(devices))
        known = self._held_counts.get(key)
        if known is None or known[0] is not members or known[1] is not devices:
            # The sets are kept beside the count so that their ids stay their own.
            known = self._held_counts[key] = (members, devices, len(members & devices))
        return known[2]

    def _device_group_coverage(
        self,
        group: Group,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> _Coverage:
        part = self._device_group_part(group, ())
        reasons.extend(part.reasons)
        return self._device_group_tail(part, profile, target, reasons)

    def filter_split(self, filter_id: str, profile: AutopilotProfile) -> FilterSplit | None:
        """The filter's answer for the profile's possible devices; None when it is not read."""
        key = (filter_id, profile.id)
        if key in self._filter_splits:
            return self._filter_splits[key]
        found = self._snapshot.assignment_filter(filter_id)
        split: FilterSplit | None = None
        if found is not None:
            split = split_hardware_kinds(
                parse_filter_rule(found.rule), profile, self._hardware_of(profile), None
            )
            sets = self._sets
            split = FilterSplit(
                split.for_profile,
                sets(split.matched),
                sets(split.unmatched),
                sets(split.undecided),
                split.unknown_reason,
            )
        self._filter_splits[key] = split
        return split

    def _hardware_of(self, profile: AutopilotProfile) -> tuple[HardwareKind, ...]:
        """The hardware kinds of the profile's possible devices, each kind's ids within them:
        worked out once per profile, not once per filter."""
        known = self._profile_hardware.get(profile.id)
        if known is not None:
            return known
        target = self.profile_targeting(profile)
        possible = target.possible_device_ids
        ids = possible if possible is not None else target.device_ids
        if self._hardware is None:
            self._hardware = hardware_kinds(self._snapshot.autopilot_devices or ())
        sets = self._sets
        known = tuple(
            (device, kind_ids if kind_ids <= ids else sets(kind_ids & ids))
            for device, kind_ids in self._hardware
        )
        self._profile_hardware[profile.id] = known
        return known

    def _filtered_coverage(
        self,
        coverage: _Coverage,
        assignment: Assignment,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> tuple[_Coverage, bool]:
        """The devices an include still reaches through its filter, and whether that is sure."""
        key = (id(coverage), assignment.filter_id, assignment.filter_type, profile.id)
        cached = self._filtered_coverages.get(key)
        if cached is None or cached[0] is not coverage:
            added: list[str] = []
            narrowed, sure = self._narrow(coverage, assignment, profile, target, added)
            cached = (coverage, narrowed, sure, tuple(added))
            self._filtered_coverages[key] = cached
        reasons.extend(cached[3])
        return cached[1], cached[2]

    def _narrow(
        self,
        coverage: _Coverage,
        assignment: Assignment,
        profile: AutopilotProfile,
        target: ProfileTargeting,
        reasons: list[str],
    ) -> tuple[_Coverage, bool]:
        split = self.filter_split(assignment.filter_id or "", profile)
        include = assignment.filter_type is FilterType.INCLUDE
        if split is None:
            # Filter not read or not in the tenant: any device might pass it.
            widened = _widened(coverage, target)
            return self._coverage_of(widened.certain, widened.possible), False
        if split.for_profile is not None:
            passes = split.for_profile is include
            reasons.append(
                f"the filter {'lets every' if passes else 'lets no'} device of profile "
                f"'{profile.display_name}' through"
            )
            return (coverage if passes else _NOTHING), True
        keep, drop = (
            (split.matched, split.unmatched) if include else (split.unmatched, split.matched)
        )
        if split.unknown_reason is not None:
            reasons.append(
                f"the filter is not decided for {len(split.undecided)} device(s) before "
                f"enrollment: {split.unknown_reason}"
            )
        reasons.append(
            f"the filter lets {len(keep)} and keeps out {len(drop)} registered device(s) of "
            f"profile '{profile.display_name}'"
        )
        if coverage.every_device:
            certain, possible = target.device_ids, target.possible_device_ids
        else:
            certain, possible = coverage.certain, coverage.possible
        narrowed = self._coverage_of(certain & keep, None if possible is None else possible - drop)
        # Devices registered later (or a profile with none yet) meet the filter on enrollment.
        no_devices = target.possible_device_ids is not None and not target.possible_device_ids
        sure = not split.undecided and not (coverage.every_device and no_devices)
        return narrowed, sure

    def _filter_condition(self, assignment: Assignment, reasons: list[str]) -> FilterCondition:
        filter_id = assignment.filter_id or ""
        found = self._snapshot.assignment_filter(filter_id)
        condition = FilterCondition(
            filter_id=filter_id,
            filter_type=assignment.filter_type,
            display_name=found.display_name if found else None,
            rule=found.rule if found else None,
        )
        if found is not None:
            reasons.append(
                f"filter '{found.display_name}' ({assignment.filter_type.value}) decides on the "
                f"device: {found.rule}"
            )
        elif self._snapshot.assignment_filters is None:
            reasons.append(f"filter {filter_id} decides on the device; filters could not be read")
        else:
            reasons.append(f"filter {filter_id} decides on the device; it is not in the tenant")
        return condition

    def _user_targeting(
        self,
        targets: tuple[str, ...],
        target: ProfileTargeting,
        is_app: bool,
        reasons: list[str],
    ) -> UserTargeting:
        with_user = self._devices_with_user.get(target.profile_id)
        if with_user is None:
            # Asked for every user-targeted payload of the profile: compute once per profile.
            with_user = frozenset(
                device_id
                for device_id in target.device_ids
                if (device := self._snapshot.autopilot_device(device_id)) is not None
                and device.user_principal_name
            )
            self._devices_with_user[target.profile_id] = with_user
        if is_app:
            reasons.append(
                "user-targeted: an app installing in device context is installed in the "
                f"technician phase only for a device's assigned user ({len(with_user)} of the "
                f"profile's {len(target.device_ids)} device(s) have one)"
            )
        return UserTargeting(targets=targets, devices_with_assigned_user=with_user)

    # --- effective profile and ESP --------------------------------------------------------------

    def effective_profile(self, device: AutopilotDevice) -> EffectiveProfile:
        """The profile Autopilot gives the device: of the profiles targeting it, the oldest."""
        cached = self._effective_profiles.get(id(device))
        if cached is not None and cached[0] is device:
            return cached[1]
        answer = self._effective_profile(device)
        self._effective_profiles[id(device)] = (device, answer)
        return answer

    def _effective_profile(self, device: AutopilotDevice) -> EffectiveProfile:
        profiles = self._snapshot.autopilot_profiles
        if profiles is None:
            return EffectiveProfile(
                device.id, None, Certainty.UNKNOWN, (), (), ("profiles could not be read",)
            )
        pairs = self._profile_pairs
        if pairs is None:
            # Asked for every device: look the profiles' targeting up once.
            pairs = self._profile_pairs = tuple(
                (profile, self.profile_targeting(profile)) for profile in profiles
            )
        holding: list[AutopilotProfile] = []
        undecided: list[AutopilotProfile] = []
        reasons: list[str] = []
        for index in self._profiles_concerning(device.id, pairs):
            profile, targeting = pairs[index]
            if device.id in targeting.device_ids:
                holding.append(profile)
                reasons.append(self._profile_text(profile, targeting, holds=True))
            elif (
                targeting.undetermined_device_ids is None
                or device.id in targeting.undetermined_device_ids
            ):
                undecided.append(profile)
                reasons.append(self._profile_text(profile, targeting, holds=False))
        holding.sort(key=_creation_order)
        winner = holding[0] if holding else None
        if len(holding) > 1 and winner is not None:
            reasons.append(
                f"{len(holding)} profiles target the device; the oldest, "
                f"'{winner.display_name}', wins"
            )
        if winner is None and not undecided:
            reasons.append("no profile targets the device")
        could_change = tuple(
            profile for profile in undecided if winner is None or _may_be_older(profile, winner)
        )
        return EffectiveProfile(
            autopilot_device_id=device.id,
            profile=winner if not could_change else None,
            certainty=Certainty.UNKNOWN if could_change else Certainty.CERTAIN,
            competing=tuple(holding[1:]),
            undecided=could_change,
            reasons=tuple(reasons),
        )

    def _profile_text(
        self, profile: AutopilotProfile, targeting: ProfileTargeting, *, holds: bool
    ) -> str:
        """Why a profile concerns a device: the same words for each of its devices, one string."""
        key = (holds, profile.id)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = (
                f"profile '{profile.display_name}' targets the device"
                if holds
                else f"profile '{profile.display_name}' might target the device: "
                f"{targeting.unknown_reason}"
            )
        return text

    def _profiles_concerning(
        self, device_id: str, pairs: tuple[tuple[AutopilotProfile, ProfileTargeting], ...]
    ) -> list[int]:
        """Indexes, in profile order, of the profiles that target or might target the device.

        Inverted once (device -> profiles), so each device looks at its own few profiles
        instead of every profile of the tenant.
        """
        if self._concerning is None:
            every: list[int] = []
            by_device: dict[str, list[int]] = {}
            for index, (_, targeting) in enumerate(pairs):
                if targeting.undetermined_device_ids is None:
                    every.append(index)
                    continue
                for member in targeting.device_ids | targeting.undetermined_device_ids:
                    by_device.setdefault(member, []).append(index)
            self._concerning = (every, by_device)
        every, by_device = self._concerning
        own = by_device.get(device_id, [])
        if not every:
            return own
        return sorted({*every, *own})

    def effective_esp(self, profile: AutopilotProfile) -> EffectiveEsp:
        """The profile's device-phase ESP: the highest-priority one that applies, else default."""
        configurations = self._snapshot.enrollment_configurations
        if configurations is None:
            return EffectiveEsp(
                profile.id,
                None,
                False,
                Certainty.UNKNOWN,
                (),
                (),
                ("enrollment configurations could not be read",),
            )
        custom = sorted(
            (c for c in configurations if c.kind is EnrollmentConfigurationKind.ESP),
            key=lambda c: (c.priority is None, c.priority or 0, c.display_name),
        )
        reasons: list[str] = []
        undecided: list[EnrollmentConfiguration] = []
        certainty = Certainty.CERTAIN
        ignored: list[EnrollmentConfiguration] = []
        for esp in custom:
            label = f"ESP '{esp.display_name}' (priority {esp.priority})"
            applicability = self.device_phase_applicability(esp, profile)
            if applicability.verdict is Applicability.APPLIES:
                reasons.append(f"{label} applies to the profile's devices")
                reasons.extend(applicability.reasons)
                return EffectiveEsp(
                    profile_id=profile.id,
                    esp=esp,
                    is_default=False,
                    certainty=certainty,
                    undecided=tuple(undecided),
                    ignored_user_targeted=tuple(ignored),
                    reasons=tuple(reasons),
                )
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                if applicability.user_targeting is not None:
                    ignored.append(esp)
                    reasons.append(
                        f"{label} is user-targeted: pre-provisioning applies only ESPs "
                        "targeted at devices"
                    )
                else:
                    reasons.append(f"{label} does not apply to the profile's devices")
                continue
            undecided.append(esp)
            reasons.append(f"{label} might apply ({applicability.verdict.value})")
            reasons.extend(applicability.reasons)
            if applicability.verdict is Applicability.UNKNOWN:
                certainty = Certainty.UNKNOWN
            elif certainty is Certainty.CERTAIN:
                certainty = Certainty.CONDITIONAL
        default = next(
            (c for c in configurations if c.kind is EnrollmentConfigurationKind.DEFAULT_ESP), None
        )
        if default is None:
            reasons.append("no custom ESP applies and the tenant has no default ESP")
        else:
            reasons.append(f"no custom ESP applies: the default ESP '{default.display_name}' does")
        return EffectiveEsp(
            profile.id,
            default,
            default is not None,
            certainty,
            tuple(undecided),
            tuple(ignored),
            tuple(reasons),
        )


def _dynamic_group_kind(group: Group) -> GroupKindVerdict:
    parsed = parse_membership_rule(group.membership_rule)
    if isinstance(parsed, UnsupportedRule):
        return GroupKindVerdict(
            group.id,
            GroupKind.UNKNOWN,
            "dynamic group with a rule not understood",
            (f"membership rule of '{group.display_name}' not understood: {parsed.reason}",),
        )
    kind = {
        SubjectKind.DEVICE: GroupKind.DEVICE,
        SubjectKind.USER: GroupKind.USER,
        SubjectKind.MIXED: GroupKind.MIXED,
    }[parsed.subject_kind]
    return GroupKindVerdict(
        group.id,
        kind,
        f"dynamic {kind.value} group",
        (f"membership rule of '{group.display_name}' selects {parsed.subject_kind.value}s",),
    )


def _assigned_group_kind(
    group: Group, kinds: set[GroupKind], reasons: list[str]
) -> GroupKindVerdict:
    if GroupKind.UNKNOWN in kinds:
        return GroupKindVerdict(
            group.id, GroupKind.UNKNOWN, "assigned group of unknown kind", tuple(reasons)
        )
    if kinds == {GroupKind.DEVICE}:
        kind, description = GroupKind.DEVICE, "assigned device group"
    elif kinds == {GroupKind.USER}:
        kind, description = GroupKind.USER, "assigned user group"
    elif kinds == {GroupKind.DEVICE, GroupKind.USER}:
        kind, description = GroupKind.MIXED, "assigned group of devices and users"
    else:
        return GroupKindVerdict(
            group.id,
            GroupKind.UNKNOWN,
            "assigned group of unknown kind",
            (*reasons, f"'{group.display_name}' holds neither devices nor users"),
        )
    return GroupKindVerdict(
        group.id,
        kind,
        description,
        (*reasons, f"members of '{group.display_name}' are {kind.value}s"),
    )


_LATEST = datetime.max.replace(tzinfo=UTC)


def _creation_order(profile: AutopilotProfile) -> tuple[bool, datetime, str]:
    # Profiles with no creation date sort last; the id keeps the order stable.
    if profile.created is None:
        return (True, _LATEST, profile.id)
    return (False, profile.created, profile.id)


def _may_be_older(candidate: AutopilotProfile, winner: AutopilotProfile) -> bool:
    if candidate.created is None or winner.created is None:
        return True
    return candidate.created < winner.created
