"""process_change at the seam below the trigger: what it reads from Graph, what it writes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitors.change_processing import ChangeOutcome
from monitors.graph.client import GraphError
from monitors.guardrail import Services, process_change_text
from monitors.queues import ALERTS_QUEUE, AlertBatch, ChangeMessage, QueueSender
from rules import tenant_collections as tc
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
    assert (outcome.outcome, len(requests(simulator))) == ("committed", 1)
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


def test_graph_failure_raises_so_the_queue_redelivers_and_nothing_is_recorded(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    runs_before = services.store.runs(tenant).items
    simulator.add_fault(Fault(path="deviceManagementScripts", kind="forbidden", times=None))
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    )
    with pytest.raises(GraphError):
        process_change_text(services, message.to_text())
    assert services.store.runs(tenant).items == runs_before
    assert drain(azurite, ALERTS_QUEUE) == []


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
