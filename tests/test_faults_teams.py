"""Teams unreachable for a long time, end to end: `alerts` queue → the `send_alert` function →
a local webhook receiver that refuses connections or answers 503, then comes back.

A small stand-in for the Functions host takes each message from the real queue (Azurite),
calls the real handler, makes a failed message visible again and, at host.json's
`maxDequeueCount`, moves it to `alerts-poison`. Each invocation posts with the real
`WebhookPoster` (its retry waits made short). Then `greenscreen alerts replay` posts each
undelivered alert once; a second replay and a redelivery of the original messages post nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from monitors.alerts import wiring
from monitors.alerts.delivery import AlertUndeliverable, RetryPolicy
from monitors.alerts.ledger import DeliveryState, TableAlertLedger
from monitors.cli import main as greenscreen
from monitors.guardrail.queues import ALERTS_QUEUE, AlertMessage
from monitors.store.keys import format_time, key_part
from monitors.store.records import StoredStatus, Transition, VerdictRecord
from tests.azurite import Azurite
from tests.test_function_support import drain, reset_function_app, user_function

HOST = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())
MAX_DEQUEUE = int(HOST["extensions"]["queues"]["maxDequeueCount"])
POISON_QUEUE = f"{ALERTS_QUEUE}-poison"
SHORT = RetryPolicy(
    max_attempts=3,
    budget_seconds=5.0,
    first_backoff_seconds=0.01,
    max_backoff_seconds=0.05,
    connect_timeout_seconds=1.0,
    read_timeout_seconds=2.0,
)


class Webhook:
    """A Teams Workflows stand-in on a fixed port: down (nothing listens: connection refused),
    or up answering `status` to every POST; it counts what it was sent."""

    def __init__(self) -> None:
        # Hold the port without listening: connections are refused until `up()`.
        self._placeholder: socket.socket | None = socket.socket()
        self._placeholder.bind(("127.0.0.1", 0))
        self.port = int(self._placeholder.getsockname()[1])
        self.status = 202
        self.bodies: list[dict[str, Any]] = []
        self.answered: list[int] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/workflows/ops/triggers/manual/paths/invoke?sig=s3cr3t"

    def up(self, status: int) -> None:
        self.status = status
        if self._server is not None:
            return
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                webhook.answered.append(webhook.status)
                if webhook.status < 300:
                    webhook.bodies.append(json.loads(body))
                self.send_response(webhook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.start()

    def close(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    running = Webhook()
    yield running
    running.close()


@pytest.fixture
def alerting(
    azurite: Azurite, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TableAlertLedger]:
    """The function app's alert settings, aimed at the webhook; its retry waits made short."""
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("GREENSCREEN_QUEUES", azurite.queue_connection)
    monkeypatch.setenv("GREENSCREEN_HISTORY_BASE_URL", "https://greenscreen.example.org")
    monkeypatch.setenv("TEAMS_OPS_WEBHOOK", webhook.url)
    monkeypatch.setenv(
        "GREENSCREEN_ALERT_ROUTES",
        json.dumps(
            [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "error"}]
        ),
    )
    monkeypatch.setattr(wiring, "RetryPolicy", lambda: SHORT)
    reset_function_app()
    for name in (ALERTS_QUEUE, POISON_QUEUE):
        drain(azurite, name)
    yield TableAlertLedger(TableServiceClient.from_connection_string(azurite.table_connection))
    for name in (ALERTS_QUEUE, POISON_QUEUE):
        drain(azurite, name)
    reset_function_app()


def alert_messages(tenant: str) -> list[AlertMessage]:
    """Two transitions of one tenant: a new failure and a rule gone blind."""
    at = datetime.now(UTC).replace(microsecond=0)
    record = VerdictRecord(
        rule_id="APP-013",
        rule_version=1,
        scope_id="",
        scope_name="",
        subject_type="mobileApp",
        subject_id=str(uuid.uuid4()),
        subject_name="Microsoft 365 Apps",
        status=StoredStatus.FAIL,
        severity="error",
        message="required for users, on the ESP blocking list",
        reasons=("assigned to a user group",),
        first_seen=at,
        last_changed=at,
    )
    blind = replace(record, rule_id="ESP-003", status=StoredStatus.UNKNOWN, message="blind")
    return [
        AlertMessage.for_transition(
            Transition(tenant, at, "change-1", 7, StoredStatus.PASS, r.status, r)
        )
        for r in (record, blind)
    ]


def run_host(azurite: Azurite) -> dict[str, int]:
    """Deliver every `alerts` message the way the Functions host does; count the outcomes."""
    alerts, poison = queue_client(azurite, ALERTS_QUEUE), queue_client(azurite, POISON_QUEUE)
    counts = {"invocations": 0, "failed": 0, "poisoned": 0, "completed": 0}
    while True:
        taken = list(alerts.receive_messages(max_messages=32, visibility_timeout=60))
        if not taken:
            return counts
        for message in taken:
            counts["invocations"] += 1
            trigger = func.QueueMessage(
                id=message.id, body=str(message.content).encode(), pop_receipt=message.pop_receipt
            )
            try:
                user_function("send_alert")(trigger)
            except AlertUndeliverable:
                counts["failed"] += 1
                if message.dequeue_count >= MAX_DEQUEUE:
                    poison.send_message(str(message.content))
                    alerts.delete_message(message)
                    counts["poisoned"] += 1
                else:  # visible again after the host's visibility timeout (0 s here)
                    alerts.update_message(message, visibility_timeout=0)
                continue
            alerts.delete_message(message)
            counts["completed"] += 1


