"""Alert delivery against a real local HTTP receiver: retries, budget, once-only, replay, routing,
and webhook URLs that never leak into logs or exceptions.

Waits between attempts go through a recording fake `sleep` (the receiver is real, the clock
for back-off is not), so the tests assert the waits asked for, never how long anything took.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from azure.data.tables import TableServiceClient

from monitors.alerts.alert import Alert
from monitors.alerts.cards import PayloadFormat
from monitors.alerts.delivery import (
    AlertUndeliverable,
    DeliveryStatus,
    RetryPolicy,
    WebhookPoster,
    deliver_alerts,
    replay_undelivered,
    retry_after,
)
from monitors.alerts.ledger import DeliveryState, InMemoryAlertLedger, TableAlertLedger
from monitors.alerts.replay_command import replay_with
from monitors.alerts.routing import (
    AlertRouting,
    AlertSettingsError,
    Destination,
    Route,
    Suppression,
    WebhookUrl,
    redact_url,
    routing_from_settings,
)
from monitors.alerts.wiring import AlertDelivery
from rules.findings import Severity
from tests.azurite import Azurite
from tests.test_alert_cards import CONTEXT, TENANT, failure_alert, many_alerts, resolved_alert

SECRET = "sig=Zm9vYmFyLXNlY3JldC1zaWduYXR1cmU"
SECRET_PATH = "/workflows/0f1e2d3c/triggers/manual/paths/invoke"
NOW = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)


# -- a scripted receiver -----------------------------------------------------------------------


@dataclass
class Answer:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (slow receiver / client timeout)


class Receiver:
    """Answers POSTs from a script (the last answer repeats) and records each body."""

    def __init__(self) -> None:
        self.script: list[Answer] = [Answer()]
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    answer = (
                        receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                    )
                    receiver.bodies.append(body)
                    receiver.paths.append(self.path)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the client gave up (timeout): nothing to answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out closes the socket; that is the test's point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> WebhookUrl:
        port = self.server.server_address[1]
        return WebhookUrl(f"http://127.0.0.1:{port}{SECRET_PATH}?api-version=2016-06-01&{SECRET}")

    def answer(self, *answers: Answer) -> None:
        self.script = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


class Waits:
    """A fake `sleep` and monotonic clock: sleeping advances the clock and is recorded."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, trust_env=False) as http:
        yield http


def poster(client: httpx.Client, waits: Waits, **policy: Any) -> WebhookPoster:
    settings: dict[str, Any] = {
        "max_attempts": 4,
        "budget_seconds": 60.0,
        "read_timeout_seconds": 2.0,
        "connect_timeout_seconds": 2.0,
    }
    settings.update(policy)
    return WebhookPoster(client, RetryPolicy(**settings), sleep=waits.sleep, clock=waits.clock)


def routing_to(receiver: Receiver, **destination: Any) -> AlertRouting:
    return AlertRouting(routes=(Route("*", Destination("ops", receiver.url, **destination)),))


# -- retries and budget ------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_after_the_asked_wait_then_delivered(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    receiver.answer(Answer(429, {"Retry-After": "1"}), Answer(202))
    result = poster(client, waits).post(receiver.url, {"hello": 1}, label="ops")
    assert (result.delivered, result.attempts, result.status) == (True, 2, 202)
    assert waits.asked == [1.0]
    assert receiver.bodies == [{"hello": 1}, {"hello": 1}]
    assert receiver.paths[0].startswith(SECRET_PATH)


