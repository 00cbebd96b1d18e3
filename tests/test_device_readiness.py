"""Per-device readiness: the profile each device gets, the groups holding it, its blockers."""

from __future__ import annotations

from rules.applicability import Certainty
from rules.device_readiness import DeviceReadiness, Readiness, device_readiness, readiness_of
from rules.findings import Finding, Severity, Status, Subject
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS
from tests.tenant_builder import (
    AP_GROUP_ID,
    AP_GROUP_NAME,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    PROFILE_ID,
    PROFILE_NAME,
    assigned_group,
    autopilot_profile,
    device_member,
    healthy_tenant,
    include_group,
)

NEWER_PROFILE_ID = "prf-newer"
NEWER_PROFILE_NAME = "Newer profile"
ONLY_A_GROUP_ID = "grp-only-device-a"


def by_id(readiness: tuple[DeviceReadiness, ...]) -> dict[str, DeviceReadiness]:
    return {device.device_id: device for device in readiness}


def failing(rule_id: str, devices: tuple[str, ...], severity: Severity = Severity.ERROR) -> Finding:
    return Finding(
        rule_id=rule_id,
        status=Status.FAIL,
        severity=severity,
        subject=Subject("group", AP_GROUP_ID, AP_GROUP_NAME),
        message=f"{rule_id} fails",
        devices=devices,
    )


def test_device_targeted_by_one_profile_gets_it_and_is_green() -> None:
    snapshot = healthy_tenant().snapshot()

    devices = by_id(device_readiness(snapshot, ()))
    device = devices[DEVICE_A_ID]

    assert device.profile_id == PROFILE_ID
    assert device.profile_certainty is Certainty.CERTAIN
    assert [g.group_id for g in device.groups] == [AP_GROUP_ID]
    assert device.blockers == ()
    assert device.readiness is Readiness.GREEN


def test_device_targeted_by_two_profiles_gets_the_oldest() -> None:
    tenant = healthy_tenant().add(
        AUTOPILOT_PROFILES,
        autopilot_profile(
            NEWER_PROFILE_ID,
            NEWER_PROFILE_NAME,
            assignments=[include_group(AP_GROUP_ID)],
            created="2025-06-01T09:00:00Z",
        ),
    )

    device = by_id(device_readiness(tenant.snapshot(), ()))[DEVICE_A_ID]

    assert device.profile_name == PROFILE_NAME
    assert device.competing_profiles == (NEWER_PROFILE_NAME,)


def test_device_no_profile_targets_is_red_with_a_device_fact() -> None:
    tenant = (
        healthy_tenant()
        .add(
            GROUPS,
            assigned_group(ONLY_A_GROUP_ID, "Only A", [device_member(DEVICE_A_ENTRA_OBJECT_ID)]),
        )
        .assign(AUTOPILOT_PROFILES, PROFILE_ID, include_group(ONLY_A_GROUP_ID))
    )

    devices = by_id(device_readiness(tenant.snapshot(), ()))
    orphan = devices[DEVICE_B_ID]

    assert orphan.profile_id is None
    assert orphan.readiness is Readiness.RED
    assert any("no Autopilot profile" in b.message for b in orphan.blockers)
    assert devices[DEVICE_A_ID].readiness is Readiness.GREEN


def test_failing_finding_naming_a_device_blocks_only_that_device() -> None:
    snapshot = healthy_tenant().snapshot()

    devices = by_id(device_readiness(snapshot, (failing("GRP-002", (DEVICE_B_ID,)),)))

    assert [b.rule_id for b in devices[DEVICE_B_ID].blockers] == ["GRP-002"]
    assert devices[DEVICE_B_ID].readiness is Readiness.RED
    assert devices[DEVICE_A_ID].readiness is Readiness.GREEN


def test_failing_finding_below_the_threshold_is_listed_but_does_not_turn_the_device_red() -> None:
    snapshot = healthy_tenant().snapshot()
    warning = failing("DEV-009", (DEVICE_A_ID,), Severity.WARNING)

    device = by_id(device_readiness(snapshot, (warning,), Severity.ERROR))[DEVICE_A_ID]

    assert [b.rule_id for b in device.blockers] == ["DEV-009"]
    assert device.readiness is Readiness.GREEN


