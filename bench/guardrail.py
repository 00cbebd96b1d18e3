"""`make bench` (`python -m bench.guardrail [--quick]`): the event-driven guardrail under load.

Everything runs on loopback through the real function handlers of `function_app` (indexed once,
called with real `func.HttpRequest` / `func.QueueMessage` / `TimerRequest` objects) against the
Graph simulator and Azurite; the bench plays the Functions host (it takes messages off the
`changes` queue and hands them to `process_change`). Measured:

- webhook: 10,000 group change notifications in POST bodies of 1-100 items through
  `receive_graph_notification`, enqueued on Azurite;
- `process_change` end to end: changes applied through the simulator's mutation API, the poll
  that notices them run at once (the poll interval is excluded), each queued message processed;
  Graph requests and latency per change, detection latency (mutation -> alert on the queue);
- incremental re-evaluation against a full re-read per change (sample and synthetic tenant);
- batched table writes (transactions of 100) against one `upsert_entity` per entity;
- cold start: import time of `function_app` and time to the first handled requests;
- full evaluation of the large synthetic tenant (Graph requests, wall time, peak memory);
- Greenscreen's reader against a naive per-object reader (moderate scale, labelled).

The section between the guardrail-bench markers of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.data.tables import TableServiceClient, UpdateMode

import function_app
from bench.changes import Handled, Scenario, bootstrap, handle, scenarios
from bench.harness import (
    REPO,
    deployment,
    handler,
    median,
    ms,
    percentile,
    table,
)
from bench.results import write_section
from monitors.guardrail.queues import CHANGES_QUEUE
from samples.synthetic import LARGE_TENANT, generate_tenant
from tests.azurite import running_azurite
from tests.graphsim import GraphSimulator
from tests.test_function_support import CLIENT_STATE, sample_snapshot

RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- guardrail-bench:begin -->"
END = "<!-- guardrail-bench:end -->"
HEADING = "## Guardrail and load\n\n"
LARGE = LARGE_TENANT


@dataclass
class Config:
    notifications: int = 10_000
    concurrency: int = 4
    rounds: int = 3  # rounds of every scenario (break + undo) on the sample tenant
    synthetic_scale: float = 0.1
    table_entities: int = 2_000
    cold_runs: int = 5
    full_scale: float = 1.0
    reader_scale: float = 0.25

    @classmethod
    def quick(cls) -> Config:
        return cls(
            notifications=500,
            rounds=1,
            synthetic_scale=0.02,
            table_entities=200,
            cold_runs=2,
            full_scale=0.05,
            reader_scale=0.02,
        )


def sizes(scale: float) -> dict[str, int]:
    return {key: max(1, int(value * scale)) for key, value in LARGE.items()}


def size_label(scale: float) -> str:
    s = sizes(scale)
    return f"{s['devices']:,} devices, {s['apps']:,} apps, {s['groups']:,} groups"


# -- webhook -------------------------------------------------------------------------------------


def notification_bodies(tenant_id: str, total: int, seed: int = 0) -> list[bytes]:
    """Graph-shaped group change notifications, batched like Graph: half the POSTs carry one
    item, the others 2-100; every item names its own group, so each becomes one queue message."""
    rng = random.Random(seed)
    subscriptions = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(20)]
    bodies: list[bytes] = []
    left = total
    while left:
        count = min(left, 1 if rng.random() < 0.5 else rng.randint(2, 100))
        left -= count
        items = []
        for _ in range(count):
            group = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            items.append(
                {
                    "subscriptionId": rng.choice(subscriptions),
                    "subscriptionExpirationDateTime": "2026-12-20T10:00:00.0000000Z",
                    "changeType": "updated",
                    "clientState": CLIENT_STATE,
                    "resource": f"Groups/{group}",
                    "tenantId": tenant_id,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Group",
                        "@odata.id": f"Groups/{group}",
                        "id": group,
                        "organizationId": tenant_id,
                    },
                }
            )
        bodies.append(json.dumps({"value": items}).encode())
    return bodies


def bench_webhook(config: Config) -> dict[str, Any]:
    snapshot = sample_snapshot()
    tenant = snapshot["tenantId"]
    bodies = notification_bodies(tenant, config.notifications)
    with deployment(snapshot) as deployed:
        receive = handler("receive_graph_notification")
        function_app._webhook()  # settings and queue client, built once per instance
        latencies: list[tuple[int, float]] = []

        def post(body: bytes) -> None:
            request = func.HttpRequest(
                method="POST", url="/api/notifications", params={}, body=body
            )
            started = time.perf_counter()
            response = receive(request)
            elapsed = time.perf_counter() - started
            if response.status_code != 202:
                raise RuntimeError(f"webhook answered {response.status_code}")
            latencies.append((body.count(b'"subscriptionId"'), elapsed))

        before = deployed.storage.snapshot()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            list(pool.map(post, bodies))
        wall = time.perf_counter() - started
        after = deployed.storage.snapshot()
        queued = deployed.queue_length(CHANGES_QUEUE)
    puts = after[("queue", "put message")] - before[("queue", "put message")]
    per_request = [seconds for _, seconds in latencies]
    buckets: dict[str, list[float]] = defaultdict(list)
    for items, seconds in latencies:
        label = "1 item" if items == 1 else "2-20 items" if items <= 20 else "21-100 items"
        buckets[label].append(seconds)
    return {
        "notifications": sum(items for items, _ in latencies),
        "requests": len(latencies),
        "wall_s": wall,
        "per_s": sum(items for items, _ in latencies) / wall,
        "requests_per_s": len(latencies) / wall,
        "p50": percentile(per_request, 50),
        "p99": percentile(per_request, 99),
        "max": max(per_request),
        "buckets": {
            k: (len(v), percentile(v, 50), percentile(v, 99)) for k, v in sorted(buckets.items())
        },
        "queue_puts": puts,
        "queued": queued,
        "concurrency": config.concurrency,
    }


# -- process_change end to end -------------------------------------------------------------------


def run_changes(
    snapshot: dict[str, Any], incremental_rounds: int, compare_full: bool
) -> dict[str, Any]:
    """Bootstrap, then `rounds` x (break, undo) of every scenario handled incrementally; with
    `compare_full`, one more round where the break is handled incrementally and its undo by a
    `full` message (what reconcile and `evaluate_now` queue)."""
    found: Sequence[Scenario] = scenarios(snapshot)
    results: list[Handled] = []
    with deployment(snapshot) as deployed:
        bootstrap_s, bootstrap_graph = bootstrap(deployed)
        bootstrap_storage = deployed.storage.total("table")
        for _ in range(incremental_rounds):
            for scenario in found:
                results.append(handle(deployed, scenario, "break", "incremental"))
                results.append(handle(deployed, scenario, "undo", "incremental"))
        if compare_full:
            for scenario in found:
                results.append(handle(deployed, scenario, "break", "incremental"))
                results.append(handle(deployed, scenario, "undo", "full"))
    return {
        "bootstrap_s": bootstrap_s,
        "bootstrap_graph": bootstrap_graph,
        "bootstrap_table": bootstrap_storage,
        "results": results,
    }


def summarize(results: Sequence[Handled], mode: str) -> dict[str, Any]:
    chosen = [r for r in results if r.mode == mode]
    end_to_end = sum(r.poll_s + r.process_s for r in chosen)
    detections = [r.detection_s for r in chosen if r.detection_s is not None]
    return {
        "changes": len(chosen),
        "per_s": len(chosen) / end_to_end if end_to_end else 0.0,
        "graph_mean": sum(r.process_graph for r in chosen) / max(1, len(chosen)),
        "poll_graph_mean": sum(r.poll_graph for r in chosen) / max(1, len(chosen)),
        "p50": percentile([r.process_s for r in chosen], 50) if chosen else 0.0,
        "p99": percentile([r.process_s for r in chosen], 99) if chosen else 0.0,
        "detect_p50": percentile(detections, 50) if detections else None,
        "detect_max": max(detections) if detections else None,
        "table_mean": sum(
            n for r in chosen for (service, _), n in r.storage.items() if service == "table"
        )
        / max(1, len(chosen)),
    }


def by_kind(results: Sequence[Handled]) -> list[list[Any]]:
    rows = []
    kinds = dict.fromkeys((r.kind, r.mode) for r in results)
    for kind, mode in kinds:
        chosen = [r for r in results if (r.kind, r.mode) == (kind, mode)]
        detections = [r.detection_s for r in chosen if r.detection_s is not None]
        tables = [
            sum(n for (service, _), n in r.storage.items() if service == "table") for r in chosen
        ]
        rows.append(
            [
                kind,
                "full re-read" if mode == "full" else "incremental",
                len(chosen),
                f"{sum(r.poll_graph for r in chosen) / len(chosen):.1f}",
                f"{sum(r.process_graph for r in chosen) / len(chosen):.1f}",
                ms(percentile([r.process_s for r in chosen], 50)),
                ms(max(r.process_s for r in chosen)),
                ms(percentile(detections, 50)) if detections else "n/a",
                f"{sum(tables) / len(tables):.0f}",
                f"{sum(r.alerts for r in chosen) / len(chosen):.1f}",
            ]
        )
    return rows


# -- incremental vs full on the synthetic tenant -------------------------------------------------


def paired(results: Sequence[Handled]) -> list[list[Any]]:
    """Per scenario: median of its changes handled incrementally against those handled by a
    full re-read (the undo of the compare round)."""
    rows = []
    for kind in dict.fromkeys(r.kind for r in results):
        incremental = [r for r in results if r.kind == kind and r.mode == "incremental"]
        full = [r for r in results if r.kind == kind and r.mode == "full"]
        if not incremental or not full:
            continue
        inc_graph = median([r.process_graph for r in incremental])
        inc_s = median([r.process_s for r in incremental])
        full_graph = median([r.process_graph for r in full])
        full_s = median([r.process_s for r in full])
        rows.append([kind, inc_graph, inc_s, full_graph, full_s])
    return rows


# -- table writes --------------------------------------------------------------------------------


def bench_table_writes(count: int) -> dict[str, Any]:
    entities = [
        {
            "PartitionKey": f"bench-{i // 100:03d}",
            "RowKey": f"row-{i:06d}",
            "Status": "pass",
            "Seq": i,
            "Detail": "x" * 200,
        }
        for i in range(count)
    ]
    with running_azurite() as azurite:
        service = TableServiceClient.from_connection_string(azurite.table_connection)
        batched = service.create_table("benchbatched")
        single = service.create_table("benchsingle")
        started = time.perf_counter()
        for start in range(0, count, 100):
            batched.submit_transaction(
                [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities[start : start + 100]]
            )
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        for entity in entities:
            single.upsert_entity(entity, mode=UpdateMode.REPLACE)
        single_s = time.perf_counter() - started
        stored = sum(1 for _ in batched.list_entities(select=["RowKey"]))
        stored_single = sum(1 for _ in single.list_entities(select=["RowKey"]))
    return {
        "entities": count,
        "batched_s": batched_s,
        "batched_requests": (count + 99) // 100,
        "single_s": single_s,
        "single_requests": count,
        "stored": (stored, stored_single),
    }


# -- cold start ----------------------------------------------------------------------------------

COLD_CHILD = """
import json, time
started = time.perf_counter()
import function_app
imported = time.perf_counter()
functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
indexed = time.perf_counter()
import azure.functions as func
reply = functions["receive_graph_notification"](func.HttpRequest(
    method="POST", url="/api/notifications", params={"validationToken": "bench"}, body=b""))