def test_500_storm_gives_up_after_the_attempt_limit_with_exponential_backoff(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    receiver.answer(Answer(500))
    result = poster(client, waits, first_backoff_seconds=1.0).post(receiver.url, {}, label="ops")
    assert not result.delivered
    assert result.attempts == 4
    assert len(receiver.bodies) == 4
    assert waits.asked == [1.0, 2.0, 4.0]
    assert "HTTP 500" in result.detail


def test_retry_after_beyond_the_budget_gives_up_without_waiting(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    receiver.answer(Answer(503, {"Retry-After": "120"}))
    result = poster(client, waits, budget_seconds=30.0).post(receiver.url, {}, label="ops")
    assert not result.delivered
    assert waits.asked == []
    assert len(receiver.bodies) == 1
    assert "exceed the retry budget" in result.detail


@pytest.mark.parametrize("status", [400, 401, 404])
def test_client_errors_other_than_429_are_not_retried(
    receiver: Receiver, client: httpx.Client, waits: Waits, status: int
) -> None:
    receiver.answer(Answer(status))
    result = poster(client, waits).post(receiver.url, {}, label="ops")
    assert (result.delivered, result.attempts, result.status) == (False, 1, status)
    assert len(receiver.bodies) == 1


def test_slow_receiver_within_the_timeout_is_delivered_once(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    receiver.answer(Answer(202, delay=0.3))
    result = poster(client, waits, read_timeout_seconds=5.0).post(receiver.url, {}, label="ops")
    assert (result.delivered, result.attempts) == (True, 1)


def test_receiver_answering_after_the_timeout_is_not_posted_twice(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    """The request went out and the answer came late: the receiver may have posted the card,
    so the poster does not send it again (ambiguous, not retried)."""
    receiver.answer(Answer(202, delay=1.0), Answer(202))
    result = poster(client, waits, read_timeout_seconds=0.2).post(receiver.url, {}, label="ops")
    assert (result.delivered, result.ambiguous, result.attempts) == (False, True, 1)
    assert len(receiver.bodies) == 1
    assert "timeout" in result.detail


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("Tue, 24 Nov 2026 10:05:30 GMT", NOW) == 30.0
    assert retry_after(None) is None
    assert retry_after("soon") is None


# -- once only ---------------------------------------------------------------------------------


def test_redelivered_queue_message_posts_each_alert_once(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    ledger = InMemoryAlertLedger()
    alerts = [failure_alert(), resolved_alert()]
    first = deliver_alerts(
        alerts,
        routing_to(receiver),
        CONTEXT,
        ledger,
        poster(client, waits),
        now=NOW,
        digest_above=5,
    )
    again = deliver_alerts(
        alerts,
        routing_to(receiver),
        CONTEXT,
        ledger,
        poster(client, waits),
        now=NOW,
        digest_above=5,
    )
    assert [r.status for r in first.results] == [DeliveryStatus.SENT] * 2
    assert [r.status for r in again.results] == [DeliveryStatus.ALREADY_SENT] * 2
    assert len(receiver.bodies) == 2


def test_an_alert_in_flight_elsewhere_is_not_posted_until_its_lease_expires(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    ledger = InMemoryAlertLedger(lease=timedelta(minutes=10))
    alert = failure_alert()
    ledger.claim(alert.tenant_id, "ops", alert.key, "{}", NOW)  # another worker, then it died
    routing = routing_to(receiver)
    during = deliver_alerts([alert], routing, CONTEXT, ledger, poster(client, waits), now=NOW)
    later = NOW + timedelta(minutes=11)
    after = deliver_alerts([alert], routing, CONTEXT, ledger, poster(client, waits), now=later)
    assert [r.status for r in during.results] == [DeliveryStatus.IN_FLIGHT]
    assert [r.status for r in after.results] == [DeliveryStatus.SENT]
    assert len(receiver.bodies) == 1


@pytest.fixture(scope="module")
def table_ledger_service(azurite: Azurite) -> TableServiceClient:
    service = TableServiceClient.from_connection_string(azurite.table_connection)
    TableAlertLedger(service).ensure_table()
    return service


def test_table_ledger_posts_a_redelivered_alert_once(
    receiver: Receiver, client: httpx.Client, waits: Waits, table_ledger_service: TableServiceClient
) -> None:
    ledger = TableAlertLedger(table_ledger_service)
    alert = _fresh_tenant_alert()
    routing = routing_to(receiver)
    for _ in range(3):
        deliver_alerts([alert], routing, CONTEXT, ledger, poster(client, waits), now=NOW)
    assert len(receiver.bodies) == 1


def test_table_ledger_claims_are_exclusive_and_expired_leases_can_be_taken_over(
    table_ledger_service: TableServiceClient,
) -> None:
    ledger = TableAlertLedger(table_ledger_service, lease=timedelta(minutes=5))
    rival = TableAlertLedger(table_ledger_service, lease=timedelta(minutes=5))
    tenant, key = str(uuid.uuid4()), "k1"
    first = ledger.claim(tenant, "ops", key, "{}", NOW)
    blocked = rival.claim(tenant, "ops", key, "{}", NOW + timedelta(minutes=1))
    taken = rival.claim(tenant, "ops", key, "{}", NOW + timedelta(minutes=6))
    late = ledger.claim(tenant, "ops", key, "{}", NOW + timedelta(minutes=6))
    assert (first.granted, blocked.granted, taken.granted, late.granted) == (
        True,
        False,
        True,
        False,
    )
    ledger.mark_undelivered(first, NOW, "stale claimant")  # its ETag is stale: ignored
    assert list(ledger.undelivered(tenant)) == []
    rival.mark_sent(taken, NOW)
    assert ledger.claim(tenant, "ops", key, "{}", NOW + timedelta(days=1)).state is (
        DeliveryState.SENT
    )


def _fresh_tenant_alert() -> Alert:
    """The failure alert in a tenant of its own: the Azurite tables are shared by the session."""
    alert = failure_alert()
    return replace(alert, transition=replace(alert.transition, tenant_id=str(uuid.uuid4())))


# -- undelivered, poison, replay ---------------------------------------------------------------


def test_undeliverable_alert_is_recorded_raised_as_poison_and_replayed_later(
    receiver: Receiver, client: httpx.Client, waits: Waits, table_ledger_service: TableServiceClient
) -> None:
    ledger = TableAlertLedger(table_ledger_service)
    alert = _fresh_tenant_alert()
    routing = routing_to(receiver)
    receiver.answer(Answer(500))
    report = deliver_alerts([alert], routing, CONTEXT, ledger, poster(client, waits), now=NOW)
    with pytest.raises(AlertUndeliverable) as raised:
        report.raise_if_undelivered()
    assert "ops" in str(raised.value)
    (entry,) = ledger.undelivered(alert.tenant_id)
    assert entry.body is not None
    assert json.loads(entry.body) == receiver.bodies[-1]

    receiver.answer(Answer(202))
    replay = replay_undelivered(
        ledger, routing, poster(client, waits), now=NOW, tenant_id=alert.tenant_id
    )
    assert [r.status for r in replay.results] == [DeliveryStatus.SENT]
    assert receiver.bodies[-1] == json.loads(entry.body)
    assert list(ledger.undelivered(alert.tenant_id)) == []


def test_replay_command_reports_what_it_replayed(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    ledger = InMemoryAlertLedger()
    routing = routing_to(receiver)
    receiver.answer(Answer(404))
    deliver_alerts([failure_alert()], routing, CONTEXT, ledger, poster(client, waits), now=NOW)
    receiver.answer(Answer(202))
    delivery = AlertDelivery(routing, CONTEXT, ledger, poster(client, waits), client)  # type: ignore[arg-type]
    out = io.StringIO()
    assert replay_with(delivery, None, None, out) == 0
    assert "replayed 1, still undelivered 0, skipped 0" in out.getvalue()
    assert SECRET not in out.getvalue()


def test_replay_skips_messages_whose_destination_is_no_longer_configured(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    ledger = InMemoryAlertLedger()
    receiver.answer(Answer(404))
    deliver_alerts(
        [failure_alert()], routing_to(receiver), CONTEXT, ledger, poster(client, waits), now=NOW
    )
    report = replay_undelivered(ledger, AlertRouting(), poster(client, waits), now=NOW)
    assert report.results == ()
    assert [why for _, _, why in report.skipped] == ["no destination 'ops'"]


# -- routing and suppressions ------------------------------------------------------------------


def test_each_tenant_goes_to_its_own_destination_at_its_minimum_severity(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    other = Receiver()
    try:
        routing = AlertRouting(
            routes=(
                Route(TENANT, Destination("contoso", receiver.url, Severity.ERROR)),
                Route(
                    TENANT,
                    Destination("contoso-json", other.url, Severity.BLOCKER, PayloadFormat.JSON),
                ),
                Route("*", Destination("msp", other.url)),
            )
        )
        warning = failure_alert(severity="warning")
        error = failure_alert(severity="error", rule_id="ESP-003")
        blocker = failure_alert(severity="blocker", rule_id="PRF-001")
        report = deliver_alerts(
            [warning, error, blocker],
            routing,
            CONTEXT,
            InMemoryAlertLedger(),
            poster(client, waits),
            now=NOW,
            digest_above=5,
        )
    finally:
        other.close()
    assert sorted((r.destination, r.key) for r in report.results) == sorted(
        [("contoso", error.key), ("contoso", blocker.key), ("contoso-json", blocker.key)]
    )
    assert report.plan.unrouted == (warning,)
    assert len(receiver.bodies) == 2
    assert other.bodies[0]["format"] == "greenscreen.alerts/1"


def test_suppressed_alert_is_not_posted_until_the_suppression_expires(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    suppression = Suppression(
        rule_id="APP-001",
        subject_id=failure_alert().transition.record.subject_id,
        reason="vendor fixes the installer in December",
        owner="jane.admin@contoso.onmicrosoft.com",
        expires=NOW + timedelta(days=7),
    )
    routing = AlertRouting(routing_to(receiver).routes, (suppression,))
    during = deliver_alerts(
        [failure_alert()], routing, CONTEXT, InMemoryAlertLedger(), poster(client, waits), now=NOW
    )
    after = deliver_alerts(
        [failure_alert()],
        routing,
        CONTEXT,
        InMemoryAlertLedger(),
        poster(client, waits),
        now=NOW + timedelta(days=8),
    )
    assert during.results == ()
    assert [s.suppression.owner for s in during.plan.suppressed] == [suppression.owner]
    assert [r.status for r in after.results] == [DeliveryStatus.SENT]
    assert len(receiver.bodies) == 1


def test_many_alerts_are_posted_as_one_digest(
    receiver: Receiver, client: httpx.Client, waits: Waits
) -> None:
    report = deliver_alerts(
        many_alerts(12),
        routing_to(receiver, min_severity=Severity.INFO),
        CONTEXT,
        InMemoryAlertLedger(),
        poster(client, waits),
        now=NOW,
    )
    assert len(report.results) == 1
    assert len(receiver.bodies) == 1


def test_routing_settings_read_webhook_urls_from_their_own_settings() -> None:
    routing = routing_from_settings(
        {
            "GREENSCREEN_ALERT_ROUTES": json.dumps(
                [
                    {
                        "name": "ops",
                        "tenant": TENANT,
                        "webhookSetting": "HOOK",
                        "minSeverity": "error",
                    }
                ]
            ),
            "HOOK": f"https://prod-01.westeurope.logic.azure.com{SECRET_PATH}?{SECRET}",
            "GREENSCREEN_ALERT_SUPPRESSIONS": json.dumps(
                [
                    {
                        "rule": "APP-001",
                        "reason": "r",
                        "owner": "o",
                        "expires": "2026-12-31T00:00:00Z",
                    }
                ]
            ),
        }
    )
    (destination,) = routing.destinations_for(TENANT)
    assert destination.min_severity is Severity.ERROR
    assert destination.url.reveal().endswith(SECRET)
    assert routing.suppressions[0].subject_id == "*"
    assert routing.destinations_for("another-tenant") == ()


@pytest.mark.parametrize(
    ("missing", "entry"),
    [
        ("owner", {"rule": "APP-001", "reason": "r", "expires": "2026-12-31T00:00:00Z"}),
        ("expires", {"rule": "APP-001", "reason": "r", "owner": "o"}),
        ("reason", {"rule": "APP-001", "owner": "o", "expires": "2026-12-31T00:00:00Z"}),
    ],
)
def test_suppression_without_reason_owner_or_expiry_is_refused(
    missing: str, entry: dict[str, str]
) -> None:
    with pytest.raises(AlertSettingsError, match=f"{missing} is required"):
        routing_from_settings({"GREENSCREEN_ALERT_SUPPRESSIONS": json.dumps([entry])})


# -- secrets -----------------------------------------------------------------------------------


def test_webhook_url_never_reaches_logs_or_exceptions(
    receiver: Receiver, client: httpx.Client, waits: Waits, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.answer(Answer(429, {"Retry-After": "1"}), Answer(500))
    report = deliver_alerts(
        [failure_alert()],
        routing_to(receiver),
        CONTEXT,
        InMemoryAlertLedger(),
        poster(client, waits),
        now=NOW,
    )
    with pytest.raises(AlertUndeliverable) as raised:
        report.raise_if_undelivered()
    destination = routing_to(receiver).routes[0].destination
    printed = [
        caplog.text,
        str(raised.value),
        repr(raised.value.results),
        repr(destination),
        str(destination.url),
        *(r.detail for r in report.results),
    ]
    assert any("HTTP Request" in record.getMessage() for record in caplog.records)
    for text in printed:
        assert SECRET not in text
        assert SECRET_PATH not in text


def test_connection_errors_do_not_leak_the_url(client: httpx.Client, waits: Waits) -> None:
    closed = WebhookUrl(f"http://127.0.0.1:9{SECRET_PATH}?{SECRET}")
    result = poster(client, waits, max_attempts=2).post(closed, {}, label="ops")
    assert not result.delivered
    assert SECRET not in result.detail
    assert SECRET_PATH not in result.detail


def test_bad_webhook_setting_error_names_the_setting_not_the_value() -> None:
    with pytest.raises(AlertSettingsError) as raised:
        routing_from_settings(
            {
                "GREENSCREEN_ALERT_ROUTES": json.dumps([{"name": "ops", "webhookSetting": "HOOK"}]),
                "HOOK": f"ftp://example.invalid{SECRET_PATH}?{SECRET}",
            }
        )
    assert "HOOK" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_redacted_url_keeps_scheme_and_host_only() -> None:
    url = f"https://prod-01.westeurope.logic.azure.com:443{SECRET_PATH}?{SECRET}"
    assert redact_url(url) == "https://prod-01.westeurope.logic.azure.com:443/…"