def test_device_without_an_assigned_profile_yet_is_red() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_A_ID, deploymentProfileAssignmentStatus="notAssigned"
    )

    device = by_id(device_readiness(tenant.snapshot(), ()))[DEVICE_A_ID]

    assert device.readiness is Readiness.RED
    assert any("notAssigned" in b.message for b in device.blockers)


def test_unreadable_autopilot_devices_give_no_device_rows() -> None:
    snapshot = healthy_tenant().unreadable(AUTOPILOT_DEVICES).snapshot()

    assert device_readiness(snapshot, ()) == ()


def test_unknown_at_the_threshold_is_never_green() -> None:
    assert readiness_of([(Status.UNKNOWN, Severity.ERROR)], Severity.ERROR) is Readiness.UNKNOWN
    assert readiness_of([(Status.UNKNOWN, Severity.INFO)], Severity.ERROR) is Readiness.GREEN
    assert (
        readiness_of(
            [(Status.UNKNOWN, Severity.ERROR), (Status.FAIL, Severity.BLOCKER)], Severity.ERROR
        )
        is Readiness.RED
    )


def test_blockers_from_shared_and_own_findings_keep_report_order() -> None:
    # Findings sharing one large device tuple and findings naming one device are grouped apart
    # internally; each device still lists every blocker once per naming, in report order.
    snapshot = healthy_tenant().snapshot()
    shared = (DEVICE_A_ID, DEVICE_B_ID)
    both = (DEVICE_B_ID, DEVICE_A_ID)
    findings = [
        *(
            failing(f"SHR-{index:03d}", shared, (Severity.WARNING, Severity.BLOCKER)[index % 2])
            for index in range(20)
        ),
        failing("OWN-002", (DEVICE_A_ID,), Severity.BLOCKER),
        failing("OWN-001", (DEVICE_A_ID, DEVICE_A_ID), Severity.WARNING),
        *(failing(f"TWO-{index:03d}", both) for index in range(17)),
        unknown_finding("UNK-001", (DEVICE_B_ID,)),
    ]

    devices = by_id(device_readiness(snapshot, findings, Severity.ERROR))

    for device_id, device in devices.items():
        expected = sorted(
            (f for f in findings for named in f.devices if named == device_id),
            key=lambda f: (0 if f.status is Status.FAIL else 1, -f.severity.rank, f.rule_id),
        )
        listed = [b.rule_id for b in device.blockers if b.rule_id is not None]
        assert listed == [f.rule_id for f in expected]
    assert devices[DEVICE_A_ID].readiness is Readiness.RED
    assert devices[DEVICE_B_ID].readiness is Readiness.RED


def test_readiness_of_ordered_blockers_agrees_with_readiness_of() -> None:
    snapshot = healthy_tenant().snapshot()
    cases = [
        [],
        [failing("W-001", (DEVICE_A_ID,), Severity.WARNING)],
        [unknown_finding("U-001", (DEVICE_A_ID,), Severity.ERROR)],
        [unknown_finding("U-002", (DEVICE_A_ID,), Severity.INFO)],
        [
            failing("W-002", (DEVICE_A_ID,), Severity.WARNING),
            unknown_finding("U-003", (DEVICE_A_ID,), Severity.BLOCKER),
        ],
    ]
    for findings in cases:
        for threshold in Severity:
            device = by_id(device_readiness(snapshot, findings, threshold))[DEVICE_A_ID]
            verdicts = [(b.status, b.severity) for b in device.blockers]
            assert device.readiness is readiness_of(verdicts, threshold)


def unknown_finding(
    rule_id: str, devices: tuple[str, ...], severity: Severity = Severity.ERROR
) -> Finding:
    return Finding(
        rule_id=rule_id,
        status=Status.UNKNOWN,
        severity=severity,
        subject=Subject("group", AP_GROUP_ID, AP_GROUP_NAME),
        message=f"{rule_id} is unknown",
        devices=devices,
    )