assert reply.status_code == 200 and reply.get_body() == b"bench"
handshake = time.perf_counter()
answer = functions["readiness"](func.HttpRequest(
    method="GET", url="/api/readiness", params={"tenant": TENANT}, body=b""))
queried = time.perf_counter()
print(json.dumps({"import": imported - started, "index": indexed - imported,
    "handshake": handshake - indexed, "readiness": queried - handshake,
    "readiness_status": answer.status_code}))
"""


def run_python(args: list[str], env: dict[str, str] | None = None) -> str:
    """This interpreter with fixed arguments (no shell); its standard output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter, arguments fixed by the bench
        [sys.executable, *args], env=env, cwd=REPO, check=True, capture_output=True, text=True
    )
    return done.stdout


def bench_cold_start(runs: int) -> dict[str, Any]:
    tenant = str(uuid.uuid4())
    with running_azurite() as azurite:
        env = dict(os.environ)
        env["GREENSCREEN_STORAGE_CONNECTION"] = azurite.table_connection
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        code = COLD_CHILD.replace("TENANT", repr(tenant))
        run_python(["-c", code], env)  # warm the file cache and bytecode
        bare: list[float] = []
        children: list[dict[str, float]] = []
        walls: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            run_python(["-c", "pass"], env)
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            output = run_python(["-c", code], env)
            walls.append(time.perf_counter() - started)
            children.append(json.loads(output.strip().splitlines()[-1]))
    return {
        "runs": runs,
        "interpreter": median(bare),
        "import": median([c["import"] for c in children]),
        "index": median([c["index"] for c in children]),
        "handshake": median([c["handshake"] for c in children]),
        "readiness": median([c["readiness"] for c in children]),
        "readiness_status": children[0]["readiness_status"],
        "first_handshake_wall": median(
            [w - c["readiness"] for w, c in zip(walls, children, strict=True)]
        ),
        "wall": median(walls),
    }


