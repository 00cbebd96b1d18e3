"""End to end through the real Functions handlers: Graph simulator + Azurite.

Baseline (evaluate_now -> process_change), a breaking change in the simulated tenant, the poll
or the notification that notices it, process_change recording the transition with its actor,
the alert queued once, and every message redelivered changing nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertBatch, ChangeMessage
from monitors.store.settings import store_from_settings
from monitors.store.verdict_store import VerdictStore
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator
from tests.test_alert_sender import Receiver
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    M365_APPS,
    SALES_USERS_GROUP,
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    simulator,  # noqa: F401 - fixture
    tenant_of,
    user_function,
)

ACTOR = "eve.admin@contoso.onmicrosoft.com"
CHANGE_FORMAT = "greenscreen.tenant-changes/1"


@pytest.fixture
def deployed(
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[VerdictStore]:
    """The function app's settings aimed at the simulator (local auth) and Azurite."""

    env = guardrail_env(azurite, [{"tenantId": tenant_of(simulator)}], simulator.url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    yield store_from_settings(env)
    reset_function_app()


def run_timer(name: str) -> None:
    user_function(name)(TimerRequest(past_due=False))


def deliver(texts: list[str]) -> None:
    for text in texts:
        user_function("process_change")(func.QueueMessage(id="m", body=text.encode()))


def baseline(azurite: Azurite, tenant: str) -> list[str]:
    request = func.HttpRequest(
        method="POST",
        url="/api/evaluate",
        params={},
        body=json.dumps({"tenantId": tenant}).encode(),
    )
    response = user_function("evaluate_now")(request)
    assert response.status_code == 202
    messages = drain(azurite, CHANGES_QUEUE)
    assert [ChangeMessage.from_text(m).kind for m in messages] == ["full"]
    deliver(messages)
    assert drain(azurite, ALERTS_QUEUE) == []  # a baseline alerts nobody
    return messages


def graph_requests(sim: GraphSimulator) -> list[str]:
    """Requests as Graph's throttling counts them: batch envelopes not, their items yes."""
    return [f"{r.method} {r.path}" for r in sim.request_log if r.path != "$batch"]


def causes(store: VerdictStore, tenant: str) -> dict[str, tuple[str, list[str]]]:
    """Change event id -> (actor name, rule ids of the transitions it caused)."""
    page = store.changes(tenant, since=datetime(2026, 1, 1, tzinfo=UTC))
    return {
        c.event.event_id: (c.event.actor_name, sorted(t.rule_id for t in c.transitions))
        for c in page.items
    }


def _facts(node: Any) -> Iterator[dict[str, str]]:
    if isinstance(node, dict):
        if node.get("type") == "FactSet":
            yield from node.get("facts", [])
        for value in node.values():
            yield from _facts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _facts(value)


def tenant_devices(sim: GraphSimulator) -> list[Any]:
    collections = sim.tenant_snapshot()["collections"]
    return list(collections["deviceManagement/windowsAutopilotDeviceIdentities"])


@pytest.fixture
def teams(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A Teams Workflows webhook on loopback, routed every alert of error and above."""
    receiver = Receiver()
    monkeypatch.setenv("GREENSCREEN_HISTORY_BASE_URL", "https://greenscreen.example.org")
    monkeypatch.setenv("TEAMS_OPS_WEBHOOK", receiver.url.reveal())
    monkeypatch.setenv(
        "GREENSCREEN_ALERT_ROUTES",
        json.dumps(
            [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "error"}]
        ),
    )
    yield receiver
    receiver.close()


def test_paused_autopilot_group_found_by_directory_poll_alerts_once_with_the_actor(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    teams: Receiver,
) -> None:
    tenant = tenant_of(simulator)
    delivered = baseline(azurite, tenant)
    run_timer("poll_directory_changes")  # starts the delta links ("from now on")
    assert drain(azurite, CHANGES_QUEUE) == []

    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "actor": {"userPrincipalName": ACTOR},
            "changes": [
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": "Paused",
                }
            ],
        }
    )
    run_timer("poll_directory_changes")
    changes = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(text) for text in changes]
    assert (message.kind, message.resource["id"]) == ("group", ALL_DEVICES_GROUP)
    assert message.event_ids  # the directory audit record is attached

    simulator.clear_log()
    deliver(changes)
    cost = graph_requests(simulator)
    assert len(cost) <= 3, cost

    alerts = [a for text in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(text).alerts]
    assert [(a.transition["ruleId"], a.transition["from"], a.transition["to"]) for a in alerts] == [
        ("GRP-002", "pass", "fail")
    ]
    assert alerts[0].transition["causeEventIds"] == list(message.event_ids)
    assert causes(deployed, tenant)[message.event_ids[0]] == (ACTOR, ["GRP-002"])
    user_function("send_alert")(func.QueueMessage(id="a", body=alerts[0].to_text().encode()))
    (card,) = teams.bodies
    assert "GRP-002" in json.dumps(card)
    # The card says how many registered devices the change puts at risk (from the finding).
    facts = {fact["title"]: fact["value"] for fact in _facts(card)}
    assert ACTOR in json.dumps(card)  # who made the change, from the audit trail
    assert facts["Devices at risk"].startswith(f"{len(tenant_devices(simulator))} registered")
    user_function("send_alert")(func.QueueMessage(id="a", body=alerts[0].to_text().encode()))
    assert len(teams.bodies) == 1  # a redelivered alert message posts nothing twice

    history_before = deployed.history(tenant, since=datetime(2026, 1, 1, tzinfo=UTC)).items
    deliver([*delivered, *changes])  # every message again, as a queue may redeliver them
    assert drain(azurite, ALERTS_QUEUE) == []
    history_after = deployed.history(tenant, since=datetime(2026, 1, 1, tzinfo=UTC)).items
    assert len(history_after) == len(history_before) == 1


def test_blocking_app_moved_to_a_user_group_found_by_audit_poll_costs_one_request(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("poll_intune_audit")
    assert drain(azurite, CHANGES_QUEUE) == []

    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "actor": {"userPrincipalName": ACTOR},
            "changes": [
                {
                    "op": "removeAssignment",
                    "collection": "deviceAppManagement/mobileApps",
                    "id": M365_APPS,
                    "target": {"groupId": ALL_DEVICES_GROUP},
                },
                {
                    "op": "addAssignment",
                    "collection": "deviceAppManagement/mobileApps",
                    "id": M365_APPS,
                    "assignment": {
                        "intent": "required",
                        "target": {
                            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                            "groupId": SALES_USERS_GROUP,
                        },
                    },
                },
            ],
        }
    )
    run_timer("poll_intune_audit")
    changes = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(text) for text in changes]
    assert (message.kind, message.resource["id"], len(message.event_ids)) == (
        "intune",
        M365_APPS,
        2,
    )

    simulator.clear_log()
    deliver(changes)
    cost = graph_requests(simulator)
    assert cost == [f"GET deviceAppManagement/mobileApps/{M365_APPS}"]

    alerts = [a for text in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(text).alerts]
    assert {
        (a.transition["ruleId"], a.transition["subject"]["id"], a.transition["to"]) for a in alerts
    } == {
        ("ESP-003", M365_APPS, "fail"),
        ("APP-013", M365_APPS, "fail"),
    }
    assert len({a.idempotency_key for a in alerts}) == len(alerts)  # one per transition
    effects = causes(deployed, tenant)
    assert {effects[event_id][0] for event_id in message.event_ids} == {ACTOR}

    run_timer("poll_intune_audit")  # the overlap window re-reads both events: not again
    assert drain(azurite, CHANGES_QUEUE) == []
    deliver(changes)
    assert drain(azurite, ALERTS_QUEUE) == []


class _FunctionsAdapter(BaseHTTPRequestHandler):
    """Hands Graph's webhook POSTs to the real handler, as the Functions host would."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = func.HttpRequest(method="POST", url=self.path, params=params, body=body)
        response = user_function("receive_graph_notification")(request)
        payload = response.get_body()
        self.send_response(response.status_code)
        self.send_header("Content-Type", response.mimetype or "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FunctionsAdapter)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/notifications"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_group_notification_through_subscription_and_webhook_records_the_pause(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    webhook_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setenv("GREENSCREEN_NOTIFICATION_URL", webhook_url)
    reset_function_app()
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("maintain_subscriptions")  # handshakes answered by the real webhook
    resources = sorted(s["resource"] for s in simulator.subscriptions())
    assert f"groups/{ALL_DEVICES_GROUP}" in resources

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
    results = simulator.wait_for_deliveries(timeout=5)
    assert [r.status for r in results] == [202]
    changes = drain(azurite, CHANGES_QUEUE)
    assert [ChangeMessage.from_text(t).source for t in changes] == ["notification"]
    simulator.clear_log()
    deliver(changes)
    assert len(graph_requests(simulator)) <= 3
    alerts = [a for text in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(text).alerts]
    assert [a.transition["ruleId"] for a in alerts] == ["GRP-002"]


def _set_rule(simulator: GraphSimulator, state: str) -> None:  # noqa: F811
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "actor": {"userPrincipalName": ACTOR},
            "changes": [
                {
                    "op": "setGroupRule",
                    "id": ALL_DEVICES_GROUP,
                    "membershipRuleProcessingState": state,
                }
            ],
        }
    )


def _post_alerts(texts: list[str]) -> None:
    for text in texts:
        user_function("send_alert")(func.QueueMessage(id="a", body=text.encode()))


def _wait_for_alerts(azurite: Azurite, timeout_s: float) -> list[str]:
    """The `alerts` messages that become visible within `timeout_s` (a held message shows up
    once its visibility delay has passed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        texts = drain(azurite, ALERTS_QUEUE)
        if texts:
            return texts
        time.sleep(0.25)
    return []


HOLD_S = 4  # GREENSCREEN_ATTRIBUTION_HOLD_SECONDS in the next test (production: 600)


def test_notified_group_change_is_alerted_once_with_its_actor_and_a_second_break_again(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811
    webhook_url: str,
    teams: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The change notification comes before the directory audit: the transition is recorded at
    once with no cause and its alert is held; the directory poll brings the audit record, which
    is attached to the transition and the alert goes out attributed. The held copy, when it
    shows up, posts nothing. Fixed and broken again: a second card, also attributed."""
    monkeypatch.setenv("GREENSCREEN_NOTIFICATION_URL", webhook_url)
    monkeypatch.setenv("GREENSCREEN_ATTRIBUTION_HOLD_SECONDS", str(HOLD_S))
    reset_function_app()
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    run_timer("maintain_subscriptions")
    run_timer("poll_directory_changes")  # starts the delta links
    assert drain(azurite, CHANGES_QUEUE) == []

    def change_and_poll(state: str, expected: tuple[str, str]) -> None:
        _set_rule(simulator, state)
        assert [r.status for r in simulator.wait_for_deliveries(timeout=5)] == [202]
        notified = drain(azurite, CHANGES_QUEUE)
        assert [ChangeMessage.from_text(t).source for t in notified] == ["notification"]
        deliver(notified)
        assert drain(azurite, ALERTS_QUEUE) == []  # held: waiting for the audit record
        history = deployed.history(tenant, rule="GRP-002", since=datetime(2026, 1, 1, tzinfo=UTC))
        assert (history.items[0].from_status, history.items[0].to_status.value) == expected
        assert history.items[0].cause_event_ids == ()

        run_timer("poll_directory_changes")
        polled = drain(azurite, CHANGES_QUEUE)
        (audited,) = [ChangeMessage.from_text(t) for t in polled]
        assert audited.event_ids
        deliver(polled)
        texts = drain(azurite, ALERTS_QUEUE)
        assert len(texts) == 1  # the run's batch, queued again with its cause
        attributed = AlertBatch.from_text(texts[0]).alerts
        assert [(a.transition["ruleId"], a.transition["to"]) for a in attributed] == [
            ("GRP-002", expected[1])
        ]
        assert attributed[0].transition["causeEventIds"] == list(audited.event_ids)
        _post_alerts(texts)
        history = deployed.history(tenant, rule="GRP-002", since=datetime(2026, 1, 1, tzinfo=UTC))
        assert history.items[0].cause_event_ids == audited.event_ids  # attached late
        held = _wait_for_alerts(azurite, HOLD_S + 6)
        assert len(held) == 1  # the held copy, now visible: posts nothing
        _post_alerts(held)

    change_and_poll("Paused", ("pass", "fail"))
    change_and_poll("On", ("fail", "pass"))
    change_and_poll("Paused", ("pass", "fail"))
    cards = [json.dumps(body) for body in teams.bodies]
    assert len(cards) == 3  # break, fix, second break: one card each
    assert all(ACTOR in card and "GRP-002" in card for card in cards)


def test_a_repeated_break_reported_by_identical_messages_alerts_each_time(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811
    teams: Receiver,
) -> None:
    """A delta message without audit ids is the same message (same id, same run id) for every
    break of the group: the write sequence in the alert keeps the second break's alert apart
    from the first one's, while a redelivery of the same message alerts nothing."""
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    change = ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP}).to_text()
    for state in ("Paused", "On", "Paused"):
        _set_rule(simulator, state)
        deliver([change])
        alerts = drain(azurite, ALERTS_QUEUE)
        assert len(alerts) == 1
        _post_alerts(alerts)
        deliver([change])  # redelivered: nothing new
        assert drain(azurite, ALERTS_QUEUE) == []
    assert len(teams.bodies) == 3


