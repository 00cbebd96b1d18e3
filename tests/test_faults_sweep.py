"""Fault sweep: a storage outage at every storage call a change makes (once, and twice in a row),
Teams and storage failing together, and Graph faults on the incremental re-read, end to end
through the real handlers (`process_change_text`, `handle_poisoned_change`, `send_alert`'s
`dispatch_alert_text`) against the Graph simulator, Azurite on disk and a local Teams webhook.

Each case breaks the tenant (the Autopilot group's rule paused), lets the host deliver the
change until it succeeds (up to `maxDequeueCount` attempts, then the poison handler's full
read), posts every alert message the queue holds through `send_alert` (a redelivered alert
message included), then undoes the break without faults. It counts, per case: transitions
recorded for the break and the fix (exactly one each) and cards posted for them (exactly one
each). Lost or doubled: zero.

The outage is injected below the Storage SDK's retry policy (its transport), so it strikes at
exactly the N-th request to Azurite and every later one until the attempt ends, as a stopped
emulator would (connection refused), without the seconds a process restart costs; the SDK's
retry waits are skipped. `tests/test_faults_storage.py` stops the real emulator instead.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.policies import RetryPolicy as SdkRetryPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.storage.queue import LinearRetry, QueueServiceClient

from monitors.alerts import wiring
from monitors.alerts.delivery import RetryPolicy as PostRetryPolicy
from monitors.graph.client import RetryPolicy as GraphRetryPolicy
from monitors.guardrail import alert_dispatch
from monitors.guardrail.composition import (
    Services,
    dispatch_alert_text,
    handle_poisoned_change,
    process_change_text,
)
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, ChangeMessage, StorageQueueSender
from monitors.guardrail.settings import read_settings
from monitors.guardrail.slots import TenantSlots
from monitors.store.verdict_store import VerdictStore
from tests.azurite import PersistentAzurite, persistent_azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_alert_sender import Answer, Receiver
from tests.test_faults_graph import small_tenant
from tests.test_faults_teams import MAX_DEQUEUE
from tests.test_function_support import drain, guardrail_env, reset_function_app

CHANGE_FORMAT = "greenscreen.tenant-changes/1"
# The small complete tenant (49 verdicts): its dynamic Autopilot group, which GRP-002 judges.
# Small so that every storage call of a change can be swept within the suite's time.
AUTOPILOT_GROUP = "11111111-1111-1111-1111-111111111111"
ACTOR = "mallory.admin@contoso.onmicrosoft.com"
SINCE = datetime.now(UTC) - timedelta(days=1)
QUICK_POSTS = PostRetryPolicy(
    max_attempts=2,
    budget_seconds=3.0,
    first_backoff_seconds=0.01,
    max_backoff_seconds=0.02,
    connect_timeout_seconds=1.0,
    read_timeout_seconds=0.5,
)


HOST_RETRY_SPACING = timedelta(seconds=35)  # host.json visibilityTimeout 30 s, plus polling
SHIFT = [timedelta(0)]  # how far the host's redeliveries have moved the alert sender's clock


class HostClock(datetime):
    """`datetime` for `monitors.guardrail.alert_dispatch`: real time plus the redelivery spacing
    the host would have put between attempts (the tests deliver them back to back)."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.now(tz) + SHIFT[0]


