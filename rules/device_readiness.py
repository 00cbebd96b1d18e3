"""Per-device readiness: what each registered Autopilot device will get, and what stops it.

For every registered device: the profile Autopilot gives it (of the profiles targeting it, the
oldest; profiles.md), how sure that is, the profile-targeted groups that hold it, and its
blockers. Blockers are the failing or unknown findings that name the device, plus facts about
the device itself (no profile, a profile without pre-provisioning, an assignment Intune has not
made yet). A verdict is red, unknown or green against a severity threshold: unknown is never
green.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, overload

from rules.applicability import Certainty, EffectiveProfile, TenantTargeting, tenant_targeting
from rules.fast_init import fast_init
from rules.findings import Finding, Severity, Status
from rules.snapshot_model import TenantSnapshot
from rules.tenant_objects import AutopilotDevice, AutopilotProfile, ObjectReference

NOT_GREEN = (Status.FAIL, Status.UNKNOWN)

# deploymentProfileAssignmentStatus values (windowsAutopilotDeviceIdentity, beta): a device
# only starts pre-provisioning with a profile once Intune has assigned it.
_ASSIGNED_STATUSES = frozenset(
    {"assignedInSync", "assignedOutOfSync", "assignedUnkownSyncState", "assignedUnknownSyncState"}
)
_NOT_ASSIGNED_STATUSES = frozenset({"notAssigned", "failed"})


class Readiness(StrEnum):
    """What the technician would see: the ESP's green screen, its red one, or not knowable."""

    GREEN = "green"
    RED = "red"
    UNKNOWN = "unknown"


def readiness_of(verdicts: Iterable[tuple[Status, Severity]], fail_on: Severity) -> Readiness:
    """RED if anything fails at or above `fail_on`, else UNKNOWN if anything is unknown there."""
    unknown = False
    for status, severity in verdicts:
        if not severity.at_least(fail_on):
            continue
        if status is Status.FAIL:
            return Readiness.RED
        if status is Status.UNKNOWN:
            unknown = True
    return Readiness.UNKNOWN if unknown else Readiness.GREEN


@fast_init
@dataclass(frozen=True, slots=True)
class DeviceBlocker:
    """A failing or unknown verdict that concerns the device."""

    status: Status
    severity: Severity
    message: str
    # The rule behind it; None for a fact about the device itself.
    rule_id: str | None = None
    # The pre-provisioning profile the finding was evaluated for, when it has one.
    profile_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "status": self.status.value,
            "severity": self.severity.value,
            "message": self.message,
            "profileId": self.profile_id,
        }


@fast_init
@dataclass(frozen=True, slots=True)
class GroupHolding:
    """A group referenced by an Autopilot profile's assignments, predicted to hold the device."""

    group_id: str
    display_name: str
    # False: the group might hold the device (its membership cannot be fully predicted).
    certain: bool
    paused: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.group_id,
            "displayName": self.display_name,
            "certain": self.certain,
            "processingPaused": self.paused,
        }


class DeviceBlockers(Sequence[DeviceBlocker]):
    """A device's blockers in report order, without a list of its own per device.

    The devices of one profile are named by the same large findings, so thousands of blockers
    are the same for tens of thousands of devices: `shared` is that one tuple (the same object
    for every such device), `own` the few of this device (its per-device findings and facts),
    each going before `shared[at[i]]`. Iterating splices the two in report order; a tuple of its
    own per device took about 5 GB on a 100,000-device tenant.
    """

    __slots__ = ("_at", "own", "shared")

    def __init__(
        self,
        shared: tuple[DeviceBlocker, ...] = (),
        own: tuple[DeviceBlocker, ...] = (),
        at: tuple[int, ...] | None = None,
    ) -> None:
        self.shared = shared
        self.own = own
        if at is None:
            at = tuple(
                bisect_right(shared, _blocker_order(blocker), key=_blocker_order) for blocker in own
            )
        self._at = at

    def __iter__(self) -> Iterator[DeviceBlocker]:
        if not self.own:
            return iter(self.shared)
        return self._spliced()

    def _spliced(self) -> Iterator[DeviceBlocker]:
        shared = self.shared
        start = 0
        for index, blocker in zip(self._at, self.own, strict=True):
            if index > start:
                yield from shared[start:index]
                start = index
            yield blocker
        yield from shared[start:]

    def __len__(self) -> int:
        return len(self.shared) + len(self.own)

    def own_positions(self) -> list[int]:
        """Where each of `own` goes among `shared` in report order: before `shared[i]`."""
        return list(self._at)

    @overload
    def __getitem__(self, index: int) -> DeviceBlocker: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[DeviceBlocker, ...]: ...

    def __getitem__(self, index: int | slice) -> DeviceBlocker | tuple[DeviceBlocker, ...]:
        if not self.own:
            return self.shared[index]
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeviceBlockers):
            return tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"DeviceBlockers({tuple(self)!r})"