# -- full evaluation and the reader comparison ---------------------------------------------------


def bench_full_evaluation(scale: float) -> dict[str, Any]:
    tenant = generate_tenant(**sizes(scale))
    with GraphSimulator(tenant) as sim:
        output = run_python(["-m", "bench.full_eval", sim.url, tenant["tenantId"]])
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["scale"] = scale
    return result


def bench_readers(scale: float) -> dict[str, Any]:
    from bench.run import minimum_requests, read_naively, read_with_greenscreen

    tenant = generate_tenant(**sizes(scale))
    with GraphSimulator(tenant) as sim:
        _, ours = asyncio.run(read_with_greenscreen(sim.url, tenant["tenantId"]))
        minimum = minimum_requests(tenant, sim)
        naive = asyncio.run(read_naively(sim.url, tenant))
    return {"scale": scale, "ours": ours, "naive": naive, "minimum": minimum}


# -- report --------------------------------------------------------------------------------------


def render(
    config: Config,
    quick: bool,
    webhook: dict[str, Any],
    sample: dict[str, Any],
    synthetic: dict[str, Any],
    writes: dict[str, Any],
    cold: dict[str, Any],
    full: dict[str, Any],
    readers: dict[str, Any],
    elapsed: float,
) -> str:
    inc = summarize(sample["results"], "incremental")
    syn_pairs = paired(synthetic["results"])
    sample_pairs = paired(sample["results"])
    syn_label = f"synthetic scale {config.synthetic_scale} ({size_label(config.synthetic_scale)})"
    inc_graph = median([p[1] for p in syn_pairs]) if syn_pairs else 0
    full_graph = median([p[3] for p in syn_pairs]) if syn_pairs else 0
    inc_s = median([p[2] for p in syn_pairs]) if syn_pairs else 0.0
    full_s = median([p[4] for p in syn_pairs]) if syn_pairs else 0.0
    ours, naive = readers["ours"], readers["naive"]
    command = "`python -m bench.guardrail" + (" --quick`" if quick else "`")
    summary = table(
        ["measurement", "value", "comparison / baseline", "command"],
        [
            [
                f"Webhook: {webhook['notifications']:,} notifications in {webhook['requests']} "
                f"POSTs (1-100 items), {webhook['concurrency']} concurrent",
                f"{webhook['per_s']:,.0f} notifications/s sustained; per POST p50 "
                f"{ms(webhook['p50'])} ms, p99 {ms(webhook['p99'])} ms",
                "Graph's limits: answer within 3 s, slow above 2.9 s",
                command,
            ],
            [
                "`process_change` end to end (sample tenant, poll + process, one worker)",
                f"{inc['per_s']:.2f} changes/s; {inc['graph_mean']:.1f} Graph requests per "
                f"change (+{inc['poll_graph_mean']:.1f} for the poll); p50 {ms(inc['p50'])} ms",
                f"{inc['changes']} changes of 3 kinds",
                command,
            ],
            [
                "Detection latency, mutation -> alert queued (poll run at once)",
                f"p50 {ms(inc['detect_p50'] or 0)} ms, max {ms(inc['detect_max'] or 0)} ms",
                "plus the poll interval (5 min) in production",
                command,
            ],
            [
                f"Full evaluation, large synthetic tenant ({size_label(full['scale'])})",
                f"{full['graph_requests']:,} Graph requests, {full['total_s']:.1f} s, peak RSS "
                f"{full['peak_rss_mib']:.0f} MiB",
                f"read {full['read_s']:.1f} s + model {full['model_s']:.1f} s + rules "
                f"{full['evaluate_s']:.1f} s",
                command,
            ],
            [
                f"Reader vs naive per-object reader (synthetic scale {readers['scale']})",
                f"{ours.graph_requests:,} Graph requests ({ours.http_requests:,} HTTP), "
                f"{ours.seconds:.2f} s",
                f"naive: {naive.graph_requests:,} requests, {naive.seconds:.2f} s "
                f"({naive.graph_requests / max(1, ours.graph_requests):.1f}x requests)",
                command,
            ],
            [
                "Incremental re-evaluation vs full re-read per change (synthetic scale "
                f"{config.synthetic_scale}: {size_label(config.synthetic_scale)})",
                f"{inc_graph:g} Graph requests, {inc_s:.2f} s per change (median)",
                f"full re-read: {full_graph:g} Graph requests, {full_s:.2f} s",
                command,
            ],
            [
                f"Table writes, {writes['entities']:,} entities",
                f"transactions of 100: {writes['batched_requests']} requests, "
                f"{writes['batched_s']:.2f} s",
                f"one by one: {writes['single_requests']:,} requests, {writes['single_s']:.2f} s "
                f"({writes['single_s'] / max(writes['batched_s'], 1e-9):.0f}x slower)",
                command,
            ],
            [
                f"Cold start: `import function_app` (fresh interpreter, median of {cold['runs']})",
                f"{ms(cold['import'])} ms",
                f"interpreter alone {ms(cold['interpreter'])} ms",
                command,
            ],
            [
                "Cold start: time to the first handled request (new process)",
                f"handshake answered {ms(cold['first_handshake_wall'])} ms after spawn; first "
                f"readiness query {ms(cold['wall'])} ms",
                f"index {ms(cold['index'])} ms, handshake {ms(cold['handshake'])} ms, "
                f"readiness {ms(cold['readiness'])} ms in the handler",
                command,
            ],
        ],
        align="llll",
    )
    webhook_rows = [
        [label, n, ms(p50), ms(p99)] for label, (n, p50, p99) in webhook["buckets"].items()
    ]
    change_rows = by_kind(sample["results"])
    syn_rows = by_kind(synthetic["results"])
    pair_rows = [
        [
            label,
            kind,
            f"{ig:g}",
            f"{i_s:.2f}",
            f"{fg:g}",
            f"{f_s:.2f}",
            f"{fg / max(ig, 1):.0f}x / {f_s / max(i_s, 1e-9):.1f}x",
        ]
        for label, pairs in (("sample", sample_pairs), (syn_label, syn_pairs))
        for kind, ig, i_s, fg, f_s in pairs
    ]
    change_headers = [
        "change",
        "handled by",
        "n",
        "poll Graph requests",
        "process Graph requests",
        "process p50 (ms)",
        "process max (ms)",
        "detection p50 (ms)",
        "table transactions",
        "alerts",
    ]
    lines = [
        "Everything on loopback through the real function handlers (`function_app`, indexed once) "
        "against the Graph simulator and Azurite in memory; the bench plays the Functions host "
        "(timers called, `changes` messages handed to `process_change` one at a time). Wall "
        "times depend on the machine (2 shared cores); request and transaction counts do not."
        + (" **Quick smoke run: small sizes, numbers not representative.**" if quick else ""),
        "",
        *summary,
        "",
        "### Webhook (`receive_graph_notification`)",
        "",
        f"{webhook['notifications']:,} group change notifications (Graph's shape, right "
        f"clientState, each naming its own group) in {webhook['requests']} POST bodies: half "
        "carry one item, the others 2-100. Every item becomes one `changes` message on Azurite "
        f"({webhook['queue_puts']:,} queue writes, {webhook['queued']:,} messages queued). "
        f"{webhook['concurrency']} requests at a time; {webhook['wall_s']:.1f} s in all, "
        f"{webhook['requests_per_s']:.0f} POSTs/s.",
        "",
        *table(["POST body", "POSTs", "p50 (ms)", "p99 (ms)"], webhook_rows),
        "",
        "### `process_change` per change (sample tenant)",
        "",
        "Sample tenant (`samples/contoso-sample.json`); bootstrap: one `full` message, "
        f"{sample['bootstrap_graph']} Graph requests, {sample['bootstrap_s']:.2f} s. Each change "
        "is applied through the simulator's mutation API and undone the same way; the poll that "
        "notices it (`poll_intune_audit` for Intune objects, `poll_directory_changes` for groups) "
        "runs at once; every queued message goes through `process_change`. Graph requests as "
        "throttling counts them (batch items counted, envelopes not), from the simulator's "
        "request log. Detection latency: from the mutation to the first alert on the `alerts` "
        "queue (poll + queue hop + `process_change`). Table transactions: REST requests of the "
        "whole change (poll and processing), a table transaction of up to 100 entities is one.",
        "",
        *table(change_headers, change_rows),
        "",
        "### Incremental re-evaluation against a full re-read per change",
        "",
        "The same scenarios: each change handled incrementally (its poll's message), and in a "
        "last round each undo handled through a `full` message instead (what reconcile and "
        "`evaluate_now` queue: the whole tenant read, mirrored and evaluated). "
        f"{syn_label}: bootstrap {synthetic['bootstrap_graph']:,} Graph requests, "
        f"{synthetic['bootstrap_s']:.1f} s, {synthetic['bootstrap_table']:,} table transactions.",
        "",
        *table(
            [
                "tenant",
                "change",
                "incremental Graph requests",
                "incremental (s)",
                "full Graph requests",
                "full (s)",
                "full / incremental",
            ],
            pair_rows,
        ),
        "",
        *table(change_headers, syn_rows),
        "",
        "### Batched table writes, cold start, full evaluation",
        "",
        *table(
            ["table writes (Azurite)", "requests", "wall time (s)", "entities/s"],
            [
                [
                    "transactions of 100",
                    writes["batched_requests"],
                    f"{writes['batched_s']:.2f}",
                    f"{writes['entities'] / writes['batched_s']:,.0f}",
                ],
                [
                    "one `upsert_entity` each",
                    writes["single_requests"],
                    f"{writes['single_s']:.2f}",
                    f"{writes['entities'] / writes['single_s']:,.0f}",
                ],
            ],
        ),
        "",
        *table(
            [f"cold start (median of {cold['runs']} new processes)", "ms"],
            [
                ["interpreter start (`python -c pass`)", ms(cold["interpreter"])],
                ["`import function_app`", ms(cold["import"])],
                ["index the functions (`app.get_functions()`)", ms(cold["index"])],
                ["first validation handshake in the handler", ms(cold["handshake"])],
                [
                    "first readiness query in the handler (builds the store, one query)",
                    ms(cold["readiness"]),
                ],
                ["spawn to handshake answered", ms(cold["first_handshake_wall"])],
                ["spawn to first readiness answer, process exit", ms(cold["wall"])],
            ],
        ),
        "",
        f"Full evaluation ({size_label(full['scale'])}, synthetic seed 0) in a process of its "
        f"own (`python -m bench.full_eval`): {full['http_requests']:,} HTTP requests, "
        f"{full['graph_requests']:,} Graph requests, {full['findings']:,} findings, "
        f"{full['errors']} unreadable collections; peak RSS of that process "
        f"{full['peak_rss_mib']:.0f} MiB.",
        "",
        f"Reader comparison at synthetic scale {readers['scale']} "
        f"({size_label(readers['scale'])}): Greenscreen {ours.http_requests:,} HTTP / "
        f"{ours.graph_requests:,} Graph requests in {ours.seconds:.2f} s (minimum possible "
        f"{readers['minimum']:,} HTTP); naive {naive.graph_requests:,} in {naive.seconds:.2f} s. "
        "The full-size comparison is the reader-bench table above.",
        "",
        f"Benchmark wall time {elapsed:.0f} s. Command: {command} (part of `make bench`).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    config = Config.quick() if args.quick else Config()
    started = time.perf_counter()

    def step(name: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {name}", file=sys.stderr, flush=True)

    step("webhook")
    webhook = bench_webhook(config)
    step("process_change on the sample tenant")
    sample = run_changes(sample_snapshot(), config.rounds, compare_full=True)
    step(f"process_change on the synthetic tenant (scale {config.synthetic_scale})")
    synthetic_tenant = generate_tenant(**sizes(config.synthetic_scale))
    synthetic = run_changes(synthetic_tenant, 1, compare_full=True)
    del synthetic_tenant
    step("table writes")
    writes = bench_table_writes(config.table_entities)
    step("cold start")
    cold = bench_cold_start(config.cold_runs)
    step(f"full evaluation (scale {config.full_scale})")
    full = bench_full_evaluation(config.full_scale)
    step(f"readers (scale {config.reader_scale})")
    readers = bench_readers(config.reader_scale)
    elapsed = time.perf_counter() - started
    block = render(
        config, args.quick, webhook, sample, synthetic, writes, cold, full, readers, elapsed
    )
    print(block)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, block, HEADING)
        print(f"updated {RESULTS.relative_to(REPO)}", file=sys.stderr)
    step("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
