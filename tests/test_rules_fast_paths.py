"""The fast paths of rule evaluation agree with their plain definitions on a synthetic tenant.

Each optimised computation is compared with a straightforward one written here from its
definition, on a small synthetic tenant (shared device tuples, per-device findings, filters,
nested and dynamic groups), so a speed-up can never change an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from rules import applicability
from rules.applicability import Certainty, EffectiveProfile, TenantTargeting, tenant_targeting
from rules.assignment_filters import (
    device_filter_facts,
    evaluate_filter,
    parse_filter_rule,
    profile_facts,
)
from rules.device_readiness import (
    NOT_GREEN,
    DeviceBlocker,
    _blocker_order,
    _device_facts,
    _finding_blocker,
    device_readiness,
    readiness_of,
)
from rules.engine import evaluate_snapshot
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Status, Subject
from rules.membership_rules import Unknown, UnsupportedRule
from rules.snapshot_model import TenantSnapshot
from rules.tenant_objects import AutopilotDevice, AutopilotProfile
from samples.synthetic import generate_tenant


def small_document() -> dict[str, Any]:
    return generate_tenant(
        apps=120,
        device_configurations=80,
        settings_policies=30,
        scripts=20,
        enrollment_configurations=12,
        profiles=6,
        groups=300,
        devices=900,
        filters=8,
        seed=7,
    )


METADATA_FOR_TEST = RuleMetadata(
    id="TST-001",
    title="t",
    severity=Severity.ERROR,
    rationale="r",
    remediation="fix it",
    references=(),
    graph_reads=(),
    permissions=(),
)


@cache
def small_tenant() -> TenantSnapshot:
    return TenantSnapshot.from_document(small_document())


def plain_blockers(
    findings: Sequence[Finding], device_id: str, facts: Sequence[DeviceBlocker]
) -> list[DeviceBlocker]:
    """Every not-green finding naming the device (as often as it names it), then the facts,
    in report order; equals keep that order."""
    named = [
        _finding_blocker(finding)
        for finding in findings
        if finding.status in NOT_GREEN
        for named_id in finding.devices
        if named_id == device_id
    ]
    return sorted([*named, *facts], key=_blocker_order)


def test_device_blockers_and_readiness_match_their_definition() -> None:
    snapshot = small_tenant()
    findings = list(evaluate_snapshot(snapshot).findings)
    # A tuple naming a device twice lists its blocker twice for that device.
    first = (snapshot.autopilot_devices or ())[0].id
    findings.append(
        Finding(
            rule_id="DEV-001",
            status=Status.FAIL,
            severity=Severity.WARNING,
            subject=findings[0].subject,
            message="named twice",
            devices=(first, first),
        )
    )
    targeting = tenant_targeting(snapshot)
    shared = sum(1 for f in findings if f.status in NOT_GREEN and len(f.devices) >= 16)
    assert shared > 0  # the tenant exercises the shared, pre-merged groups

    for fail_on in (Severity.ERROR, Severity.WARNING):
        readiness = device_readiness(snapshot, findings, fail_on)
        assert len(readiness) == len(snapshot.autopilot_devices or ())
        for device, answer in zip(snapshot.autopilot_devices or (), readiness, strict=True):
            facts = _device_facts(device, targeting.effective_profile(device))
            expected = plain_blockers(findings, device.id, facts)
            assert list(answer.blockers) == expected, device.id
            assert answer.readiness is readiness_of(
                ((blocker.status, blocker.severity) for blocker in expected), fail_on
            )


def test_filter_splits_match_evaluating_every_device() -> None:
    snapshot = small_tenant()
    targeting = tenant_targeting(snapshot)
    checked = 0
    for profile in snapshot.autopilot_profiles or ():
        target = targeting.profile_targeting(profile)
        possible = target.possible_device_ids
        ids = possible if possible is not None else target.device_ids
        for found in snapshot.assignment_filters or ():
            split = targeting.filter_split(found.id, profile)
            assert split is not None
            parsed = parse_filter_rule(found.rule)
            answers: dict[str, object] = {}
            for device in snapshot.autopilot_devices or ():
                if device.id in ids and not isinstance(parsed, UnsupportedRule):
                    facts = device_filter_facts(device, profile)
                    answers[device.id] = evaluate_filter(parsed, facts)
            if split.for_profile is not None:
                assert not isinstance(parsed, UnsupportedRule)
                assert evaluate_filter(parsed, profile_facts(profile)) is split.for_profile
                continue
            if isinstance(parsed, UnsupportedRule) or not parsed.device_dependent:
                assert split.undecided == ids & {d.id for d in snapshot.autopilot_devices or ()}
                continue
            checked += 1
            assert split.matched == {i for i, answer in answers.items() if answer is True}
            assert split.unmatched == {i for i, answer in answers.items() if answer is False}
            undecided = {i: a for i, a in answers.items() if isinstance(a, Unknown)}
            assert split.undecided == set(undecided)
            reasons = {answer.reason for answer in undecided.values()}
            assert (split.unknown_reason in reasons) if undecided else split.unknown_reason is None
    assert checked > 0  # some filters needed the devices themselves


def plain_effective_profile(
    targeting: TenantTargeting, device: AutopilotDevice
) -> EffectiveProfile:
    """Of the profiles targeting the device, the oldest; every profile looked at in turn."""
    holding: list[AutopilotProfile] = []
    undecided: list[AutopilotProfile] = []
    reasons: list[str] = []
    for profile in targeting.snapshot.autopilot_profiles or ():
        target = targeting.profile_targeting(profile)
        if device.id in target.device_ids:
            holding.append(profile)
            reasons.append(f"profile '{profile.display_name}' targets the device")
        elif target.undetermined_device_ids is None or device.id in target.undetermined_device_ids:
            undecided.append(profile)
            reasons.append(
                f"profile '{profile.display_name}' might target the device: {target.unknown_reason}"
            )
    holding.sort(
        key=lambda p: (p.created is None, p.created or datetime.max.replace(tzinfo=UTC), p.id)
    )
    winner = holding[0] if holding else None
    if len(holding) > 1 and winner is not None:
        reasons.append(
            f"{len(holding)} profiles target the device; the oldest, '{winner.display_name}', wins"
        )
    if winner is None and not undecided:
        reasons.append("no profile targets the device")
    could_change = tuple(
        p
        for p in undecided
        if winner is None
        or p.created is None
        or winner.created is None
        or p.created < winner.created
    )
    return EffectiveProfile(
        autopilot_device_id=device.id,
        profile=winner if not could_change else None,
        certainty=Certainty.UNKNOWN if could_change else Certainty.CERTAIN,
        competing=tuple(holding[1:]),
        undecided=could_change,
        reasons=tuple(reasons),
    )


def test_effective_profiles_match_looking_at_every_profile() -> None:
    document = small_document()
    # One profile whose devices cannot be predicted (a group with unreadable members), so some
    # answers are undecided, and one that targets everything.
    profiles = document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    groups = document["collections"]["groups"]
    unreadable = next(group for group in groups if "members" in group)
    del unreadable["members"]
    document.setdefault("errors", {})[f"groups/{unreadable['id']}/members"] = {
        "status": 403,
        "message": "denied",
    }
    profiles[1]["assignments"].append(
        {
            "id": "u",
            "target": {
                "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                "groupId": unreadable["id"],
            },
        }
    )
    profiles[0]["assignments"].append(
        {"id": "all", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}
    )
    snapshot = TenantSnapshot.from_document(document)
    targeting = tenant_targeting(snapshot)
    answers = [targeting.effective_profile(d) for d in snapshot.autopilot_devices or ()]
    assert {a.certainty for a in answers} == {Certainty.CERTAIN, Certainty.UNKNOWN}
    for device, answer in zip(snapshot.autopilot_devices or (), answers, strict=True):
        assert answer == plain_effective_profile(targeting, device), device.id


class CountingSet(frozenset[str]):
    """A device set that counts how often it is compared element by element."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountingSet.comparisons += 1
        return frozenset.__eq__(self, other)

    __hash__ = frozenset.__hash__


