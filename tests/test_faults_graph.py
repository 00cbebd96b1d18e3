"""Graph faults end to end through the guardrail: two tenants, a full reconcile, one collection of
tenant A broken by the Graph simulator.

Tenant A is the Contoso sample (its deliberate failures included) with its Autopilot devices cut
to the few its device rules judge differently, to keep a reconcile fast; tenant B is the
simulator's small complete tenant, on its own simulator. The baseline is recorded once per
module; each fault case starts from the state the previous one restored.

Every fault that leaves the collection unread makes the rules reading it UNKNOWN with a reason
naming the collection; none of them is PASS; a FAIL becomes UNKNOWN (a recorded transition),
never resolved; tenant B, reconciled in the same run, is untouched. Retries stay within the
budget the settings give (counted in the simulator's request log). When the fault is gone the
next reconcile brings the verdicts back with the transitions that say so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader
from monitors.guardrail.composition import (
    GRAPH_MAX_RETRIES_SETTING,
    GRAPH_RETRY_DELAY_SETTING,
    GRAPH_TIMEOUT_SETTING,
    Services,
    build_services,
    process_change_text,
    reconcile_all,
)
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertBatch, ChangeMessage
from monitors.store.records import StoredStatus, Transition
from rules import tenant_collections as tc
from rules.catalog import all_rules
from rules.engine import evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.graphsim.sample_tenants import tiny_tenant
from tests.test_function_support import drain, guardrail_env, sample_snapshot

BROKEN = tc.MOBILE_APPS  # read by rules with deliberate FAILs in the sample (APP-013, ESP-003, ...)
BROKEN_PATH = rf"^{BROKEN}$"  # the list read only, not the per-app relationships
MAX_RETRIES = 2  # GREENSCREEN_GRAPH_MAX_RETRIES: 429/503 answers retried per request
TIMEOUT_S = 0.5  # GREENSCREEN_GRAPH_TIMEOUT_SECONDS
TRANSPORT_RETRIES = 2  # RetryPolicy.transport_retries (not a setting)
RETRY_DELAY_S = 0.05  # GREENSCREEN_GRAPH_RETRY_DELAY_SECONDS (waits without Retry-After)
# History and runs are read month partition by month partition: look back one day, not years.
SINCE = datetime.now(UTC) - timedelta(days=1)
READERS = frozenset(r.metadata.id for r in all_rules() if BROKEN in r.metadata.graph_reads)

Key = tuple[str, str, str, str]  # rule, scope, subject type, subject id


@dataclass(frozen=True)
class Case:
    fault: Fault
    requests: int  # requests the simulator must see for the broken collection (exactly)
    recovers: bool = False  # the fault ends within the retry budget: nothing changes
    reason: str = ""  # what the UNKNOWN reason must say about the error


CASES: dict[str, Case] = {
    "throttle-storm-within-budget": Case(
        Fault(BROKEN_PATH, "throttle", times=MAX_RETRIES, retry_after=1), MAX_RETRIES + 1, True
    ),
    "throttle-storm-past-budget": Case(
        Fault(BROKEN_PATH, "throttle", times=None, retry_after=1), MAX_RETRIES + 1, reason="429"
    ),
    "503-persistent": Case(
        Fault(BROKEN_PATH, "unavailable", times=None, retry_after=1), MAX_RETRIES + 1, reason="503"
    ),
    "slow-page-past-client-timeout": Case(
        Fault(BROKEN_PATH, "slow", times=None, delay_s=TIMEOUT_S * 3),
        TRANSPORT_RETRIES + 1,
        reason="timed out",
    ),
    "truncated-json": Case(Fault(BROKEN_PATH, "malformed", times=None), 1, reason="malformed JSON"),
    "malformed-json": Case(Fault(BROKEN_PATH, "garbled", times=None), 1, reason="malformed JSON"),
    "looping-next-link": Case(Fault(BROKEN_PATH, "loop", times=None), 2, reason="loops"),
    "403-on-one-collection": Case(
        Fault(BROKEN_PATH, "forbidden", times=None), 1, reason="403 Application is not authorized"
    ),
}


def trimmed_sample() -> dict[str, Any]:
    """The sample with 6 Autopilot devices (the failing ones among them) and their Entra
    objects: the verdicts on apps, profiles and ESPs are the sample's own."""
    document = sample_snapshot()
    collections = document["collections"]
    autopilot = collections[tc.AUTOPILOT_DEVICES]
    failing = {"DEV-001", "DEV-004", "DEV-008"}
    evaluation = evaluate_snapshot(TenantSnapshot.from_document(document))
    keep = {
        f.subject.id
        for f in evaluation.findings
        if f.rule_id in failing and f.status.value == "fail"
    }
    for device in autopilot:
        if len(keep) >= 6:
            break
        keep.add(device["id"])
    kept = [d for d in autopilot if d["id"] in keep]
    entra = {d["azureAdDeviceId"] for d in kept} | {d["azureActiveDirectoryDeviceId"] for d in kept}
    collections[tc.AUTOPILOT_DEVICES] = kept
    collections[tc.DEVICES] = [d for d in collections[tc.DEVICES] if d["deviceId"] in entra]
    return document


