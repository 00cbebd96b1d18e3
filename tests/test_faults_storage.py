"""Storage outages in the middle of processing a change, end to end through the guardrail.

Azurite runs on disk (`tests.azurite.persistent_azurite`), so it can be stopped and started
again with its data. A hook on a real seam stops it between two real storage calls: after the
N-th table transaction of one table (the SDK's `TableClient.submit_transaction`), or just before
the first alert is queued. The attempt raises (the Functions host keeps the message), Azurite
comes back, the host hands the same message over again (dequeue count 2), and then once more as
if its delete had been lost (dequeue count 3). The end state must be exactly one transition and
exactly one `alerts` message, whatever the point of failure.

The storage clients are built with short SDK retries so an outage fails fast; everything else is
the real guardrail (`process_change_text` with real `Services`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import AzureError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import (
    LinearRetry,
    QueueClient,
    QueueMessage,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import (
    ALERTS_QUEUE,
    CHANGES_QUEUE,
    AlertBatch,
    ChangeMessage,
    StorageQueueSender,
)
from monitors.guardrail.settings import read_settings
from monitors.store import keys
from monitors.store.verdict_store import VerdictStore
from tests.azurite import PersistentAzurite, persistent_azurite
from tests.graphsim import GraphSimulator
from tests.test_faults_graph import trimmed_sample
from tests.test_function_support import ALL_DEVICES_GROUP, guardrail_env

# History and runs are read month partition by month partition: look back one day, not years.
SINCE = datetime.now(UTC) - timedelta(days=1)
PAUSE = {
    "format": "greenscreen.tenant-changes/1",
    "changes": [
        {"op": "setGroupRule", "id": ALL_DEVICES_GROUP, "membershipRuleProcessingState": "Paused"}
    ],
}


def fast_queue(azurite: PersistentAzurite, name: str) -> QueueClient:
    return QueueClient.from_connection_string(
        azurite.ports.queue_connection,
        name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
        retry_policy=LinearRetry(backoff=0.05, random_jitter_range=0, retry_total=2),
    )


def services_on(azurite: PersistentAzurite, sim: GraphSimulator) -> Services:
    tenant = str(sim.tenant_snapshot()["tenantId"])
    env = guardrail_env(azurite.ports, [{"tenantId": tenant}], sim.url)
    tables = TableServiceClient.from_connection_string(
        azurite.ports.table_connection, retry_total=2, retry_backoff_factor=0.05
    )
    queues = QueueServiceClient.from_connection_string(
        azurite.ports.queue_connection,
        retry_policy=LinearRetry(backoff=0.05, random_jitter_range=0, retry_total=2),
    )
    store = VerdictStore(tables)
    store.ensure_tables()
    mirror = TenantMirror(tables)
    mirror.ensure_table()
    for name in (CHANGES_QUEUE, ALERTS_QUEUE):
        fast_queue(azurite, name).create_queue()
    return Services(read_settings(env), store, mirror, StorageQueueSender(queues))


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[PersistentAzurite]:
    with persistent_azurite(tmp_path / "azurite") as azurite:
        yield azurite


def receive(azurite: PersistentAzurite, queue: str) -> list[QueueMessage]:
    return list(fast_queue(azurite, queue).receive_messages(max_messages=32, visibility_timeout=60))


def alert_texts(azurite: PersistentAzurite) -> list[str]:
    """Every message on `alerts`, read and deleted."""
    client = fast_queue(azurite, ALERTS_QUEUE)
    texts = []
    for message in receive(azurite, ALERTS_QUEUE):
        texts.append(str(message.content))
        client.delete_message(message)
    return texts


def host_delivers(azurite: PersistentAzurite, services: Services) -> tuple[QueueMessage, Any]:
    """The queue trigger: take the one `changes` message and run the handler with its count."""
    (message,) = receive(azurite, CHANGES_QUEUE)
    return message, process_change_text(services, str(message.content), message.dequeue_count)


def stop_after_transaction(
    monkeypatch: pytest.MonkeyPatch, azurite: PersistentAzurite, table: str, nth: int
) -> Callable[[], int]:
    """Stop Azurite right after the `nth` transaction on `table` succeeded (once)."""
    original = TableClient.submit_transaction
    seen = [0]

    def submit_transaction(self: TableClient, operations: Any, **kwargs: Any) -> Any:
        result = original(self, operations, **kwargs)
        if self.table_name == table:
            seen[0] += 1
            if seen[0] == nth:
                azurite.stop()
        return result

    monkeypatch.setattr(TableClient, "submit_transaction", submit_transaction)
    return lambda: seen[0]


def stop_before_first_alert(
    monkeypatch: pytest.MonkeyPatch, azurite: PersistentAzurite
) -> Callable[[], int]:
    """Stop Azurite when the first alert is about to be queued (transitions all recorded)."""
    original = StorageQueueSender.send
    seen = [0]

    def send(self: StorageQueueSender, queue: str, text: str) -> None:
        if queue == ALERTS_QUEUE:
            seen[0] += 1
            if seen[0] == 1:
                azurite.stop()
        original(self, queue, text)

    monkeypatch.setattr(StorageQueueSender, "send", send)
    return lambda: seen[0]


STOP_POINTS: dict[str, Callable[[pytest.MonkeyPatch, PersistentAzurite], Callable[[], int]]] = {
    # The changed verdict rows are written under an uncommitted sequence number; no commit.
    "after-state-rows-before-commit": lambda mp, az: stop_after_transaction(
        mp, az, keys.STATE_TABLE, 1
    ),
    # Committed; the transitions are written but not the run record nor the end of the note.
    "after-transitions-before-run-record": lambda mp, az: stop_after_transaction(
        mp, az, keys.TRANSITIONS_TABLE, 1
    ),
    # Everything recorded; no alert queued yet.
    "after-commit-before-alert": stop_before_first_alert,
}


@pytest.mark.parametrize("stop_point", list(STOP_POINTS))
def test_storage_outage_in_the_middle_of_a_change_alerts_exactly_once(
    stop_point: str, outage: PersistentAzurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GraphSimulator(trimmed_sample(), seed=3) as sim:
        services = services_on(outage, sim)
        tenant = str(sim.tenant_snapshot()["tenantId"])
        sender = services.require_sender()

        # Baseline: a full evaluation, nothing to alert.
        sender.send(CHANGES_QUEUE, ChangeMessage.create(tenant, "manual", "full").to_text())
        message, outcome = host_delivers(outage, services)
        fast_queue(outage, CHANGES_QUEUE).delete_message(message)
        assert outcome.outcome == "committed"
        assert alert_texts(outage) == []

        # The breaking change: the Autopilot devices group's rule is paused.
        sim.apply_changes(PAUSE)
        change = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP})
        sender.send(CHANGES_QUEUE, change.to_text())

        # Attempt 1: Azurite stops at the stop point; the handler raises, the host keeps it.
        fired = STOP_POINTS[stop_point](monkeypatch, outage)
        (taken,) = receive(outage, CHANGES_QUEUE)
        with pytest.raises(AzureError):
            process_change_text(services, str(taken.content), taken.dequeue_count)
        monkeypatch.undo()
        assert fired() == 1
        assert not outage.running
        outage.start()

        # The host releases the message for another attempt (its visibility timeout, here 0 s).
        changes = fast_queue(outage, CHANGES_QUEUE)
        changes.update_message(taken, visibility_timeout=0)
        message, outcome = host_delivers(outage, services)
        assert message.dequeue_count == 2
        alerts = [a for text in alert_texts(outage) for a in AlertBatch.from_text(text).alerts]
        assert [
            (a.transition["ruleId"], a.transition["from"], a.transition["to"]) for a in alerts
        ] == [("GRP-002", "pass", "fail")]
        # The host's delete is lost: attempt 3 of the same message changes nothing.
        changes.update_message(message, visibility_timeout=0)
        message, outcome = host_delivers(outage, services)
        assert message.dequeue_count == 3
        assert outcome.transitions == ()
        assert outcome.alerts_enqueued == 0
        changes.delete_message(message)
        assert alert_texts(outage) == []
        assert list(changes.peek_messages()) == []

        # Exactly the one transition, recorded by this change's run, and the verdict it left.
        history = services.store.history(tenant, since=SINCE, page_size=1000).items
        assert [(t.record.rule_id, t.from_status, t.to_status.value) for t in history] == [
            ("GRP-002", "pass", "fail")
        ]
        assert history[0].run_id == f"change-{change.id}"
        assert alerts[0].transition["runId"] == history[0].run_id
        state = services.store.current_state(tenant)
        paused = [
            v.record.status.value
            for v in state.verdicts
            if v.record.rule_id == "GRP-002" and v.record.subject_id == ALL_DEVICES_GROUP
        ]
        assert paused == ["fail"]
        runs = services.store.runs(tenant, since=SINCE, page_size=1000).items
        assert sum(r.transitions for r in runs if r.run_id == history[0].run_id) == 1
        assert outage.starts == 2
