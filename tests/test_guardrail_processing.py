"""process_change at the seam below the trigger: what it reads from Graph, what it writes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitors.graph.client import GraphError, RetryPolicy
from monitors.guardrail.change_processing import ChangeOutcome
from monitors.guardrail.composition import Services, handle_poisoned_change, process_change_text
from monitors.guardrail.queues import (
    ALERTS_QUEUE,
    CHANGES_QUEUE,
    AlertBatch,
    ChangeMessage,
    QueueSender,
)
from rules import tenant_collections as tc
from rules.catalog import all_rules
from rules.engine import Rule, evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    drain,
    empty_queues,  # noqa: F401 - fixture
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)

CHANGE_FORMAT = "greenscreen.tenant-changes/1"
SCRIPT = "8a9c5f52-f48d-5528-a3b6-fb3a21252bde"  # "Regional settings"
DEVICE = "f93bd3f7-0c48-5b16-97e5-fc30ecc471eb"
NEW_GROUP = "c0ffee00-0000-4000-8000-000000000001"
PAUSE = {
    "format": CHANGE_FORMAT,
    "changes": [
        {"op": "setGroupRule", "id": ALL_DEVICES_GROUP, "membershipRuleProcessingState": "Paused"}
    ],
}


def rules_named(*ids: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in all_rules() if rule.metadata.id in ids)


def process(services: Services, message: ChangeMessage) -> ChangeOutcome:  # noqa: F811
    outcome = process_change_text(services, message.to_text())
    assert isinstance(outcome, ChangeOutcome)
    return outcome


def read_baseline(services: Services, tenant: str) -> None:  # noqa: F811
    process(services, ChangeMessage.create(tenant, "manual", "full"))


def requests(sim: GraphSimulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.request_log if r.path != "$batch"]


def test_change_for_a_tenant_never_read_falls_back_to_a_full_read(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    )
    outcome = process(services, message)
    assert set(outcome.touched) == set(tc.ALL_COLLECTIONS)
    assert services.mirror.get_object(tenant, tc.PLATFORM_SCRIPTS, SCRIPT) is not None


def test_app_assigned_to_a_new_assigned_group_reads_app_group_and_members_only(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {
                    "op": "add",
                    "collection": tc.GROUPS,
                    "object": {
                        "id": NEW_GROUP,
                        "displayName": "Kiosk devices",
                        "groupTypes": [],
                        "securityEnabled": True,
                        "mailEnabled": False,
                    },
                },
                {
                    "op": "addAssignment",
                    "collection": tc.PLATFORM_SCRIPTS,
                    "id": SCRIPT,
                    "assignment": {
                        "target": {
                            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                            "groupId": NEW_GROUP,
                        }
                    },
                },
            ],
        }
    )
    simulator.clear_log()
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    )
    outcome = process(services, message)
    assert requests(simulator) == [
        f"GET {tc.PLATFORM_SCRIPTS}/{SCRIPT}",
        f"GET groups/{NEW_GROUP}",
        f"GET groups/{NEW_GROUP}/members",
    ]
    assert set(outcome.touched) == {tc.PLATFORM_SCRIPTS, tc.GROUPS}
    group = services.mirror.get_object(tenant, tc.GROUPS, NEW_GROUP)
    assert group is not None
    assert group["members"] == []


def test_deleted_intune_object_is_removed_from_the_mirror(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [{"op": "remove", "collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}],
        }
    )
    simulator.clear_log()
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    )
    outcome = process(services, message)
    # The read, then the second look that confirms the 404 as a deletion.
    assert outcome.outcome == "committed"
    assert requests(simulator) == [f"GET {tc.PLATFORM_SCRIPTS}/{SCRIPT}"] * 2
    assert services.mirror.get_object(tenant, tc.PLATFORM_SCRIPTS, SCRIPT) is None


def test_device_removed_from_entra_is_forgotten_after_one_request(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [{"op": "remove", "collection": tc.DEVICES, "id": DEVICE}],
        }
    )
    simulator.clear_log()
    process(services, ChangeMessage.create(tenant, "delta", "device", {"ids": [DEVICE]}))
    assert requests(simulator) == ["GET devices"]
    assert services.mirror.get_object(tenant, tc.DEVICES, DEVICE) is None


def verdicts(services: Services, tenant: str) -> dict[tuple[str, str], str]:  # noqa: F811
    """The recorded verdicts: what fails, is unknown, manual or resolved (passes are counted)."""
    return {
        (v.record.rule_id, v.record.subject_id): v.record.status.value
        for v in services.store.current_state(tenant).verdicts
    }


def status(services: Services, tenant: str, rule_id: str, subject_id: str) -> str | None:  # noqa: F811
    """A subject's status: its record, else `pass` when the rule was recorded (passes are
    counted per rule and scope, not stored per subject), else None (never evaluated)."""
    state = services.store.current_state(tenant)
    for verdict in state.verdicts:
        if (verdict.record.rule_id, verdict.record.subject_id) == (rule_id, subject_id):
            return verdict.record.status.value
    return "pass" if any(count.rule_id == rule_id for count in state.passing) else None


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "malformed", "forbidden"])
def test_graph_outage_on_an_incremental_read_makes_its_rules_unknown_never_pass(
    kind: str,
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    """A group change whose re-read fails (429/503 past the retries, truncated JSON, 403): the
    verdicts the change breaks are UNKNOWN (not PASS) through recorded transitions with their
    alerts, and the error is raised so the queue tries the change again; when Graph is back,
    the retry records the real verdicts."""
    tenant = tenant_of(simulator)
    quick = replace(services, graph_retry=RetryPolicy(max_retries=1, base_delay_s=0.0))
    read_baseline(quick, tenant)
    assert status(quick, tenant, "GRP-002", ALL_DEVICES_GROUP) == "pass"
    simulator.apply_changes(PAUSE)
    fault = Fault(path=rf"^groups/{ALL_DEVICES_GROUP}", kind=kind, times=None, retry_after=0)  # type: ignore[arg-type]
    simulator.add_fault(fault)
    message = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    with pytest.raises(GraphError):
        process_change_text(quick, message.to_text())
    blind = verdicts(quick, tenant)
    assert blind[("GRP-002", ALL_DEVICES_GROUP)] == "unknown"
    alerts = [a for t in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(t).alerts]
    assert ("GRP-002", "pass", "unknown") in {
        (a.transition["ruleId"], a.transition["from"], a.transition["to"]) for a in alerts
    }
    assert {a.transition["to"] for a in alerts} == {"unknown"}  # nothing else moved

    simulator.clear_faults()
    outcome = process(quick, message)  # the queue's next attempt
    broken = {(t.record.rule_id, t.record.subject_id) for t in outcome.transitions}
    assert ("GRP-002", ALL_DEVICES_GROUP) in broken
    # Nothing the change broke was PASS while Graph was out.
    failing = {
        (t.record.rule_id, t.record.subject_id)
        for t in outcome.transitions
        if t.to_status.value == "fail"
    }
    assert failing
    # (A subject without a record during the outage would have stayed silently green.)
    assert {blind.get(key) for key in failing} == {"unknown"}
    after = verdicts(quick, tenant)
    assert "unknown" not in {after.get(key) for key in broken}  # no record: back to pass


PILOT_DEVICES = (
    "a4a6e234-f511-5909-9260-dace38c912b9"  # assigned group "Windows Update - Pilot devices"
)
PILOT_RING = "89cd279e-e758-5a8f-b319-386bcc443fbc"  # "Windows Update ring - Pilot", assigned to it


def test_an_unreadable_group_makes_the_passes_its_members_decide_unknown_then_pass_again(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    """A change of an assigned group that cannot be re-read (403): the update ring assigned to
    it passed CFG-001 (no records: passes are counted) and names no group in its
    findings; what its verdicts are now depends on the group's members, which are unknown. The
    rules, run over the mirror with the group's members unread, say so: each becomes UNKNOWN
    through a recorded transition from `pass`, with its alert. When Graph answers again, they go
    back to pass: transitions from `unknown`, and no record is left."""
    tenant = tenant_of(simulator)
    quick = replace(services, graph_retry=RetryPolicy(max_retries=0, base_delay_s=0.0))
    read_baseline(quick, tenant)
    drain(azurite, ALERTS_QUEUE)
    assert not [k for k in verdicts(quick, tenant) if k == ("CFG-001", PILOT_RING)]
    assert status(quick, tenant, "CFG-001", PILOT_RING) == "pass"

    simulator.add_fault(Fault(path=rf"^groups/{PILOT_DEVICES}", kind="forbidden", times=None))
    message = ChangeMessage.create(tenant, "delta", "group", {"id": PILOT_DEVICES})
    with pytest.raises(GraphError):
        process_change_text(quick, message.to_text())
    blind = [
        v.record
        for v in quick.store.current_state(tenant).verdicts
        if (v.record.rule_id, v.record.subject_id) == ("CFG-001", PILOT_RING)
    ]
    assert len(blind) >= 2  # one per pre-provisioning profile the group's devices may be in
    assert {r.status.value for r in blind} == {"unknown"}
    assert all("members of" in " ".join(r.reasons) for r in blind)  # the rule's own reason
    alerts = [a for t in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(t).alerts]
    moved = {
        ((a.transition["scope"] or {}).get("profileId"), a.transition["from"], a.transition["to"])
        for a in alerts
        if (a.transition["ruleId"], a.transition["subject"]["id"]) == ("CFG-001", PILOT_RING)
    }
    assert moved == {(r.scope_id, "pass", "unknown") for r in blind}

    simulator.clear_faults()
    outcome = process(quick, message)  # the queue's next attempt
    back = {
        (t.record.scope_id, t.from_status.value if t.from_status else None, t.to_status.value)
        for t in outcome.transitions
        if (t.record.rule_id, t.record.subject_id) == ("CFG-001", PILOT_RING)
    }
    # Where the ring was judged before, it passes again; a profile it was not judged in before
    # (its verdict there existed only while the members were unknown) is resolved.
    judged = {
        f.scope.profile_id if f.scope else ""
        for f in evaluate_snapshot(
            TenantSnapshot.from_document(simulator.tenant_snapshot()), rules_named("CFG-001")
        ).findings
        if f.subject.id == PILOT_RING and f.status.value == "pass"
    }
    assert judged
    assert back == {
        (r.scope_id, "unknown", "pass" if r.scope_id in judged else "resolved") for r in blind
    }
    after = [
        v.record
        for v in quick.store.current_state(tenant).verdicts
        if (v.record.rule_id, v.record.subject_id) == ("CFG-001", PILOT_RING)
    ]
    assert {r.scope_id for r in after} == {r.scope_id for r in blind} - judged
    assert {r.status.value for r in after} <= {"resolved"}


def test_one_transient_404_is_not_a_deletion(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    """Graph answers 404 once for a group that exists: the second look finds it, the group stays
    in the mirror, no transition, no alert."""
    tenant = tenant_of(simulator)
    quick = replace(services, confirm_delay_s=0.0)
    read_baseline(quick, tenant)
    simulator.add_fault(Fault(path=rf"^groups/{ALL_DEVICES_GROUP}$", kind="not_found", times=1))
    message = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    outcome = process(quick, message)
    assert outcome.transitions == ()
    assert quick.mirror.get_object(tenant, tc.GROUPS, ALL_DEVICES_GROUP) is not None
    assert drain(azurite, ALERTS_QUEUE) == []


def test_a_deleted_notification_is_a_deletion_without_a_second_look(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    quick = replace(services, confirm_delay_s=0.0)
    read_baseline(quick, tenant)
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [{"op": "remove", "collection": tc.GROUPS, "id": ALL_DEVICES_GROUP}],
        }
    )
    simulator.clear_log()
    message = ChangeMessage.create(
        tenant, "notification", "group", {"id": ALL_DEVICES_GROUP, "changeType": "deleted"}
    )
    process(quick, message)
    assert requests(simulator) == [f"GET groups/{ALL_DEVICES_GROUP}"]
    assert quick.mirror.get_object(tenant, tc.GROUPS, ALL_DEVICES_GROUP) is None


def test_a_poisoned_change_queues_a_full_read_of_its_tenant(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    poisoned = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    reread = handle_poisoned_change(services, poisoned.to_text())
    assert reread is not None
    (queued,) = [ChangeMessage.from_text(t) for t in drain(azurite, CHANGES_QUEUE)]
    assert (queued.tenant_id, queued.kind, queued.id) == (tenant, "full", reread.id)
    assert handle_poisoned_change(services, b"not json") is None


def test_malformed_or_foreign_tenant_messages_are_dropped_not_retried(
    services: Services,  # noqa: F811
) -> None:
    assert process_change_text(services, b'{"tenantId": "x"}') is None
    foreign = ChangeMessage.create("99999999-0000-0000-0000-000000000000", "manual", "full")
    assert process_change_text(services, foreign.to_text()) is None


class AlertsUnreachable:
    """Delivers `changes`, fails on `alerts`: a crash between recording and alerting."""

    def __init__(self, inner: QueueSender) -> None:
        self._inner = inner

    def send(self, queue: str, text: str) -> None:
        if queue == ALERTS_QUEUE:
            raise ConnectionError("alerts queue unreachable")
        self._inner.send(queue, text)


def test_redelivery_after_a_crash_before_alerting_queues_the_recorded_alert(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": "Paused",
                }
            ],
        }
    )
    message = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    assert services.sender is not None
    crashing = replace(services, sender=AlertsUnreachable(services.sender))
    with pytest.raises(ConnectionError):
        process_change_text(crashing, message.to_text())
    assert drain(azurite, ALERTS_QUEUE) == []

    process_change_text(services, message.to_text(), dequeue_count=2)
    (alert,) = [a for t in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(t).alerts]
    assert (alert.transition["ruleId"], alert.transition["to"]) == ("GRP-002", "fail")
    process_change_text(services, message.to_text(), dequeue_count=3)
    # The run's alerts are noted as queued: a further redelivery queues nothing (issue 8).
    assert drain(azurite, ALERTS_QUEUE) == []


def test_a_reconcile_in_the_same_second_as_an_incremental_run_is_recorded(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    """An incremental run at 12:00:00.400, then a full read at 12:00:00.900: the full read is
    the newer snapshot (its time keeps its fraction of a second) and its verdicts count."""
    from datetime import UTC, datetime

    tenant = tenant_of(simulator)
    current = [datetime(2026, 12, 3, 11, 0, tzinfo=UTC)]
    timed = replace(services, clock=lambda: current[0])
    read_baseline(timed, tenant)
    simulator.apply_changes(PAUSE)
    current[0] = datetime(2026, 12, 3, 12, 0, 0, 400_000, tzinfo=UTC)
    process(timed, ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP}))
    assert verdicts(timed, tenant)[("GRP-002", ALL_DEVICES_GROUP)] == "fail"
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": "On",
                }
            ],
        }
    )
    current[0] = datetime(2026, 12, 3, 12, 0, 0, 900_000, tzinfo=UTC)
    outcome = process(timed, ChangeMessage.create(tenant, "reconcile", "full", discriminator="b"))
    assert outcome.outcome == "committed"
    assert status(timed, tenant, "GRP-002", ALL_DEVICES_GROUP) == "pass"


def test_the_collector_is_paused_while_a_change_records_and_resumed_even_when_it_raises(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CPU-heavy part of a change runs with the cyclic collector off (it would walk the
    kept model and mirror copy for nothing), and the collector is on again afterwards: after
    a normal change and after one whose recording raised."""
    import gc

    from monitors.store.verdict_store import VerdictStore

    tenant = tenant_of(simulator)
    assert gc.isenabled()
    read_baseline(services, tenant)
    assert gc.isenabled()  # resumed after a change that returned

    seen: list[bool] = []

    def failing_record(self: VerdictStore, *args: object, **kwargs: object) -> None:
        seen.append(gc.isenabled())
        raise RuntimeError("storage went away")

    monkeypatch.setattr(VerdictStore, "record_evaluation", failing_record)
    message = ChangeMessage.create(tenant, "manual", "full")
    with pytest.raises(RuntimeError, match="storage went away"):
        process_change_text(services, message.to_text())
    assert seen == [False]  # paused while recording
    assert gc.isenabled()  # and resumed although the change raised