def small_tenant() -> dict[str, Any]:
    document = tiny_tenant()
    document["tenantId"] = str(uuid.uuid4())
    return document


@dataclass
class World:
    services: Services
    azurite: Azurite
    sim_a: GraphSimulator
    sim_b: GraphSimulator
    tenant_a: str
    tenant_b: str
    baseline_b: dict[Key, tuple[StoredStatus, str, tuple[str, ...]]]
    unreadable_b: tuple[str, ...]  # what the small tenant never lets anyone read


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[World]:
    with (
        GraphSimulator(trimmed_sample(), seed=1) as sim_a,
        GraphSimulator(small_tenant(), seed=2) as sim_b,
    ):
        drain(azurite, CHANGES_QUEUE)
        drain(azurite, ALERTS_QUEUE)
        tenants = [{"tenantId": tenant_of(sim), "graphUrl": sim.url} for sim in (sim_a, sim_b)]
        env = guardrail_env(azurite, tenants, sim_a.url)
        env[GRAPH_MAX_RETRIES_SETTING] = str(MAX_RETRIES)
        env[GRAPH_TIMEOUT_SETTING] = str(TIMEOUT_S)
        env[GRAPH_RETRY_DELAY_SETTING] = str(RETRY_DELAY_S)
        services = build_services(env)
        assert services.graph_retry.transport_retries == TRANSPORT_RETRIES
        # Baseline: a clean full evaluation of both tenants, FAILs included, alerts nobody.
        reconcile(services, azurite)
        assert drain(azurite, ALERTS_QUEUE) == []
        tenant_a, tenant_b = tenant_of(sim_a), tenant_of(sim_b)
        run_b = services.store.runs(tenant_b, since=SINCE).items[0]
        yield World(
            services,
            azurite,
            sim_a,
            sim_b,
            tenant_a,
            tenant_b,
            verdicts(services, tenant_b),
            run_b.unreadable,
        )
        drain(azurite, CHANGES_QUEUE)
        drain(azurite, ALERTS_QUEUE)


def tenant_of(sim: GraphSimulator) -> str:
    return str(sim.tenant_snapshot()["tenantId"])


def reconcile(services: Services, azurite: Azurite, only: str | None = None) -> dict[str, Any]:
    """The reconcile timer's work: one `full` message per tenant, each processed by the handler
    the `changes` queue trigger calls, at the same time as the host would (`only`: the other
    tenants' messages are dropped)."""
    time.sleep(0.002)  # a new millisecond: each reconcile's messages get their own ids
    reconcile_all(services)
    texts = {
        ChangeMessage.from_text(text).tenant_id: text for text in drain(azurite, CHANGES_QUEUE)
    }
    wanted = {tenant: text for tenant, text in texts.items() if only in (None, tenant)}
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = {
            t: pool.submit(process_change_text, services, text) for t, text in wanted.items()
        }
        outcomes = {tenant: future.result() for tenant, future in futures.items()}
    expected = [t.tenant_id for t in services.settings.tenants if only in (None, t.tenant_id)]
    assert sorted(outcomes) == sorted(expected)
    return outcomes


def verdicts(
    services: Services, tenant: str
) -> dict[Key, tuple[StoredStatus, str, tuple[str, ...]]]:
    state = services.store.current_state(tenant)
    return {
        (v.record.rule_id, v.record.scope_id, v.record.subject_type, v.record.subject_id): (
            v.record.status,
            v.record.message,
            v.record.reasons,
        )
        for v in state.verdicts
    }


def statuses(services: Services, tenant: str) -> dict[Key, StoredStatus]:
    return {key: value[0] for key, value in verdicts(services, tenant).items()}