SETTLE_S = 3  # GREENSCREEN_ALERT_SETTLE_SECONDS in the next test (production: 120)
NEW_AUTOPILOT = "0ddba11a-0000-4000-8000-000000000001"
NEW_ENTRA_DEVICE_ID = "0ddba11a-0000-4000-8000-000000000002"
NEW_ENTRA_OBJECT = "0ddba11a-0000-4000-8000-000000000003"


def test_autopilot_registration_before_its_entra_device_posts_no_flapping_cards(
    deployed: VerdictStore,
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811
    teams: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One poll round brings a new Autopilot registration (Intune audit) and its Entra device
    (directory delta); processed in that order, DEV-005 fails for a moment and passes again.
    Both transitions are recorded; neither alert is posted (they settle into nothing)."""
    monkeypatch.setenv("GREENSCREEN_ALERT_SETTLE_SECONDS", str(SETTLE_S))
    reset_function_app()
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    collections = simulator.tenant_snapshot()["collections"]
    registration = dict(collections["deviceManagement/windowsAutopilotDeviceIdentities"][0])
    registration.update(
        id=NEW_AUTOPILOT,
        serialNumber="900000000001",
        displayName="CTSO-NEW0001",
        azureAdDeviceId=NEW_ENTRA_DEVICE_ID,
        azureActiveDirectoryDeviceId=NEW_ENTRA_DEVICE_ID,
        managedDeviceId="",
    )
    device = dict(collections["devices"][0])
    device.update(
        id=NEW_ENTRA_OBJECT,
        deviceId=NEW_ENTRA_DEVICE_ID,
        displayName="CTSO-NEW0001",
        physicalIds=[f"[ZTDId]:{NEW_AUTOPILOT}"],
    )
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {
                    "op": "add",
                    "collection": "deviceManagement/windowsAutopilotDeviceIdentities",
                    "object": registration,
                },
                {"op": "add", "collection": "devices", "object": device},
            ],
        }
    )
    deliver(
        [
            ChangeMessage.create(
                tenant,
                "audit",
                "intune",
                {
                    "collection": "deviceManagement/windowsAutopilotDeviceIdentities",
                    "id": NEW_AUTOPILOT,
                },
            ).to_text(),
            ChangeMessage.create(tenant, "delta", "device", {"ids": [NEW_ENTRA_OBJECT]}).to_text(),
        ]
    )
    history = deployed.history(tenant, rule="DEV-005", since=datetime(2026, 1, 1, tzinfo=UTC))
    # A new subject has no record, like one that passed: it transits from `pass`.
    assert [(t.from_status, t.to_status.value) for t in reversed(history.items)] == [
        ("pass", "fail"),
        ("fail", "pass"),
    ]
    assert drain(azurite, ALERTS_QUEUE) == []  # settling
    time.sleep(SETTLE_S + 1)
    texts = drain(azurite, ALERTS_QUEUE)
    settled = [a for text in texts for a in AlertBatch.from_text(text).alerts]
    assert [
        (a.transition["from"], a.transition["to"])
        for a in settled
        if a.transition["ruleId"] == "DEV-005"
    ] == [("pass", "fail"), ("fail", "pass")]
    _post_alerts(texts)
    assert teams.bodies == []