def _all_gauges(store: object, tenant: str) -> dict[tuple[str, str, str], float]:
    """Every readiness gauge `record_readiness` sets: (metric, profile id, profile name)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

    from monitors.telemetry import names
    from monitors.telemetry.evaluation import record_readiness
    from monitors.telemetry.instruments import use_providers

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    use_providers(None, provider)
    try:
        record_readiness(tenant, store)  # type: ignore[arg-type]
        data = reader.get_metrics_data()
    finally:
        use_providers(None, None)
        provider.shutdown()
    wanted = (names.METRIC_READINESS, names.METRIC_READINESS_BLOCKING)
    return {
        (
            metric.name,
            str(dict(point.attributes or {})[names.PROFILE_ID]),
            str(dict(point.attributes or {})[names.PROFILE_NAME]),
        ): point.value
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name in wanted
        for point in metric.data.data_points
        if isinstance(point, NumberDataPoint)
        and dict(point.attributes or {})[names.TENANT_ID] == tenant
    }


def test_the_readiness_gauges_after_changes_equal_those_of_a_whole_read(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    """After each change with a transition the gauges come from the instance's kept state
    (no state row read); they equal what the gauges say from a whole read of the state."""
    from monitors.store.verdict_store import VerdictStore

    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    resume = {
        "format": CHANGE_FORMAT,
        "changes": [
            {"op": "setGroupRule", "id": ALL_DEVICES_GROUP, "membershipRuleProcessingState": "On"}
        ],
    }
    message = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
    seen: list[dict[tuple[str, str, str], float]] = []
    for change in (PAUSE, resume, PAUSE):
        simulator.apply_changes(change)
        outcome = process(services, replace(message, id=f"{message.id}-{len(seen)}"))
        assert outcome.transitions
        kept = _all_gauges(services.store, tenant)
        assert services.store.last_state_read == 0  # the kept state, not a read
        whole = _all_gauges(VerdictStore(services.store._service, kept_states=0), tenant)
        assert kept == whole
        seen.append(kept)
    assert seen[0] != seen[1]  # the changes did move the gauges