def transitions_of(
    services: Services, tenant: str, run_id: str, since: datetime
) -> list[Transition]:
    found: list[Transition] = []
    continuation = None
    while True:
        page = services.store.history(
            tenant, since=since, continuation=continuation, page_size=1000
        )
        found.extend(t for t in page.items if t.run_id == run_id)
        continuation = page.continuation
        if continuation is None:
            return found


def moves(transitions: list[Transition]) -> set[tuple[Key, str | None, str]]:
    return {
        (
            (t.record.rule_id, t.record.scope_id, t.record.subject_type, t.record.subject_id),
            t.from_status.value if t.from_status else None,
            t.to_status.value,
        )
        for t in transitions
    }


def broken_requests(sim: GraphSimulator) -> Callable[[], int]:
    return lambda: sum(1 for r in sim.request_log if r.path == BROKEN and not r.in_batch)


def settle(count: Callable[[], int], expected: int) -> int:
    """A `slow` answer is logged when the simulator finishes it, after the client gave up:
    wait (bounded) for the log to catch up. The count asserted is exact either way."""
    deadline = time.monotonic() + 10
    while count() < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count()


@pytest.mark.parametrize("name", list(CASES))
def test_graph_fault_on_one_collection_of_one_tenant(name: str, world: World) -> None:
    case = CASES[name]
    services, azurite, sim_a, sim_b = world.services, world.azurite, world.sim_a, world.sim_b
    tenant_a, tenant_b = world.tenant_a, world.tenant_b
    before = statuses(services, tenant_a)
    if any(k[2] == "mobileApp" and s is StoredStatus.UNKNOWN for k, s in before.items()):
        reconcile(services, azurite, only=tenant_a)  # an earlier case failed before recovering
        drain(azurite, ALERTS_QUEUE)
        before = statuses(services, tenant_a)
    failing = {k for k, s in before.items() if k[0] in READERS and s is StoredStatus.FAIL}
    assert len({k[0] for k in failing}) >= 3, failing  # the sample fails on several readers
    # Passes are counted per (rule, scope), not stored: a subject without a record in a
    # (rule, scope) with passes may have passed.
    passed = {(c.rule_id, c.scope_id) for c in services.store.current_state(tenant_a).passing}

    # The fault: one collection of tenant A, during a reconcile of both tenants.
    started = datetime.now(UTC) - timedelta(seconds=2)  # snapshot times are whole seconds
    sim_a.clear_log()
    sim_b.clear_log()
    sim_a.add_fault(case.fault)
    try:
        outcomes = reconcile(services, azurite)
        seen = settle(broken_requests(sim_a), case.requests)
    finally:
        sim_a.clear_faults()
    assert seen == case.requests, [
        (r.status, r.fault) for r in sim_a.request_log if r.path == BROKEN
    ]
    # The retry budget the settings give: (1 + retries) answers per attempt, (1 + transport
    # retries) attempts, per page (the looping link is the only case with a second page).
    assert seen <= (MAX_RETRIES + 1) * (TRANSPORT_RETRIES + 1) * 2
    assert {o.outcome for o in outcomes.values()} == {"committed"}

    # Tenant B: complete and unaffected, in the same reconcile.
    assert broken_requests(sim_b)() == 1
    assert verdicts(services, tenant_b) == world.baseline_b
    assert outcomes[tenant_b].transitions == ()
    run_b = services.store.runs(tenant_b, since=SINCE).items[0]
    assert (run_b.outcome, run_b.unreadable, run_b.transitions) == (
        "committed",
        world.unreadable_b,
        0,
    )
    assert BROKEN not in run_b.unreadable

    faulted = verdicts(services, tenant_a)
    run_a = services.store.runs(tenant_a, since=SINCE).items[0]
    if case.recovers:
        # Throttled, then answered within the budget: same verdicts, no transition, no alert.
        assert run_a.unreadable == ()
        assert statuses(services, tenant_a) == before
        assert outcomes[tenant_a].transitions == ()
        assert drain(azurite, ALERTS_QUEUE) == []
        return

    assert run_a.unreadable == (BROKEN,)
    fault_moves = moves(list(outcomes[tenant_a].transitions))
    assert moves(transitions_of(services, tenant_a, run_a.run_id, started)) == fault_moves
    blind_findings = set()
    for key, (status, message, reasons) in faulted.items():
        if key[0] not in READERS:
            assert status is before[key], key  # rules that do not read it: untouched
            continue
        said = " ".join((message, *reasons))
        if status is StoredStatus.FAIL and key[2] != "mobileApp":
            continue  # a failure the rule saw in another collection it could read
        assert status is StoredStatus.UNKNOWN, (key, status, said)  # nothing unread is PASS
        assert BROKEN in said, (key, said)
        if (key not in before and key[:2] not in passed) or before.get(
            key
        ) is StoredStatus.RESOLVED:
            blind_findings.add(key)
            assert case.reason in said, (key, said)  # the rule's own "cannot be evaluated"
    assert blind_findings  # the readers that can say why they are blind, say it
    # Every FAIL of a reader on the unread objects became UNKNOWN (recorded), none resolved.
    assert {(k, "fail", "unknown") for k in failing if k[2] == "mobileApp"} <= fault_moves
    assert {to for _, _, to in fault_moves} == {"unknown"}
    assert {k[0] for k, _, _ in fault_moves} == READERS
    # One alert message for the run, one alert per transition, each "unknown", all tenant A.
    alerts = [a for t in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(t).alerts]
    assert len(alerts) == len(fault_moves)
    assert {(a.tenant_id, a.transition["to"]) for a in alerts} == {(tenant_a, "unknown")}

    # The fault is gone: the verdicts come back, each with its transition.
    recovered = reconcile(services, azurite, only=tenant_a)
    after = statuses(services, tenant_a)
    assert {k: s for k, s in after.items() if k in before} == before
    assert {s for k, s in after.items() if k not in before} <= {StoredStatus.RESOLVED}
    expected_back = {k for k, (status, _, _) in faulted.items() if status is not before.get(k)}
    back = moves(list(recovered[tenant_a].transitions))
    assert {k for k, _, _ in back} == expected_back
    for k, was, now in back:
        # Back to its recorded status; without a record it passed, or it is gone (resolved).
        assert was == "unknown", k
        assert now == before[k].value if k in before else now in _QUIET_OR_RESOLVED, (k, now)
    assert {(k, "unknown", "fail") for k in failing if k[2] == "mobileApp"} <= back
    # One message for the run, carrying every transition of it.
    (batch,) = [AlertBatch.from_text(t) for t in drain(azurite, ALERTS_QUEUE)]
    assert len(batch.alerts) == len(back)