def queue_client(azurite: Azurite, name: str) -> QueueClient:
    """Base64 both ways, as the Functions host reads and the guardrail writes (an update that
    keeps the content re-sends it, so the encoding matters there too)."""
    client = QueueClient.from_connection_string(
        azurite.queue_connection,
        name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
    )
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def replay(tenant: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = greenscreen(["alerts", "replay", "--tenant", tenant])
    return code, out.getvalue()


@pytest.mark.parametrize("outage", ["connection-refused", "503-for-a-long-time"])
def test_teams_down_alerts_wait_are_poisoned_then_replayed_exactly_once(
    outage: str, azurite: Azurite, webhook: Webhook, alerting: TableAlertLedger
) -> None:
    tenant = str(uuid.uuid4())
    messages = alert_messages(tenant)
    sender = queue_client(azurite, ALERTS_QUEUE)
    for message in messages:
        sender.send_message(message.to_text())
    if outage == "503-for-a-long-time":
        webhook.up(503)

    # Down for longer than every retry of every delivery: each message is tried
    # maxDequeueCount times, each time with the poster's bounded retries, then poisoned.
    counts = run_host(azurite)
    assert counts == {
        "invocations": MAX_DEQUEUE * len(messages),
        "failed": MAX_DEQUEUE * len(messages),
        "poisoned": len(messages),
        "completed": 0,
    }
    posts_per_invocation = SHORT.max_attempts if outage == "503-for-a-long-time" else 0
    assert len(webhook.answered) == posts_per_invocation * MAX_DEQUEUE * len(messages)
    assert webhook.bodies == []
    undelivered = sorted(alerting.undelivered(tenant), key=lambda e: e.key)
    assert len({e.key for e in undelivered}) == len(undelivered) == len(messages)  # one each
    assert {(e.state, e.attempts, e.destination) for e in undelivered} == {
        (DeliveryState.UNDELIVERED, MAX_DEQUEUE, "ops")
    }
    assert all(e.body is not None and "s3cr3t" not in e.detail for e in undelivered)
    poisoned = drain(azurite, POISON_QUEUE)
    assert sorted(poisoned) == sorted(m.to_text() for m in messages)

    # Teams is back: the replay posts each undelivered alert once.
    webhook.up(202)
    answered_before = len(webhook.answered)
    code, printed = replay(tenant)
    assert code == 0, printed
    assert "replayed 2, still undelivered 0, skipped 0" in printed
    assert "s3cr3t" not in printed
    assert len(webhook.bodies) == len(messages)
    assert len(webhook.answered) == answered_before + len(messages)  # no retry was needed
    posted = json.dumps(webhook.bodies)
    assert all(m.transition["subject"]["id"] in posted for m in messages)
    assert list(alerting.undelivered(tenant)) == []

    # Replaying again posts nothing; nor does the original message handed over once more
    # (an operator requeueing the poison messages).
    code, printed = replay(tenant)
    assert (code, printed.strip()) == (0, "replayed 0, still undelivered 0, skipped 0")
    for text in poisoned:
        sender.send_message(text)
    counts = run_host(azurite)
    assert counts == {
        "invocations": len(messages),
        "failed": 0,
        "poisoned": 0,
        "completed": len(messages),
    }
    assert len(webhook.bodies) == len(messages)
    assert len(webhook.answered) == answered_before + len(messages)


def test_teams_and_storage_failing_together_leave_a_stuck_claim_that_is_retried_and_replayed(
    azurite: Azurite,
    webhook: Webhook,
    alerting: TableAlertLedger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Teams answers 503 and storage fails as the outcome is written: the ledger row stays
    `pending`. Every redelivery within the lease raises (never completes silently), the message
    is poisoned, and once the claim is older than its lease `replay` lists it and posts it
    once."""
    from azure.core.exceptions import ServiceRequestError

    tenant = str(uuid.uuid4())
    (message, _) = alert_messages(tenant)
    webhook.up(503)
    original = TableAlertLedger.mark_undelivered

    def storage_down(self: TableAlertLedger, *args: Any, **kwargs: Any) -> None:
        raise ServiceRequestError("storage unreachable")

    monkeypatch.setattr(TableAlertLedger, "mark_undelivered", storage_down)
    trigger = func.QueueMessage(id="a", body=message.to_text().encode())
    with pytest.raises(ServiceRequestError):
        user_function("send_alert")(trigger)
    monkeypatch.setattr(TableAlertLedger, "mark_undelivered", original)
    webhook.up(202)
    for _ in range(MAX_DEQUEUE - 1):  # the host's other attempts, all within the lease
        with pytest.raises(AlertUndeliverable):
            user_function("send_alert")(trigger)
    assert webhook.bodies == []
    (row,) = alerting.replayable(datetime.now(UTC) + timedelta(minutes=3), tenant)
    assert row.state is DeliveryState.PENDING  # stuck: visible to replay once the lease is over
    assert list(alerting.replayable(datetime.now(UTC), tenant)) == []  # not while it may run

    table = TableServiceClient.from_connection_string(azurite.table_connection)
    deliveries = table.get_table_client("GreenscreenAlertDeliveries")
    (entity,) = deliveries.query_entities(
        "PartitionKey eq @pk", parameters={"pk": key_part(tenant)}
    )
    entity["Updated"] = format_time(datetime.now(UTC) - timedelta(minutes=3))
    deliveries.update_entity(entity)  # the lease ran out (as after the host's retries)
    code, printed = replay(tenant)
    assert code == 0, printed
    assert "replayed 1, still undelivered 0, skipped 0" in printed
    assert len(webhook.bodies) == 1
    code, printed = replay(tenant)
    assert (code, printed.strip()) == (0, "replayed 0, still undelivered 0, skipped 0")
    user_function("send_alert")(trigger)  # the poisoned message requeued: nothing
    assert len(webhook.bodies) == 1