@fast_init
@dataclass(frozen=True, slots=True)
class DeviceReadiness:
    device_id: str
    serial_number: str | None
    display_name: str
    group_tag: str | None
    # The profile the device will get; None when no profile targets it or that is unknown.
    profile_id: str | None
    profile_name: str | None
    profile_certainty: Certainty
    # Other profiles targeting the device, which lose to the oldest.
    competing_profiles: tuple[str, ...]
    profile_reasons: tuple[str, ...]
    assignment_status: str | None
    # The profile Intune shows as assigned now (None: none; "not read": unknown).
    assigned_profile_name: str | None
    groups: tuple[GroupHolding, ...]
    blockers: DeviceBlockers
    readiness: Readiness

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.device_id,
            "serialNumber": self.serial_number,
            "displayName": self.display_name,
            "groupTag": self.group_tag,
            "readiness": self.readiness.value,
            "effectiveProfile": (
                {"id": self.profile_id, "displayName": self.profile_name}
                if self.profile_id is not None
                else None
            ),
            "profileCertainty": self.profile_certainty.value,
            "competingProfiles": list(self.competing_profiles),
            "profileReasons": list(self.profile_reasons),
            "assignmentStatus": self.assignment_status,
            "assignedProfile": self.assigned_profile_name,
            "groups": [group.as_json() for group in self.groups],
            "blockers": [blocker.as_json() for blocker in self.blockers],
        }


def device_readiness(
    snapshot: TenantSnapshot, findings: Sequence[Finding], fail_on: Severity = Severity.ERROR
) -> tuple[DeviceReadiness, ...]:
    """Readiness of every registered Autopilot device (empty when devices could not be read)."""
    targeting = tenant_targeting(snapshot)
    by_device = _not_green_findings_by_device(findings)
    holdings = _profile_group_holdings(snapshot, targeting)
    return tuple(
        _readiness(device, targeting, by_device, holdings, fail_on)
        for device in snapshot.autopilot_devices or ()
    )