class Teams(Receiver):
    """The local Teams webhook; `posted` keeps only the bodies it accepted (2xx): a 503 or a
    refused connection posts no card."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Answer] = []
        original = self.server.RequestHandlerClass.do_POST  # type: ignore[attr-defined]
        teams = self

        def do_post(handler: Any) -> None:
            with teams._lock:
                upcoming = teams.script[0]
            teams.answers.append(upcoming)
            original(handler)

        self.server.RequestHandlerClass.do_POST = do_post  # type: ignore[attr-defined]

    @property
    def posted(self) -> list[Any]:
        return [
            body
            for body, answer in zip(self.bodies, self.answers, strict=False)
            if 200 <= answer.status < 300
        ]


class StorageOutage:
    """Counts every request to Azurite; once armed, refuses the `at`-th and all later ones
    until `restore()` (storage back)."""

    def __init__(self, azurite: PersistentAzurite) -> None:
        self.ports = {azurite.ports.table_port, azurite.ports.queue_port}
        self.calls = 0
        self.at: int | None = None
        self.down = False

    def arm(self, at: int | None) -> None:
        self.calls, self.at, self.down = 0, at, False

    def restore(self) -> None:
        self.at, self.down = None, False

    def strike(self, url: str) -> None:
        if not any(f":{port}/" in url for port in self.ports):
            return
        self.calls += 1
        if self.at is not None and self.calls >= self.at:
            self.down = True
        if self.down:
            raise ServiceRequestError("storage unreachable (injected outage)")


@dataclass
class Tally:
    """What one case did: transitions of the break and cards posted for them."""

    cases: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)

    def check(self, case: str, kind: str, count: int) -> None:
        self.cases += 1
        if count == 0:
            self.lost.append(f"{case}: {kind}")
        elif count > 1:
            self.doubled.append(f"{case}: {kind} x{count}")


@dataclass
class Rig:
    azurite: PersistentAzurite
    sim: GraphSimulator
    services: Services
    outage: StorageOutage
    teams: Teams
    tenant: str
    state: str = "On"

    def set_rule(self, state: str) -> None:
        self.sim.apply_changes(
            {
                "format": CHANGE_FORMAT,
                "actor": {"userPrincipalName": ACTOR},
                "changes": [
                    {
                        "op": "setGroupRule",
                        "id": AUTOPILOT_GROUP,
                        "membershipRuleProcessingState": state,
                    }
                ],
            }
        )
        self.state = state

    def change(self) -> str:
        return ChangeMessage.create(
            self.tenant,
            "notification",
            "group",
            {"id": AUTOPILOT_GROUP},
            discriminator=str(time.monotonic_ns()),
        ).to_text()

    def host(self, text: str, outages: list[int | None]) -> None:
        """The queue trigger: deliver until an attempt succeeds (`outages[i]`: the storage call
        attempt i+1 loses storage at); after `maxDequeueCount` failures, the poison handler."""
        for attempt in range(1, MAX_DEQUEUE + 1):
            self.outage.arm(outages[attempt - 1] if attempt <= len(outages) else None)
            try:
                process_change_text(self.services, text, attempt)
            except Exception:  # noqa: S112 - the host catches everything and redelivers
                continue
            finally:
                self.outage.restore()
            return
        reread = handle_poisoned_change(self.services, text)
        assert reread is not None
        self.host(reread.to_text(), [])

    def post_alerts(self, outages: list[int | None] = ()) -> None:  # type: ignore[assignment]
        """`send_alert` for every message on `alerts`, each delivered until it succeeds, then
        each delivered once more (a redelivery must post nothing)."""
        texts = drain(self.azurite.ports, ALERTS_QUEUE)
        for text in texts:
            for attempt in range(1, MAX_DEQUEUE + 1):
                self.outage.arm(outages[attempt - 1] if attempt <= len(outages) else None)
                if attempt > 1:
                    SHIFT[0] += HOST_RETRY_SPACING
                try:
                    dispatch_alert_text(text)
                except Exception:  # noqa: S112 - the host catches everything and redelivers
                    continue
                finally:
                    self.outage.restore()
                break
        for text in texts:
            dispatch_alert_text(text)

    def transitions(self, since: datetime) -> list[tuple[str | None, str]]:
        history = self.services.store.history(
            self.tenant, rule="GRP-002", subject=AUTOPILOT_GROUP, since=since
        ).items
        return [(t.from_status, t.to_status.value) for t in history if t.at >= since]

    def cards(self, start: int, kind: str) -> int:
        """Cards about GRP-002 posted since `start`, of one kind (failure, resolved, unknown)."""
        return sum(
            1
            for body in self.teams.posted[start:]
            if "GRP-002" in json.dumps(body) and card_kind(body) == kind
        )


DIGEST_LINE = re.compile(r"([✗?✓]) \S+ GRP-002 ")  # "✗ error GRP-002 …" in a digest


def card_kind(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False)
    line = DIGEST_LINE.search(text)
    if "readiness changes ·" in text and line is not None:
        # A digest (one card for the run's alerts): the kind of the GRP-002 line.
        return {"✗": "failure", "?": "unknown", "✓": "resolved"}[line[1]]
    if "RESOLVED" in text:
        return "resolved"
    if "Monitor blind" in text or "UNKNOWN ·" in text:
        return "unknown"
    return "failure"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    mp = pytest.MonkeyPatch()
    with persistent_azurite(tmp_path_factory.mktemp("sweep") / "azurite") as azurite:
        azurite_ports = azurite.ports
        outage = StorageOutage(azurite)
        original_send = RequestsTransport.send

        def send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
            outage.strike(str(request.url))
            return original_send(self, request, **kwargs)

        mp.setattr(RequestsTransport, "send", send)
        mp.setattr(SdkRetryPolicy, "sleep", lambda *args, **kwargs: None)
        mp.setattr(wiring, "RetryPolicy", lambda: QUICK_POSTS)
        mp.setattr(alert_dispatch, "datetime", HostClock)
        teams = Teams()
        with GraphSimulator(small_tenant(), seed=5) as sim:
            tenant = str(sim.tenant_snapshot()["tenantId"])
            env = guardrail_env(azurite_ports, [{"tenantId": tenant}], sim.url)
            env.update(
                {
                    "GREENSCREEN_HISTORY_BASE_URL": "https://greenscreen.example.org",
                    "TEAMS_OPS_WEBHOOK": teams.url.reveal(),
                    "GREENSCREEN_ALERT_ROUTES": json.dumps(
                        [
                            {
                                "name": "ops",
                                "webhookSetting": "TEAMS_OPS_WEBHOOK",
                                "minSeverity": "error",
                            }
                        ]
                    ),
                }
            )
            for name, value in env.items():
                mp.setenv(name, value)
            reset_function_app()
            tables = TableServiceClient.from_connection_string(
                azurite_ports.table_connection, retry_total=1
            )
            queues = QueueServiceClient.from_connection_string(
                azurite_ports.queue_connection,
                retry_policy=LinearRetry(backoff=0, random_jitter_range=0, retry_total=1),
            )
            store = VerdictStore(tables, sleep=lambda _: None)
            store.ensure_tables()
            mirror = TenantMirror(tables)
            mirror.ensure_table()
            for name in (CHANGES_QUEUE, ALERTS_QUEUE):
                queues.get_queue_client(name).create_queue()
            services = Services(
                read_settings(env),
                store,
                mirror,
                StorageQueueSender(queues),
                graph_retry=GraphRetryPolicy(max_retries=1, base_delay_s=0.0, timeout_s=2.0),
                # Short leases (a failed release strands a slot this long) polled often.
                slots=TenantSlots(
                    tables,
                    limit=2,
                    lease_s=0.3,
                    wait_s=5.0,
                    sleep=lambda seconds: time.sleep(min(seconds, 0.05)),
                ),
                confirm_delay_s=0.0,
            )
            rig = Rig(azurite, sim, services, outage, teams, tenant)
            rig.host(ChangeMessage.create(tenant, "manual", "full").to_text(), [])
            rig.post_alerts()
            yield rig
        teams.close()
        reset_function_app()
    mp.undo()


def change_and_count(
    rig: Rig,
    tally: Tally,
    case: str,
    state: str,
    outages: list[int | None],
    alert_outages: list[int | None] = (),  # type: ignore[assignment]
) -> None:
    """One change of the group (delivered under `outages`, its alerts under `alert_outages`):
    exactly one transition and exactly one card."""
    to, kind = ("fail", "failure") if state == "Paused" else ("pass", "resolved")
    since = datetime.now(UTC) - timedelta(milliseconds=1)
    cards_before = len(rig.teams.posted)
    rig.set_rule(state)
    rig.host(rig.change(), outages)
    rig.post_alerts(list(alert_outages))
    moved = [t for t in rig.transitions(since) if t[1] == to]
    tally.check(case, f"transition to {to}", len(moved))
    tally.check(case, f"{kind} card", rig.cards(cards_before, kind))


def break_and_fix(
    rig: Rig,
    tally: Tally,
    case: str,
    outages: list[int | None],
    alert_outages: list[int | None] = (),  # type: ignore[assignment]
) -> None:
    change_and_count(rig, tally, case, "Paused", outages, alert_outages)
    change_and_count(rig, tally, case, "On", [])


def storage_calls(rig: Rig, work: Callable[[], None]) -> int:
    rig.outage.arm(None)
    work()
    calls = rig.outage.calls
    rig.outage.restore()
    return calls


def test_storage_outage_at_every_call_of_a_change_loses_and_doubles_nothing(rig: Rig) -> None:
    """For every storage call N of a change: a break whose first attempt loses storage at call
    N, then a fix whose first two attempts lose it at call N (twice in a row). Breaks and fixes
    make the same calls in the same order (a transition either way)."""
    rig.set_rule("Paused")
    calls = storage_calls(rig, lambda: process_change_text(rig.services, rig.change(), 1))
    rig.post_alerts()
    rig.set_rule("On")
    rig.host(rig.change(), [])
    rig.post_alerts()
    assert calls >= 10  # slot, mirror, head, state rows, transitions, run, queue, ...
    print(f"sweeping {calls} storage calls")
    tally = Tally()
    for at in range(1, calls + 1):
        change_and_count(rig, tally, f"break, storage out once at call {at}", "Paused", [at])
        change_and_count(rig, tally, f"fix, storage out twice at call {at}", "On", [at, at])
    assert (tally.lost, tally.doubled) == ([], [])
    assert tally.cases == calls * 2 * 2


def test_teams_and_storage_failing_together_lose_and_double_nothing(rig: Rig) -> None:
    """Teams down (503 through every retry) while storage fails at each call of the alert's
    delivery: the alert is redelivered until it goes out, once."""
    rig.set_rule("Paused")
    rig.host(rig.change(), [])
    texts = drain(rig.azurite.ports, ALERTS_QUEUE)
    calls = storage_calls(rig, lambda: [dispatch_alert_text(t) for t in texts])
    rig.set_rule("On")
    rig.host(rig.change(), [])
    rig.post_alerts()
    tally = Tally()
    for at in range(1, calls + 1):
        rig.teams.answer(Answer(503), Answer(503), Answer(202))
        break_and_fix(rig, tally, f"teams 503 and storage at call {at}", [], [at, at])
        rig.teams.answer(Answer(202))
    assert (tally.lost, tally.doubled) == ([], [])


def test_teams_answering_after_the_timeout_posts_once(rig: Rig) -> None:
    tally = Tally()
    rig.teams.answer(Answer(202, delay=1.0), Answer(202))
    break_and_fix(rig, tally, "teams answers late", [])
    rig.teams.answer(Answer(202))
    assert (tally.lost, tally.doubled) == ([], [])


@pytest.mark.parametrize("kind", ["throttle", "unavailable", "malformed", "not_found"])
def test_graph_faults_on_the_incremental_read_lose_and_double_nothing(rig: Rig, kind: str) -> None:
    """The group re-read fails on the first attempt (429/503 past the retries, truncated JSON,
    a transient 404); the verdict is UNKNOWN meanwhile, never PASS, and the retry settles it."""
    tally = Tally()
    rig.sim.add_fault(
        Fault(
            path=rf"^groups/{AUTOPILOT_GROUP}$",
            kind=kind,  # type: ignore[arg-type]
            times=1 if kind == "not_found" else 2,  # one transient 404; or past the one retry
            retry_after=0,
        )
    )
    break_and_fix(rig, tally, kind, [])
    rig.sim.clear_faults()
    assert (tally.lost, tally.doubled) == ([], [])