_QUIET_OR_RESOLVED = {"resolved", "pass", "not_applicable"}


def read_directly(sim: GraphSimulator, tenant: str, retry: RetryPolicy) -> tuple[Any, Any]:
    async def read() -> tuple[dict[str, Any], Any]:
        async with GraphClient(LocalDevelopmentCredential(), base_url=sim.url, retry=retry) as c:
            return await TenantReader(c, tenant_id=tenant).read(), c.stats

    return asyncio.run(read())


def test_retry_after_longer_than_the_longest_wait_is_not_waited_for() -> None:
    """Graph's retry middleware waits any Retry-After under 180 s; the client hands up an
    answer asking for more than `max_retry_after_s` at once: the collection is unreadable."""
    sample = trimmed_sample()
    retry = RetryPolicy(max_retries=3, base_delay_s=0.05, transport_retries=0, max_retry_after_s=2)
    with GraphSimulator(sample) as sim:
        sim.add_fault(Fault(BROKEN_PATH, "throttle", times=None, retry_after=3))
        snapshot, stats = read_directly(sim, sample["tenantId"], retry)
        throttled = [r for r in sim.request_log if r.path == BROKEN and not r.in_batch]
    assert snapshot["errors"][BROKEN]["status"] == 429
    assert (stats.retry_wait_s, stats.gave_up_waiting, len(throttled)) == (0.0, 1, 1)


def test_retry_after_waits_stop_at_the_clients_total_budget() -> None:
    """Two collections throttled at once, each answer asking for 1 s: the client waits 2 s in
    all (its budget), then hands both 429s up instead of waiting on."""
    sample = trimmed_sample()
    configurations = rf"^{tc.DEVICE_CONFIGURATIONS}$"
    retry = RetryPolicy(max_retries=3, base_delay_s=0.05, transport_retries=0, max_total_wait_s=2)
    with GraphSimulator(sample) as sim:
        for path in (BROKEN_PATH, configurations):
            sim.add_fault(Fault(path, "throttle", times=None, retry_after=1))
        snapshot, stats = read_directly(sim, sample["tenantId"], retry)
        throttled = [r for r in sim.request_log if r.status == 429 and not r.in_batch]
    assert {path: error["status"] for path, error in snapshot["errors"].items()} == {
        BROKEN: 429,
        tc.DEVICE_CONFIGURATIONS: 429,
    }
    assert (stats.retry_wait_s, stats.gave_up_waiting, len(throttled)) == (2.0, 2, 4)