def test_a_later_evaluations_device_set_is_compared_with_an_earlier_one_at_most_once() -> None:
    ids = [f"device-{index:05}" for index in range(2000)]
    builder = FindingBuilder(METADATA_FOR_TEST)
    subject = Subject("group", "g", "G")
    earlier = CountingSet(ids)
    assert builder.passed(subject, "m", devices=earlier).devices == tuple(sorted(ids))
    # The next evaluation (a long-lived process) builds an equal set of its own.
    later = CountingSet(ids)
    CountingSet.comparisons = 0
    found = [builder.passed(subject, "m", devices=later) for _ in range(50)]
    assert all(finding.devices == tuple(sorted(ids)) for finding in found)
    assert CountingSet.comparisons <= 1


def every_answer_reasons(snapshot: TenantSnapshot) -> list[tuple[str, ...]]:
    view = TenantTargeting(snapshot)
    payloads = [
        *(snapshot.mobile_apps or ()),
        *(snapshot.device_configurations or ()),
        *(snapshot.settings_catalog_policies or ()),
    ]
    return [
        view.device_phase_applicability(payload, profile).reasons
        for profile in snapshot.autopilot_profiles or ()
        for payload in payloads
    ]


def test_remembered_group_counts_match_intersecting_every_time(monkeypatch: Any) -> None:
    snapshot = small_tenant()
    # Every count intersected on the spot, then every count remembered per (group, profile).
    monkeypatch.setattr(applicability, "_COUNT_ONCE", 10**9)
    plain = every_answer_reasons(snapshot)
    monkeypatch.setattr(applicability, "_COUNT_ONCE", 0)
    remembered = every_answer_reasons(snapshot)
    counted = [
        reason for reasons in plain for reason in reasons if reason.startswith("group holds")
    ]
    assert len(set(counted)) > 1
    assert remembered == plain


def test_an_include_answers_each_profile_as_if_asked_alone() -> None:
    # Parts of an include are shared between profiles: answer every profile with a view that
    # has answered the others first, and compare with a fresh view per profile.
    snapshot = small_tenant()
    payloads = [*(snapshot.mobile_apps or ()), *(snapshot.device_configurations or ())]
    shared = TenantTargeting(snapshot)
    for profile in snapshot.autopilot_profiles or ():
        alone = TenantTargeting(snapshot)
        for payload in payloads:
            one = shared.device_phase_applicability(payload, profile)
            other = alone.device_phase_applicability(payload, profile)
            assert (one.verdict, one.reasons, one.filters) == (
                other.verdict,
                other.reasons,
                other.filters,
            )
            assert one.device_reach() == other.device_reach()