class _BlockersByDevice:
    """Blockers per device, in report order, from findings that share their device tuples.

    Findings of one profile share one device tuple naming thousands of devices, so the blockers
    are put in report order once and grouped per tuple by their positions in that order. A
    device's list is the merge of the few groups naming it: the large groups (a profile's
    findings) are merged once per combination and shared, the device's own few blockers are
    slotted in by position with C-level bisection and slicing, not a key call per comparison.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        not_green = [f for f in findings if f.status in NOT_GREEN]
        unsorted = [_finding_blocker(f) for f in not_green]
        unsorted_orders = [_blocker_order(blocker) for blocker in unsorted]
        ranking = sorted(range(len(unsorted)), key=unsorted_orders.__getitem__)  # stable
        self._blockers = [unsorted[index] for index in ranking]
        # The report order of every blocker, ascending: where a device fact slots in.
        self._orders = [unsorted_orders[index] for index in ranking]
        grouped: dict[int, tuple[tuple[str, ...], list[int]]] = {}
        for position, index in enumerate(ranking):
            devices = not_green[index].devices
            if not devices:
                continue
            entry = grouped.get(id(devices))
            if entry is None:
                entry = (devices, [])  # the entry keeps the tuple alive, so its id stays its own
                grouped[id(devices)] = entry
            entry[1].append(position)
        self._groups_of: dict[str, list[list[int]]] = {}
        for devices, positions in grouped.values():
            # A tuple naming a device twice still lists the blocker twice for it.
            for device_id in devices:
                self._groups_of.setdefault(device_id, []).append(positions)
        self._runs: dict[tuple[int, ...], _Run] = {}

    def blockers(self, device_id: str, facts: Sequence[DeviceBlocker]) -> DeviceBlockers:
        """The device's blockers and its facts in report order; a fact goes after every blocker
        ordered with it, and facts ordered alike keep their order."""
        groups = self._groups_of.get(device_id) or ()
        large = [group for group in groups if len(group) >= _LARGE_GROUP]
        key = tuple(id(group) for group in large)
        base = self._runs.get(key)
        if base is None:
            positions = sorted(position for group in large for position in group)
            base = _Run(positions, tuple(self._blockers[position] for position in positions))
            self._runs[key] = base
        own = base.positions
        # (index in the shared run, position or bound, facts before blockers, blocker)
        inserts: list[tuple[int, int, int, DeviceBlocker]] = []
        everything = self._blockers
        for group in groups:
            if len(group) < _LARGE_GROUP:
                for position in group:
                    index = bisect_right(own, position)
                    inserts.append((index, position, 1, everything[position]))
        for fact in sorted(facts, key=_blocker_order):  # stable: alike facts keep their order
            # Positions below `bound` hold exactly the blockers ordered at or before the fact.
            bound = bisect_right(self._orders, _blocker_order(fact))
            inserts.append((bisect_left(own, bound), bound, 0, fact))
        if not inserts:
            return DeviceBlockers(base.blockers)
        # Stable on the first three: facts ordered alike keep their order.
        inserts.sort(key=_insert_order)
        # The shared run stays one tuple for every device holding it; the device's own few
        # blockers are kept apart with the index of the shared blocker each goes before.
        return DeviceBlockers(
            base.blockers,
            tuple(insert[3] for insert in inserts),
            tuple(insert[0] for insert in inserts),
        )


def _insert_order(insert: tuple[int, int, int, DeviceBlocker]) -> tuple[int, int, int]:
    return insert[0], insert[1], insert[2]


@dataclass(frozen=True, slots=True)
class _Run:
    positions: list[int]  # ascending
    blockers: tuple[DeviceBlocker, ...]  # the blocker at each position


_LARGE_GROUP = 16


def _not_green_findings_by_device(findings: Sequence[Finding]) -> _BlockersByDevice:
    """Blockers per device, in report order.

    A finding naming thousands of devices becomes one blocker object, shared by all of them and
    sorted once, instead of one object and one sort per device.
    """
    return _BlockersByDevice(findings)


def _profile_group_holdings(
    snapshot: TenantSnapshot, targeting: TenantTargeting
) -> Mapping[str, list[GroupHolding]]:
    """Device id -> the profile-referenced groups holding it (inverted once, not per device)."""
    group_ids: set[str] = set()
    for profile in snapshot.autopilot_profiles or ():
        for assignment in profile.assignments or ():
            if assignment.group_id:
                group_ids.add(assignment.group_id)
    holdings: dict[str, list[GroupHolding]] = {}
    for group_id in sorted(group_ids):
        group = snapshot.group(group_id)
        if group is None:
            continue
        prediction = targeting.membership(group)
        paused = group.is_dynamic and group.processing_paused
        for device_id in prediction.members:
            holdings.setdefault(device_id, []).append(
                GroupHolding(group.id, group.display_name, True, paused)
            )
        for device_id in prediction.undetermined or ():
            holdings.setdefault(device_id, []).append(
                GroupHolding(group.id, group.display_name, False, paused)
            )
    return holdings


def _readiness(
    device: AutopilotDevice,
    targeting: TenantTargeting,
    by_device: _BlockersByDevice,
    holdings: Mapping[str, list[GroupHolding]],
    fail_on: Severity,
) -> DeviceReadiness:
    effective = targeting.effective_profile(device)
    profile = effective.profile
    # The findings' blockers are already in order; slot the few device facts in.
    blockers = by_device.blockers(device.id, _device_facts(device, effective))
    # Readiness is the worst status of any blocker, so the shared run and the device's own
    # blockers are judged apart (each in report order) and the worse taken.
    readiness = _worse_readiness(
        _readiness_of_ordered(blockers.shared, fail_on),
        _readiness_of_ordered(blockers.own, fail_on),
    )
    return DeviceReadiness(
        device_id=device.id,
        serial_number=device.serial_number,
        display_name=device.display_name,
        group_tag=device.group_tag,
        profile_id=profile.id if profile else None,
        profile_name=profile.display_name if profile else None,
        profile_certainty=effective.certainty,
        competing_profiles=tuple(p.display_name for p in effective.competing),
        profile_reasons=effective.reasons,
        assignment_status=device.profile_assignment_status,
        assigned_profile_name=_assigned_profile_name(device),
        groups=tuple(holdings.get(device.id, ())),
        blockers=blockers,
        readiness=readiness,
    )


def _readiness_of_ordered(blockers: Sequence[DeviceBlocker], fail_on: Severity) -> Readiness:
    """`readiness_of` for blockers in `_blocker_order`: failures first, then unknowns, each by
    descending severity, so the first of each status is its most severe."""
    first_unknown = bisect_left(blockers, True, key=_is_not_failure)
    if first_unknown > 0 and blockers[0].severity.at_least(fail_on):
        return Readiness.RED
    if first_unknown < len(blockers) and blockers[first_unknown].severity.at_least(fail_on):
        return Readiness.UNKNOWN
    return Readiness.GREEN


_SEVERITY_OF_READINESS = {Readiness.GREEN: 0, Readiness.UNKNOWN: 1, Readiness.RED: 2}


def _worse_readiness(one: Readiness, other: Readiness) -> Readiness:
    return one if _SEVERITY_OF_READINESS[one] >= _SEVERITY_OF_READINESS[other] else other


def _is_not_failure(blocker: DeviceBlocker) -> bool:
    # False for every failure, True for every unknown: ascending in `_blocker_order`.
    return blocker.status is not Status.FAIL


def _finding_blocker(finding: Finding) -> DeviceBlocker:
    return DeviceBlocker(
        status=finding.status,
        severity=finding.severity,
        message=finding.message,
        rule_id=finding.rule_id,
        profile_id=finding.scope.profile_id if finding.scope else None,
    )


def _device_facts(device: AutopilotDevice, effective: EffectiveProfile) -> list[DeviceBlocker]:
    profile = effective.profile
    facts: list[DeviceBlocker] = []
    if effective.certainty is Certainty.UNKNOWN:
        facts.append(
            DeviceBlocker(
                Status.UNKNOWN,
                Severity.ERROR,
                "which Autopilot profile the device gets cannot be told: "
                + "; ".join(effective.reasons[-2:]),
            )
        )
    elif profile is None:
        facts.append(
            DeviceBlocker(
                Status.FAIL,
                Severity.ERROR,
                "no Autopilot profile targets the device, so pre-provisioning cannot start",
            )
        )
    elif not profile.preprovisioning_allowed:
        facts.append(
            DeviceBlocker(
                Status.FAIL,
                Severity.ERROR,
                f"its profile '{profile.display_name}' does not allow pre-provisioning",
            )
        )
    facts.extend(_assignment_facts(device, profile))
    return facts


def _assignment_facts(
    device: AutopilotDevice, predicted: AutopilotProfile | None
) -> list[DeviceBlocker]:
    status = device.profile_assignment_status
    if status in _NOT_ASSIGNED_STATUSES:
        return [
            DeviceBlocker(
                Status.FAIL,
                Severity.ERROR,
                f"Intune has not assigned a profile to the device yet (status '{status}')",
            )
        ]
    if status not in _ASSIGNED_STATUSES:
        # pending, unknown, or absent: Intune's own answer is not in yet.
        return [
            DeviceBlocker(
                Status.UNKNOWN,
                Severity.WARNING,
                f"profile assignment status is '{status or 'absent'}'",
            )
        ]
    assigned = device.deployment_profile
    if (
        predicted is not None
        and isinstance(assigned, ObjectReference)
        and assigned.id != predicted.id
    ):
        return [
            DeviceBlocker(
                Status.FAIL,
                Severity.WARNING,
                f"Intune shows profile '{assigned.display_name}' assigned, but group "
                f"membership gives '{predicted.display_name}' (the assignment may be stale)",
            )
        ]
    return []


def _assigned_profile_name(device: AutopilotDevice) -> str | None:
    assigned = device.deployment_profile
    if isinstance(assigned, ObjectReference):
        return assigned.display_name
    return None if assigned is None else "not read"


def _blocker_order(blocker: DeviceBlocker) -> tuple[int, int, str, str]:
    return (
        0 if blocker.status is Status.FAIL else 1,
        -blocker.severity.rank,
        blocker.rule_id or "",
        blocker.message,
    )
