"""The guardrail act of `make demo`: the Function app guarding the sample tenant, live.

The real handlers of `function_app.py` run as the Functions host would run them (HTTP, timer and
queue triggers with `azure.functions` objects, settings in the environment) against the Graph
simulator serving the sample tenant and Azurite (tables and queues). After a baseline and the
group subscriptions (`maintain_subscriptions`, handshakes answered by the real webhook), a named
admin pauses the main Autopilot group's dynamic membership through the simulator's mutation API
(the change the what-if act predicted). Graph's change notification reaches
`receive_graph_notification` first: `process_change` records the transition at once, with no
cause yet, and holds its alert for the directory audit record. `poll_directory_changes` brings
that record: it is attached to the transition and the alert goes out naming the admin; the held
copy, when it shows up, posts nothing. `greenscreen history` shows what was remembered, and the
queue redelivering a message changes nothing. The admin resumes processing (one resolved card),
then pauses it again: a second break, a second card.

Everything printed is read back from the store, the queues, the simulator and the receiver.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sized
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from monitors.cli import main as greenscreen
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, ChangeMessage
from monitors.store.records import StoredStatus, Transition
from monitors.store.settings import store_from_settings
from monitors.store.verdict_store import VerdictStore
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out"
ACTOR = "adele.vance@contoso.com"  # a user of the sample tenant, acting as the Intune admin
AUTOPILOT_GROUP = "Autopilot - All devices"  # the pre-provisioning profile's dynamic group
CHANGE_FORMAT = "greenscreen.tenant-changes/1"
HISTORY_BASE_URL = "http://localhost:7071"  # the local Functions host: the cards' history links
WEBHOOK_SETTING = "GREENSCREEN_WEBHOOK_OPS"
REDELIVERY_TIMEOUT_S = 20.0
HOLD_S = 3  # GREENSCREEN_ATTRIBUTION_HOLD_SECONDS in the demo (production default: 600)

Handler = Callable[[Any], Any]
FindHandler = Callable[[str], Handler]
Render = Callable[[dict[str, Any], Path], Path | None]


# -- the function app, as the Functions host runs it -------------------------------------------

_INDEX: dict[str, Handler] = {}


def indexed_handler(name: str) -> Handler:
    """A real handler of `function_app`. `app.get_functions()` indexes once per app
    (azure-functions 1.26), so the index is kept."""
    if not _INDEX:
        from function_app import app

        _INDEX.update(
            {str(f.get_function_name()): f.get_user_function() for f in app.get_functions()}
        )
    return _INDEX[name]


def _reset_function_app() -> None:
    """Forget the settings and clients the function app built from the environment."""
    import function_app

    function_app._store.cache_clear()
    function_app._services.cache_clear()
    function_app._webhook.cache_clear()


@contextlib.contextmanager
def app_settings(settings: Mapping[str, str]) -> Iterator[None]:
    """App settings as environment variables, as the host sets them; restored afterwards."""
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    _reset_function_app()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_function_app()


def timer() -> TimerRequest:
    return TimerRequest(past_due=False)


class StorageQueue:
    """One Azurite queue, read the way the host's queue trigger reads it (base64 text)."""

    def __init__(self, azurite: Azurite, name: str) -> None:
        self.client = QueueClient.from_connection_string(
            azurite.queue_connection, name, message_decode_policy=TextBase64DecodePolicy()
        )
        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def waiting(self) -> list[str]:
        """The texts of the visible messages, left on the queue."""
        return [str(m.content) for m in self.client.peek_messages(max_messages=32)]

    def trigger(self, handler: Handler) -> list[QueueMessage]:
        """Run `handler` on every waiting message and delete each one it finished."""
        handled: list[QueueMessage] = []
        while batch := self.trigger_once(handler, visibility_timeout=60):
            for message, received in batch:
                self.client.delete_message(received)
                handled.append(message)
        return handled

    def trigger_once(
        self, handler: Handler, *, visibility_timeout: int
    ) -> list[tuple[QueueMessage, Any]]:
        """Run `handler` on the waiting messages without deleting them: as if the host died
        first, so the queue shows each again after `visibility_timeout` seconds."""
        pages = self.client.receive_messages(
            messages_per_page=32, visibility_timeout=visibility_timeout
        ).by_page()
        handled = []
        # One page only: reading on could hand out a message whose visibility has run out.
        for received in next(pages, []):
            message = QueueMessage(  # type: ignore[no-untyped-call]
                id=received.id,
                body=str(received.content).encode(),
                dequeue_count=received.dequeue_count,
                expiration_time=received.expires_on,
                insertion_time=received.inserted_on,
                time_next_visible=received.next_visible_on,
                pop_receipt=received.pop_receipt,
            )
            handler(message)
            handled.append((message, received))
        return handled

    def wait_for_visible(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.client.peek_messages(max_messages=1):
            if time.monotonic() > deadline:
                raise RuntimeError("the queue did not show the message again in time")
            time.sleep(0.1)


class WorkflowsWebhook:
    """A Teams Workflows webhook on loopback: answers 202 and keeps every JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Accept(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        # A webhook URL is a secret (it lets anyone post): it lives in a setting, never printed.
        path = f"/workflows/{secrets.token_hex(8)}/triggers/manual/paths/invoke"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> WorkflowsWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class NotificationEndpoint:
    """`/api/notifications` on loopback: hands Graph's POSTs to `receive_graph_notification`,
    as the Functions host does."""

    def __init__(self, handler: FindHandler) -> None:
        class Adapter(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = func.HttpRequest(method="POST", url=self.path, params=params, body=body)
                response = handler("receive_graph_notification")(request)
                payload = response.get_body()
                self.send_response(response.status_code)
                self.send_header("Content-Type", response.mimetype or "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Adapter)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/notifications"

    def __enter__(self) -> NotificationEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def settings_for(
    azurite: Azurite, graph_url: str, tenant_id: str, webhook_url: str
) -> dict[str, str]:
    """A deployment guarding one tenant (docs/guardrail.md), alerting one channel
    (docs/alerts.md)."""
    return {
        "GREENSCREEN_STORAGE_CONNECTION": azurite.table_connection,
        "GREENSCREEN_QUEUES": azurite.queue_connection,
        "GREENSCREEN_GRAPH_URL": graph_url,
        "GREENSCREEN_GRAPH_AUTH": "local",
        "GREENSCREEN_CLIENT_STATE": secrets.token_urlsafe(32),
        "TENANTS": json.dumps([{"tenantId": tenant_id}]),
        "GREENSCREEN_HISTORY_BASE_URL": HISTORY_BASE_URL,
        WEBHOOK_SETTING: webhook_url,
        "GREENSCREEN_ALERT_ROUTES": json.dumps(
            [{"name": "ops", "webhookSetting": WEBHOOK_SETTING, "minSeverity": "warning"}]
        ),
        # Alerts wait for their cause a few seconds here, not ten minutes; no settle time.
        "GREENSCREEN_ATTRIBUTION_HOLD_SECONDS": str(HOLD_S),
        "GREENSCREEN_ALERT_SETTLE_SECONDS": "0",
    }


def pause_autopilot_group(tenant: Mapping[str, Any], state: str = "Paused") -> dict[str, Any]:
    """The breaking change, as the admin makes it: the group's rule processing paused (or, with
    `state="On"`, resumed)."""
    group = next(g for g in tenant["collections"]["groups"] if g["displayName"] == AUTOPILOT_GROUP)
    verb = "Pause" if state == "Paused" else "Resume"
    return {
        "format": CHANGE_FORMAT,
        "actor": {"userPrincipalName": ACTOR},
        "description": f"{verb} dynamic membership processing of '{AUTOPILOT_GROUP}'",
        "changes": [
            {"op": "setGroupRule", "id": group["id"], "membershipRuleProcessingState": state}
        ],
    }


# -- the act ----------------------------------------------------------------------------------


def run_guardrail(
    tenant: Mapping[str, Any],
    azurite: Azurite,
    *,
    handler: FindHandler = indexed_handler,
    out: Path = OUT,
    render: Render | None = None,
) -> int:
    """Run the act on `tenant` (a snapshot document) with Azurite's tables and queues.

    `handler(name)` gives a function app handler; `render(card, png)` screenshots an Adaptive
    Card (returns the file, or None when it cannot). Returns 0 when the story held: one
    transition caused by the admin, one card posted, and nothing new on redelivery.
    """
    tenant_id = str(tenant["tenantId"]).lower()
    out.mkdir(parents=True, exist_ok=True)
    with (
        WorkflowsWebhook() as webhook,
        NotificationEndpoint(handler) as endpoint,
        GraphSimulator(dict(tenant)) as sim,
        app_settings(
            {
                **settings_for(azurite, sim.url, tenant_id, webhook.url),
                "GREENSCREEN_NOTIFICATION_URL": endpoint.url,
            }
        ),
    ):
        return _act(tenant, tenant_id, azurite, sim, webhook, handler, out, render)


def _act(
    tenant: Mapping[str, Any],
    tenant_id: str,
    azurite: Azurite,
    sim: GraphSimulator,
    webhook: WorkflowsWebhook,
    handler: FindHandler,
    out: Path,
    render: Render | None,
) -> int:
    store = store_from_settings()
    changes = StorageQueue(azurite, CHANGES_QUEUE)
    alerts = StorageQueue(azurite, ALERTS_QUEUE)
    since = datetime.now(UTC) - timedelta(hours=1)
    print(
        "\nGuardrail: the Function app's handlers guard the sample tenant "
        f"(Graph simulator at {sim.url}, Azurite tables and queues).",
        flush=True,
    )

    handler("reconcile_tenants")(timer())
    full = changes.trigger(handler("process_change"))
    verdicts = store.current_state(tenant_id).verdicts
    failing = sum(1 for v in verdicts if v.record.status is StoredStatus.FAIL)
    print(
        f"reconcile_tenants -> {len(full)} `full` message -> process_change: baseline recorded: "
        f"{len(verdicts)} findings, {failing} failing; {_count(alerts.waiting(), 'alert')}",
        flush=True,
    )
    handler("maintain_subscriptions")(timer())
    print(
        f"maintain_subscriptions -> {_count(sim.subscriptions(), 'group subscription')} "
        "(handshakes answered by receive_graph_notification)",
        flush=True,
    )
    handler("poll_directory_changes")(timer())  # starts the delta links: "from now on"
    print(
        f"poll_directory_changes -> delta links started, {_count(changes.waiting(), 'change')}",
        flush=True,
    )
    names = {g["id"]: g["displayName"] for g in tenant["collections"]["groups"]}

    document = pause_autopilot_group(tenant)
    (audit,) = sim.apply_changes(document)
    print(
        f"\n{audit['initiatedBy']['user']['userPrincipalName']}: {document['description']}"
        f" (directory audit: '{audit['activityDisplayName']}')",
        flush=True,
    )
    notified = [r.status for r in sim.wait_for_deliveries(timeout=10)]
    queued = [ChangeMessage.from_text(text) for text in changes.waiting()]
    print(
        f"Graph change notification -> receive_graph_notification answered "
        f"{', '.join(map(str, notified))}; {_count(queued, 'message')} on `changes`: "
        + ", ".join(
            f"{m.kind} '{names.get(m.resource.get('id'), m.resource.get('id'))}' "
            f"from a {m.source} with {_count(m.event_ids, 'audit event')}"
            for m in queued
        ),
        flush=True,
    )
    sim.clear_log()
    changes.trigger(handler("process_change"))
    reads = [r for r in sim.request_log if r.path != "$batch"]
    recorded = _history(store, tenant_id, since)
    print(
        f"process_change -> {_count(reads, 'Graph read')}, "
        f"{_count(recorded, 'transition')} recorded at once, cause not known yet; "
        f"{_count(alerts.waiting(), 'alert')} visible on `alerts` "
        f"(held up to {HOLD_S} s for the audit record)",
        flush=True,
    )

    handler("poll_directory_changes")(timer())
    queued = [ChangeMessage.from_text(text) for text in changes.waiting()]
    print(
        f"poll_directory_changes -> {_count(queued, 'message')} on `changes`: "
        + ", ".join(
            f"{m.kind} '{names.get(m.resource.get('id'), m.resource.get('id'))}' "
            f"with {_count(m.event_ids, 'audit event')}"
            for m in queued
        ),
        flush=True,
    )
    # Processed, but "the host dies" before deleting it: the queue redelivers it below.
    first = changes.trigger_once(handler("process_change"), visibility_timeout=1)
    attributed = _history(store, tenant_id, since)
    new_transitions = len(attributed) - len(recorded)
    queued_alerts = alerts.waiting()
    causes = _causes(store, tenant_id, since)
    print(
        f"process_change -> {new_transitions} new transitions; the audit record is attached to "
        f"the transition and {_count(queued_alerts, 'alert')} queued on `alerts`:",
        flush=True,
    )
    for transition in attributed:
        print(f"  {_describe(transition, causes)}", flush=True)
    if len(first) != 1:
        print("the audit record did not reach process_change as one message", flush=True)
        return 1

    alerts.trigger(handler("send_alert"))
    for number, body in enumerate(webhook.bodies, 1):
        card = body["attachments"][0]["content"]
        card_file = out / f"guardrail-alert-card{'' if number == 1 else f'-{number}'}.json"
        card_file.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        texts = _texts(card)
        print(f"send_alert -> the Teams webhook received: {texts[0]}", flush=True)
        facts = _facts(card)
        changed = texts[texts.index("What changed") + 1] if "What changed" in texts else "?"
        changed = changed.replace("**", "").splitlines()[0]
        print(f"  rule: {texts[1]}\n  what changed: {changed}", flush=True)
        print(f"  devices at risk: {facts.get('Devices at risk', '?')}", flush=True)
        print(f"  card: {_shown(card_file)}", flush=True)
        png = render(card, card_file.with_suffix(".png")) if render is not None else None
        if png is not None:
            print(f"  rendered: {png}", flush=True)

    for query in (
        ["history", "--tenant", tenant_id],
        ["history", "--tenant", tenant_id, "--changes"],
    ):
        print(f"\n$ greenscreen {' '.join(query)}", flush=True)
        if greenscreen(query) != 0:
            return 1

    posted = len(webhook.bodies)
    changes.wait_for_visible(REDELIVERY_TIMEOUT_S)
    again = changes.trigger(handler("process_change"))
    new = len(_history(store, tenant_id, since)) - len(attributed)
    # The held copy of the alert becomes visible once the hold is over.
    held = _held_copies(alerts, handler, HOLD_S + REDELIVERY_TIMEOUT_S)
    reposted = len(webhook.bodies) - posted
    print(
        f"\nThe queue redelivers the `changes` message (dequeue count "
        f"{', '.join(str(m.dequeue_count) for m in again)}): {new} new transitions. "
        f"The held copy shows up after {HOLD_S} s: {_count(held, 'message')} -> send_alert, "
        f"{_count(range(reposted), 'card')} posted: "
        + (
            "nothing new recorded, no second alert."
            if new == reposted == 0
            else "something was recorded or posted twice."
        ),
        flush=True,
    )
    told = (
        len(first) == len(again) == 1
        and len(recorded) == len(attributed) == len(queued_alerts) == posted == 1
        and new == reposted == 0
        and len(held) == 1
    )
    caused = all(ACTOR in causes.get(e, "") for t in attributed for e in t.cause_event_ids)
    caused = caused and all(t.cause_event_ids for t in attributed)

    print("\nFixed, then broken again: each change is one card naming the admin.", flush=True)
    for state in ("On", "Paused"):
        before = len(webhook.bodies)
        step = pause_autopilot_group(tenant, state)
        sim.apply_changes(step)
        sim.wait_for_deliveries(timeout=10)
        changes.trigger(handler("process_change"))  # the notification: recorded, held
        handler("poll_directory_changes")(timer())
        changes.trigger(handler("process_change"))  # the audit record: attributed, queued
        alerts.trigger(handler("send_alert"))
        _held_copies(alerts, handler, HOLD_S + REDELIVERY_TIMEOUT_S)  # post nothing
        cards = webhook.bodies[before:]
        headers = [_texts(body["attachments"][0]["content"])[0] for body in cards]
        named = sum(1 for body in cards if ACTOR in json.dumps(body))
        print(
            f"{ACTOR}: {step['description']} -> {_count(cards, 'card')} "
            f"({'; '.join(headers)}), {named} naming the admin",
            flush=True,
        )
        told = told and len(cards) == named == 1
    from samples.demo_deployments import deployment_step

    deployed = deployment_step(tenant_id, sim, store, webhook.bodies, handler, out)
    return 0 if told and caused and deployed else 1


def _held_copies(alerts: StorageQueue, handler: FindHandler, timeout: float) -> list[Any]:
    """`send_alert` on the held copy of an alert, once it becomes visible."""
    handled: list[Any] = []
    deadline = time.monotonic() + timeout
    while not handled and time.monotonic() < deadline:
        handled = alerts.trigger(handler("send_alert"))
        if not handled:
            time.sleep(0.1)
    return handled


def _history(store: VerdictStore, tenant_id: str, since: datetime) -> list[Transition]:
    return list(store.history(tenant_id, since=since, page_size=100).items)


def _causes(store: VerdictStore, tenant_id: str, since: datetime) -> dict[str, str]:
    """Change event id -> "actor (activity)", as the store remembers the change events."""
    page = store.changes(tenant_id, since=since, page_size=100)
    return {c.event.event_id: f"{c.event.actor_name} ({c.event.activity})" for c in page.items}


def _describe(transition: Transition, causes: Mapping[str, str]) -> str:
    record = transition.record
    origin = transition.from_status.value if transition.from_status else "not reported"
    who = "; ".join(causes.get(event, "unknown") for event in transition.cause_event_ids)
    return (
        f"{record.rule_id} {record.subject_type} '{record.subject_name}' "
        f"[{record.scope_name or 'tenant'}]: {origin} -> {transition.to_status.value} "
        f"({record.severity}), caused by {who or 'unknown'}"
    )


def _texts(node: Any) -> list[str]:
    """The card's TextBlocks, in reading order."""
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") == "TextBlock" else []
        return own + [t for key, value in node.items() if key != "text" for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return []


def _facts(node: Any) -> dict[str, str]:
    if isinstance(node, dict):
        found = {}
        if node.get("type") == "FactSet":
            found = {str(f["title"]): str(f["value"]) for f in node.get("facts", ())}
        for value in node.values():
            found.update(_facts(value))
        return found
    if isinstance(node, list):
        return {k: v for value in node for k, v in _facts(value).items()}
    return {}


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
