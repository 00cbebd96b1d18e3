"""`python -m bench.scale [--quick] [--synthetic-scale X]` (`make bench`): a tenant-day's cost.

What one tenant costs per day, and 1,000 tenants per month.

One simulated day of trigger invocations per tenant against the Graph simulator and Azurite,
through the real function handlers (timers, `process_change`, `send_alert`, and the webhook
behind a loopback HTTP server that the simulator's subscriptions notify). The loop is scaled
down and multiplied: a few quiet polls of each kind stand for the day's 288, one reconcile for
four, one steady subscription upkeep for two, and six changes (three kinds, each made and
undone) give the cost of one change. Counted per invocation: Graph requests (the simulator's
request log, batch items counted), Table Storage transactions and queue operations (every REST
request the Storage SDKs send), executions and their wall time.

Two tenants are measured: the sample (`samples/contoso-sample.json`) and a synthetic one at
`--synthetic-scale` (default 0.1: 2,000 Autopilot devices). The 20,000-device column is a
straight-line extrapolation through those two points in device count, except the full read's
Graph requests, which are measured on the full-size synthetic tenant; at `--synthetic-scale 1`
the synthetic tenant is the 20,000-device one and its column is measured, not extrapolated
(`make bench` runs it so). The tables between the scale-bench markers of docs/scale.md are
rewritten; the prose around them is not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.data.tables import TableServiceClient

from bench.changes import bootstrap, scenarios
from bench.harness import (
    MIN_BILLED_S,
    REPO,
    Deployment,
    WebhookCalls,
    billable,
    deployment,
    handler,
    table,
    webhook_server,
)
from bench.results import write_section
from monitors.graph.client import GraphClient
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader, chunked, referenced_group_ids
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from monitors.guardrail.subscriptions import wanted_resources
from rules import tenant_collections as tc
from samples.synthetic import LARGE_TENANT, generate_tenant
from tests.graphsim import GraphSimulator
from tests.test_alert_sender import Receiver
from tests.test_function_support import sample_snapshot

RESULTS = REPO / "docs" / "scale.md"
BEGIN = "<!-- scale-bench:begin -->"
END = "<!-- scale-bench:end -->"
LARGE = LARGE_TENANT
TARGET_DEVICES = 20_000
TENANTS = 1_000
DAYS_PER_MONTH = 30

# The schedule (local.settings.example.json, docs/guardrail.md) and an assumed change rate.
PER_DAY = {
    "poll_intune_audit": 288,  # every 5 minutes
    "poll_directory_changes": 288,  # every 5 minutes
    "reconcile": 4,  # every 6 hours: one `full` message per tenant
    "maintain_subscriptions": 2,  # every 12 hours
    "purge_expired_history": 1,  # daily
}
CHANGES_PER_DAY = 20  # assumption: Intune/Entra changes per tenant per day that the guardrail sees
INSTANCE_MEMORY_GB = 2.0  # infra/main.bicep instanceMemoryMB default 2048

# List prices assumed for 2026 (USD, pay as you go). Not looked up: check them on the Azure
# pricing calculator for the region and recompute with the formulas in docs/scale.md.
PRICES = {
    "flex_gb_s": 0.000026,  # Flex Consumption on demand, per GB-s of execution time
    "flex_executions_per_million": 0.40,
    "flex_free_gb_s": 100_000,  # monthly free grant (per subscription)
    "flex_free_executions": 250_000,
    "table_per_10k": 0.00036,  # Table Storage (LRS) transactions, per 10,000
    "table_gb_month": 0.045,  # Table Storage (LRS) capacity, per GB-month
    "queue_per_10k": 0.004,  # Queue Storage (GPv2 LRS) operations, per 10,000
}


@dataclass
class Cost:
    """What a set of invocations cost, and how many invocations it stands for."""

    invocations: int = 0
    executions: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    billable_s: float = 0.0
    graph: int = 0
    intune_graph: int = 0
    storage: Counter[tuple[str, str]] = field(default_factory=Counter)
    alerts: int = 0
    queue_messages: Counter[str] = field(default_factory=Counter)

    def table(self) -> int:
        return sum(n for (service, _), n in self.storage.items() if service == "table")

    def queue_ops(self) -> int:
        return sum(n for (service, _), n in self.storage.items() if service != "table")

    def per_invocation(self) -> dict[str, float]:
        n = max(1, self.invocations)
        return {
            "executions": sum(self.executions.values()) / n,
            "wall_s": self.wall_s / n,
            "billable_s": self.billable_s / n,
            "graph": self.graph / n,
            "intune_graph": self.intune_graph / n,
            "table": self.table() / n,
            "queue_ops": self.queue_ops() / n,
            "changes_messages": self.queue_messages[CHANGES_QUEUE] / n,
            "alerts_messages": self.queue_messages[ALERTS_QUEUE] / n,
        }


class Meter:
    def __init__(self, deployed: Deployment, webhook: WebhookCalls) -> None:
        self.deployed = deployed
        self.webhook = webhook
        self.costs: dict[str, Cost] = {}
        self._current: Cost | None = None

    @contextmanager
    def measure(self, label: str) -> Iterator[Cost]:
        cost = self.costs.setdefault(label, Cost())
        deployed = self.deployed
        deployed.simulator.clear_log()
        before = deployed.storage.snapshot()
        hooks = (self.webhook.executions, self.webhook.seconds, self.webhook.billable_seconds)
        alerts_before = cost.alerts
        self._current = cost
        try:
            yield cost
        finally:
            self._current = None
            after = deployed.storage.snapshot()
            for key in set(after) | set(before):
                if after[key] != before[key]:
                    cost.storage[key] += after[key] - before[key]
            log = [r for r in deployed.simulator.request_log if r.path != "$batch"]
            cost.graph += len(log)
            cost.intune_graph += sum(
                1 for r in log if r.path.startswith(("deviceManagement", "deviceAppManagement"))
            )
            cost.executions["receive_graph_notification"] += self.webhook.executions - hooks[0]
            cost.wall_s += self.webhook.seconds - hooks[1]
            cost.billable_s += self.webhook.billable_seconds - hooks[2]
            # Every app-side put is a `changes` message except the alerts counted on delivery.
            puts = after[("queue", "put message")] - before[("queue", "put message")]
            cost.queue_messages[CHANGES_QUEUE] += puts - (cost.alerts - alerts_before)

    def call(self, name: str, argument: Any) -> Any:
        started = time.perf_counter()
        result = handler(name)(argument)
        elapsed = time.perf_counter() - started
        if self._current is not None:
            self._current.executions[name] += 1
            self._current.wall_s += elapsed
            self._current.billable_s += billable(elapsed)
        return result

    def timer(self, name: str) -> None:
        from azure.functions.timer import TimerRequest

        self.call(name, TimerRequest(past_due=False))

    def deliver(self) -> None:
        """The host's queue triggers: every `changes` message, then every `alerts` message."""
        deployed = self.deployed
        storage = deployed.storage
        for queue, function in ((CHANGES_QUEUE, "process_change"), (ALERTS_QUEUE, "send_alert")):
            client = deployed.queue(queue)
            while True:
                with storage.acting_as("host"):
                    batch = list(client.receive_messages(messages_per_page=16, max_messages=16))
                if not batch:
                    break
                for message in batch:
                    if queue == ALERTS_QUEUE and self._current is not None:
                        self._current.alerts += 1
                        self._current.queue_messages[ALERTS_QUEUE] += 1
                    self.call(
                        function,
                        func.QueueMessage(id=message.id, body=str(message.content).encode()),
                    )
                    with storage.acting_as("host"):
                        client.delete_message(message)


def capacity(deployed: Deployment) -> dict[str, int]:
    """Approximate stored bytes per table: the JSON size of every entity (keys included), a
    binary property counted by its bytes."""
    service = TableServiceClient.from_connection_string(deployed.azurite.table_connection)
    sizes: dict[str, int] = {}
    with deployed.storage.acting_as(None):
        for listed in service.list_tables():
            client = service.get_table_client(listed.name)
            sizes[listed.name] = sum(_entity_size(entity) for entity in client.list_entities())
    return sizes


def _entity_size(entity: Mapping[str, Any]) -> int:
    binary = {k: v for k, v in entity.items() if isinstance(v, bytes | bytearray)}
    rest = {k: v for k, v in entity.items() if k not in binary}
    return len(json.dumps(rest, default=str)) + sum(len(k) + len(v) + 4 for k, v in binary.items())


def alert_settings(teams: Receiver) -> dict[str, str]:
    """Every alert of severity error and above routed to one Teams webhook."""
    return {
        "GREENSCREEN_HISTORY_BASE_URL": "https://greenscreen.example.org",
        "TEAMS_OPS_WEBHOOK": teams.url.reveal(),
        "GREENSCREEN_ALERT_ROUTES": json.dumps(
            [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "error"}]
        ),
    }


def measure_tenant(
    snapshot: dict[str, Any], quiet_polls: int, rounds: int, log: Callable[[str], None]
) -> dict[str, Any]:
    found = scenarios(snapshot)
    teams = Receiver()  # a Teams Workflows webhook on loopback for `send_alert`
    with (
        webhook_server() as (url, calls),
        deployment(
            snapshot, extra_env={**alert_settings(teams), "GREENSCREEN_NOTIFICATION_URL": url}
        ) as deployed,
    ):
        meter = Meter(deployed, calls)
        with meter.measure("bootstrap (once)"):
            started = time.perf_counter()
            bootstrap(deployed)
            meter.costs["bootstrap (once)"].wall_s += time.perf_counter() - started
            meter.costs["bootstrap (once)"].invocations = 1
        with meter.measure("subscriptions created (once)") as cost:
            meter.timer("maintain_subscriptions")
            deployed.simulator.wait_for_deliveries(timeout=1)
            cost.invocations = 1
        log("  quiet polls")
        for _ in range(quiet_polls):
            for name in ("poll_intune_audit", "poll_directory_changes"):
                with meter.measure(name) as cost:
                    meter.timer(name)
                    meter.deliver()
                    cost.invocations += 1
        with meter.measure("maintain_subscriptions") as cost:
            meter.timer("maintain_subscriptions")
            cost.invocations += 1
        log("  reconcile")
        history_before = capacity(deployed)
        with meter.measure("reconcile") as cost:
            meter.timer("reconcile_tenants")
            meter.deliver()
            cost.invocations += 1
        with meter.measure("purge_expired_history") as cost:
            meter.timer("purge_expired_history")
            cost.invocations += 1
        log("  changes")
        for _ in range(rounds):
            for scenario in found:
                for document in (scenario.breaks, scenario.undoes):
                    with meter.measure(f"change:{scenario.poll}") as cost:
                        deployed.simulator.apply_changes(document)
                        deployed.simulator.wait_for_deliveries(timeout=2)
                        meter.timer(scenario.poll)
                        meter.deliver()
                        cost.invocations += 1
        history_after = capacity(deployed)
    teams.close()
    return {
        "costs": meter.costs,
        "capacity": history_after,
        "grown": {k: history_after.get(k, 0) - history_before.get(k, 0) for k in history_after},
        "changes_measured": sum(
            c.invocations for label, c in meter.costs.items() if label.startswith("change:")
        ),
        "reconciles_measured": meter.costs["reconcile"].invocations,
    }


async def _full_read(url: str, tenant_id: str) -> tuple[int, int, float]:
    async with GraphClient(LocalDevelopmentCredential(), base_url=url) as client:
        started = time.perf_counter()
        await TenantReader(client, tenant_id=tenant_id).read()
        return (
            client.stats.graph_requests(),
            client.stats.http_requests,
            (time.perf_counter() - started),
        )


def measure_full_size(scale: float) -> dict[str, Any]:
    """Full read of the large synthetic tenant (Graph requests, Intune share, duration) and the
    sizes that drive the polls: referenced groups (50 per delta query), subscriptions wanted."""
    sizes = {k: max(1, int(v * scale)) for k, v in LARGE.items()}
    tenant = generate_tenant(**sizes)
    with GraphSimulator(tenant) as sim:
        graph, http, seconds = asyncio.run(_full_read(sim.url, tenant["tenantId"]))
        log = [r for r in sim.request_log if r.path != "$batch"]
    intune = sum(1 for r in log if r.path.startswith(("deviceManagement", "deviceAppManagement")))
    return {
        "devices": sizes["devices"],
        "graph": graph,
        "http": http,
        "intune": intune,
        "seconds": seconds,
        **poll_shape(tenant),
    }


def poll_shape(snapshot: Mapping[str, Any]) -> dict[str, int]:
    collections = snapshot["collections"]
    with_groups = [p for p, navs in tc.INLINED_NAVIGATIONS.items() if "assignments" in navs]
    referencing = {p: collections.get(p, []) for p in (*with_groups, tc.MDM_POLICIES)}
    groups = sorted(referenced_group_ids(referencing))
    wanted = wanted_resources(
        list(collections.get(tc.GROUPS, [])), list(collections.get(tc.AUTOPILOT_PROFILES, []))
    )
    return {
        "referenced_groups": len(groups),
        "delta_chunks": len(list(chunked(groups, 50))),
        "subscriptions": len(wanted),
        "devices_in_tenant": len(collections.get(tc.AUTOPILOT_DEVICES, [])),
    }


# -- per day ------------------------------------------------------------------------------------

DAY_ITEMS = [
    ("poll_intune_audit", "Intune audit poll (every 5 min)", PER_DAY["poll_intune_audit"]),
    (
        "poll_directory_changes",
        "directory poll: audits + group/device delta (every 5 min)",
        PER_DAY["poll_directory_changes"],
    ),
    ("reconcile", "reconcile: one full read + evaluation (every 6 h)", PER_DAY["reconcile"]),
    (
        "maintain_subscriptions",
        "subscription upkeep (every 12 h)",
        PER_DAY["maintain_subscriptions"],
    ),
    ("purge_expired_history", "history purge (daily)", PER_DAY["purge_expired_history"]),
    ("change", f"changes ({CHANGES_PER_DAY}/day, assumed)", CHANGES_PER_DAY),
]
METRICS = [
    ("graph", "Graph requests"),
    ("table", "Table transactions"),
    ("queue_ops", "Queue operations"),
    ("changes_messages", "`changes` messages"),
    ("alerts_messages", "`alerts` messages"),
    ("executions", "Function executions"),
    ("billable_s", "billed execution s"),
    ("wall_s", "measured execution s"),
]


def per_invocation(measured: dict[str, Any], key: str) -> dict[str, float]:
    costs: dict[str, Cost] = measured["costs"]
    if key != "change":
        return costs[key].per_invocation()
    # A change is found by a poll that runs anyway: count only what it adds to a quiet poll of
    # the same kind; then the mean over every measured change.
    totals: Counter[str] = Counter()
    count = 0
    for label, cost in costs.items():
        if not label.startswith("change:"):
            continue
        quiet = costs[label.split(":", 1)[1]].per_invocation()
        for metric, value in cost.per_invocation().items():
            totals[metric] += max(0.0, value - quiet[metric]) * cost.invocations
        count += cost.invocations
    return {metric: value / max(1, count) for metric, value in totals.items()}


def extrapolate(small: float, large: float, x_small: int, x_large: int, x: int) -> float:
    """The straight line through (x_small, small) and (x_large, large), at x, when the value
    grows with the tenant; otherwise the larger of the two measurements."""
    if x_large == x_small or large <= small:
        return max(small, large)
    return large + (large - small) * (x - x_large) / (x_large - x_small)


def day_table(
    columns: list[tuple[str, dict[str, dict[str, float]]]],
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """Rows: one per schedule item and metric group; per column the per-day totals."""
    totals: dict[str, dict[str, float]] = {label: Counter() for label, _ in columns}
    rows = []
    for key, label, per_day in DAY_ITEMS:
        cells = []
        for column, per_inv in columns:
            values = per_inv[key]
            for metric, _ in METRICS:
                totals[column][metric] += values[metric] * per_day
            cells.append(
                f"{values['graph'] * per_day:,.0f} / {values['table'] * per_day:,.0f} / "
                f"{values['queue_ops'] * per_day:,.0f}"
            )
        rows.append([label, per_day, *cells])
    rows.append(
        [
            "**per tenant per day**",
            "",
            *(
                f"**{t['graph']:,.0f} / {t['table']:,.0f} / {t['queue_ops']:,.0f}**"
                for t in totals.values()
            ),
        ]
    )
    headers = [
        "invocation",
        "per day",
        *(f"{label}: Graph / table / queue" for label, _ in columns),
    ]
    return table(headers, rows, align="lr" + "r" * len(columns)), totals


def money(value: float) -> str:
    return f"${value:,.2f}"


def render(
    sample: dict[str, Any],
    synthetic: dict[str, Any],
    full: dict[str, Any],
    sample_shape: dict[str, int],
    synthetic_shape: dict[str, int],
    quick: bool,
    elapsed: float,
    synthetic_scale: float,
) -> str:
    x_small, x_large = sample_shape["devices_in_tenant"], synthetic_shape["devices_in_tenant"]
    keys = [key for key, _, _ in DAY_ITEMS]
    sample_inv = {k: per_invocation(sample, k) for k in keys}
    synth_inv = {k: per_invocation(synthetic, k) for k in keys}
    if x_large >= TARGET_DEVICES:  # the synthetic tenant is the full-size one: measured
        return render_measured(
            synthetic,
            full,
            synthetic_shape,
            sample_inv,
            synth_inv,
            x_small,
            x_large,
            quick,
            elapsed,
            synthetic_scale,
        )
    big_inv = {
        k: {
            m: extrapolate(sample_inv[k][m], synth_inv[k][m], x_small, x_large, TARGET_DEVICES)
            for m in synth_inv[k]
        }
        for k in keys
    }
    # The directory poll grows with its `groups/delta` queries (one per 50 referenced groups),
    # counted exactly on the full-size tenant: extrapolate along those instead of devices.
    chunks = (sample_shape["delta_chunks"], synthetic_shape["delta_chunks"], full["delta_chunks"])
    big_inv["poll_directory_changes"] = {
        m: extrapolate(
            sample_inv["poll_directory_changes"][m],
            synth_inv["poll_directory_changes"][m],
            *chunks,
        )
        for m in synth_inv["poll_directory_changes"]
    }
    for values in big_inv.values():
        # Billed time follows the extrapolated wall time (at least 1 s per execution).
        values["billable_s"] = max(values["wall_s"], values["executions"] * MIN_BILLED_S)
    fitted_full_read = big_inv["reconcile"]["graph"]
    # The full read's Graph requests are measured on the full-size tenant; the fit is shown.
    big_inv["reconcile"]["graph"] = float(full["graph"])
    big_inv["reconcile"]["intune_graph"] = float(full["intune"])
    synth_label = f"synthetic, {x_large:,} devices (measured)"
    columns = [
        (f"sample, {x_small} devices (measured)", sample_inv),
        (synth_label, synth_inv),
        (f"{TARGET_DEVICES:,} devices (extrapolated)", big_inv),
    ]
    day_rows, totals = day_table(columns)
    intro = (
        f"Measured by `python -m bench.scale{' --quick' if quick else ''}"
        f"{f' --synthetic-scale {synthetic_scale:g}' if synthetic_scale != 0.1 else ''}` "
        f"({elapsed:.0f} s){'; **quick smoke run, not representative**' if quick else ''}. "
        f"Measured per invocation on the sample tenant and on a synthetic tenant at scale "
        f"{synthetic_scale} ({x_large:,} devices, {synthetic_shape['referenced_groups']:,} "
        "referenced groups); the 20,000-device column is the straight line through both, in "
        "device count (for the directory poll: in `groups/delta` queries, "
        f"{chunks[0]} / {chunks[1]} / {chunks[2]} for the three tenants), except the full "
        "read's Graph requests, measured on the full-size tenant "
        f"({full['graph']:,} Graph requests, {full['http']:,} HTTP; the straight line would say "
        f"{fitted_full_read:,.0f}). Values that do not grow between the two measured tenants "
        "take the larger of the two."
    )
    return render_tables(
        intro, columns, day_rows, totals, big_inv, synthetic, full, x_large, measured=False
    )


def render_measured(
    synthetic: dict[str, Any],
    full: dict[str, Any],
    synthetic_shape: dict[str, int],
    sample_inv: dict[str, dict[str, float]],
    synth_inv: dict[str, dict[str, float]],
    x_small: int,
    x_large: int,
    quick: bool,
    elapsed: float,
    synthetic_scale: float,
) -> str:
    """The cost tables when the synthetic tenant is the 20,000-device one: every per-invocation
    value of its column is measured on it (billed time from its measured executions)."""
    columns = [
        (f"sample, {x_small} devices (measured)", sample_inv),
        (f"synthetic, {x_large:,} devices (measured)", synth_inv),
    ]
    day_rows, totals = day_table(columns)
    intro = (
        f"Measured by `python -m bench.scale{' --quick' if quick else ''} --synthetic-scale "
        f"{synthetic_scale:g}` ({elapsed:.0f} s). Measured per invocation on the sample tenant "
        f"and on the full-size synthetic tenant ({x_large:,} devices, "
        f"{synthetic_shape['referenced_groups']:,} referenced groups): **the "
        f"{x_large:,}-device column is measured, nothing is extrapolated** (the full read on "
        f"its own, for the Graph headroom below: {full['graph']:,} Graph requests, "
        f"{full['http']:,} HTTP)."
    )
    return render_tables(
        intro, columns, day_rows, totals, synth_inv, synthetic, full, x_large, measured=True
    )


def render_tables(
    intro: str,
    columns: list[tuple[str, dict[str, dict[str, float]]]],
    day_rows: list[str],
    totals: dict[str, dict[str, float]],
    big_inv: dict[str, dict[str, float]],
    synthetic: dict[str, Any],
    full: dict[str, Any],
    x_large: int,
    measured: bool,
) -> str:
    """Per-invocation, capacity, monthly cost and headroom tables under `intro`; the cost is
    that of the last column (the 20,000-device one)."""
    big = totals[columns[-1][0]]

    per_inv_rows = []
    for key, label, _ in DAY_ITEMS:
        for column, values in columns:
            v = values[key]
            per_inv_rows.append(
                [
                    label if column == columns[0][0] else "",
                    column.split(" (")[0],
                    f"{v['graph']:,.1f}",
                    f"{v['table']:,.1f}",
                    f"{v['queue_ops']:,.1f}",
                    f"{v['changes_messages']:,.2f}",
                    f"{v['alerts_messages']:,.2f}",
                    f"{v['executions']:,.2f}",
                    f"{v['wall_s']:,.2f}",
                ]
            )

    # -- 1,000 tenants ----------------------------------------------------------------------
    month = DAYS_PER_MONTH * TENANTS
    executions_month = big["executions"] * month
    gb_s_month = big["billable_s"] * INSTANCE_MEMORY_GB * month
    directory_billed = (
        big_inv["poll_directory_changes"]["billable_s"] * PER_DAY["poll_directory_changes"]
    )
    gb_s_measured = big["wall_s"] * INSTANCE_MEMORY_GB * month
    table_month = big["table"] * month
    queue_month = big["queue_ops"] * month
    capacity_gb = sum(synthetic["capacity"].values()) * TARGET_DEVICES / x_large / 1e9 * TENANTS
    history_tables = ("transitions", "runs", "changes")
    grown = sum(v for k, v in synthetic["grown"].items() if k.lower().endswith(history_tables))
    per_event = grown / max(1, synthetic["changes_measured"] + synthetic["reconciles_measured"])
    # History grows with transitions, runs and change events: per change, not per device.
    growth_gb_month = (
        per_event * (CHANGES_PER_DAY + PER_DAY["reconcile"]) * DAYS_PER_MONTH * TENANTS / 1e9
    )
    cost_rows = [
        [
            "Functions executions",
            f"{executions_month:,.0f}",
            f"(E − {PRICES['flex_free_executions']:,}) × ${PRICES['flex_executions_per_million']}"
            " / 1,000,000",
            money(
                max(0.0, executions_month - PRICES["flex_free_executions"])
                * PRICES["flex_executions_per_million"]
                / 1e6
            ),
        ],
        [
            "Functions execution time (GB-s)",
            f"{gb_s_month:,.0f}",
            f"(GB-s − {PRICES['flex_free_gb_s']:,}) × ${PRICES['flex_gb_s']}",
            money(max(0.0, gb_s_month - PRICES["flex_free_gb_s"]) * PRICES["flex_gb_s"]),
        ],
        [
            "Table transactions",
            f"{table_month:,.0f}",
            f"T / 10,000 × ${PRICES['table_per_10k']}",
            money(table_month / 1e4 * PRICES["table_per_10k"]),
        ],
        [
            "Queue operations",
            f"{queue_month:,.0f}",
            f"Q / 10,000 × ${PRICES['queue_per_10k']}",
            money(queue_month / 1e4 * PRICES["queue_per_10k"]),
        ],
        [
            "Table capacity (GB, after a year of history)",
            f"{capacity_gb + 12 * growth_gb_month:,.1f}",
            f"GB × ${PRICES['table_gb_month']} per month",
            money((capacity_gb + 12 * growth_gb_month) * PRICES["table_gb_month"]),
        ],
    ]
    total = sum(float(row[3].strip("$").replace(",", "")) for row in cost_rows)
    cost_rows.append(["**total per month**", "", "", f"**{money(total)}**"])
    without_minimum = max(0.0, gb_s_measured - PRICES["flex_free_gb_s"]) * PRICES["flex_gb_s"]
    cost_rows.append(
        [
            "(execution time without the 1 s minimum: measured seconds only)",
            f"{gb_s_measured:,.0f}",
            "same formula",
            f"({money(without_minimum)})",
        ]
    )

    # -- Graph headroom ---------------------------------------------------------------------
    intune_day = sum(big_inv[k]["intune_graph"] * per_day for k, _, per_day in DAY_ITEMS)
    window_capacity = 1000 * (86_400 / 20)
    burst = full["intune"] / max(full["seconds"], 1e-9) * 20
    headroom_rows = [
        [
            "Intune requests per tenant per day (all polls, reconciles, changes)",
            f"{intune_day:,.0f}",
            f"{intune_day / window_capacity:.3%} of 1,000 per 20 s per app per tenant "
            f"({window_capacity:,.0f}/day)",
        ],
        [
            "Intune requests of one full read (20,000 devices)",
            f"{full['intune']:,} in {full['seconds']:.1f} s on loopback",
            f"~{burst:,.0f} per 20 s at loopback speed (limit 1,000): the client honours 429 + "
            "Retry-After; at Graph's real latency the read spreads over more windows",
        ],
        [
            "Directory requests of one quiet directory poll (20,000 devices)",
            f"{big_inv['poll_directory_changes']['graph']:,.0f}",
            f"{full['referenced_groups']:,} referenced groups, 50 per `groups/delta` query "
            f"({full['delta_chunks']} queries) + `devices/delta` + directory audits",
        ],
        [
            "Subscriptions per tenant (quota 100 per app per tenant)",
            f"{full['subscriptions']}",
            "one `groups` subscription when more than 50 would be needed",
        ],
    ]

    price_rows = [
        ["Flex Consumption, on demand: execution time", f"${PRICES['flex_gb_s']} per GB-s"],
        [
            "Flex Consumption, on demand: executions",
            f"${PRICES['flex_executions_per_million']} per million",
        ],
        [
            "Flex Consumption free grant (per subscription, per month)",
            f"{PRICES['flex_free_gb_s']:,} GB-s and {PRICES['flex_free_executions']:,} executions",
        ],
        ["Minimum billed time per execution (assumed)", "1 s, then 0.1 s steps"],
        ["Instance memory (infra/main.bicep default)", f"{INSTANCE_MEMORY_GB:g} GB"],
        ["Table Storage (LRS) transactions", f"${PRICES['table_per_10k']} per 10,000"],
        ["Table Storage (LRS) capacity", f"${PRICES['table_gb_month']} per GB-month"],
        ["Queue Storage (GPv2, LRS) operations", f"${PRICES['queue_per_10k']} per 10,000"],
    ]
    capacity_rows = [
        [name, f"{size / 1e6:,.2f}"]
        + ([] if measured else [f"{size * TARGET_DEVICES / x_large / 1e6:,.1f}"])
        for name, size in sorted(synthetic["capacity"].items())
        if size
    ]
    capacity_headers = ["table", f"{x_large:,} devices (MB)"] + (
        [] if measured else ["20,000 devices (MB, scaled)"]
    )
    lines = [
        intro,
        "",
        "### Per tenant per day",
        "",
        *day_rows,
        "",
        "Per invocation (a change counts only what it adds to the quiet poll that finds it; "
        "wall time on loopback with Azurite, 2 shared cores):",
        "",
        *table(
            [
                "invocation",
                "tenant",
                "Graph",
                "table",
                "queue ops",
                "`changes` msgs",
                "`alerts` msgs",
                "executions",
                "wall (s)",
            ],
            per_inv_rows,
            align="llrrrrrrr",
        ),
        "",
        "Table capacity (JSON size of the entities, an approximation of billed size) after "
        "the measured loop:",
        "",
        *table(capacity_headers, capacity_rows),
        "",
        "### 1,000 tenants of 20,000 devices",
        "",
        f"Per month ({DAYS_PER_MONTH} days): per-tenant-day totals of the 20,000-device column "
        f"× {TENANTS:,} tenants × {DAYS_PER_MONTH}. GB-s = billed execution seconds × "
        f"{INSTANCE_MEMORY_GB:g} GB (per-execution sum: an upper bound, since concurrent "
        "executions on one instance share its billed time). Capacity: current state "
        f"{'as measured at' if measured else 'scaled to'} 20,000 devices, plus a year of "
        f"history growth ({per_event / 1e3:,.1f} kB per change or reconcile, as measured: "
        "history grows with transitions, not with devices).",
        "",
        *table(["item", "per month", "formula", "cost"], cost_rows, align="lrll"),
        "",
        "Execution time dominates, and it is measured against Azurite on a shared 2-core "
        f"machine{'' if measured else ' and extrapolated'}: read it as an upper bound. To "
        "recompute with your own "
        "times: each second of execution per tenant per day costs "
        f"{TENANTS:,} × {DAYS_PER_MONTH} × {INSTANCE_MEMORY_GB:g} GB × ${PRICES['flex_gb_s']} = "
        f"{money(TENANTS * DAYS_PER_MONTH * INSTANCE_MEMORY_GB * PRICES['flex_gb_s'])} per "
        f"month for {TENANTS:,} tenants. Billed seconds per 20,000-device tenant per day here: "
        f"{big['billable_s']:,.0f} (of which the directory polls {directory_billed:,.0f}"
        f", reconciles {big_inv['reconcile']['billable_s'] * PER_DAY['reconcile']:,.0f}, "
        f"changes {big_inv['change']['billable_s'] * CHANGES_PER_DAY:,.0f}).",
        "",
        "Graph throttling headroom per tenant (Intune limits are per tenant and per app per "
        "tenant, https://learn.microsoft.com/en-us/graph/throttling-limits#intune-service-limits):",
        "",
        *table(["measure", "value", "against the limit"], headroom_rows, align="lrl"),
        "",
        "Prices assumed (list prices, 2026, USD; **assumptions: check them on the Azure pricing "
        "calculator** for your region and agreement):",
        "",
        *table(["item", "assumed price"], price_rows, align="ll"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--synthetic-scale",
        type=float,
        default=0.0,
        help="the synthetic tenant's scale (default 0.1; 1 = 20,000 devices, measured)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    synthetic_scale = args.synthetic_scale or (0.01 if args.quick else 0.1)
    quiet_polls = 2 if args.quick else 6
    log("sample tenant")
    sample_doc = sample_snapshot()
    sample = measure_tenant(sample_doc, quiet_polls, 1, log)
    log(f"synthetic tenant (scale {synthetic_scale})")
    synthetic_doc = generate_tenant(
        **{k: max(1, int(v * synthetic_scale)) for k, v in LARGE.items()}
    )
    synthetic = measure_tenant(synthetic_doc, quiet_polls, 1, log)
    log("full-size read")
    full = measure_full_size(0.05 if args.quick else 1.0)
    elapsed = time.perf_counter() - started
    block = render(
        sample,
        synthetic,
        full,
        poll_shape(sample_doc),
        poll_shape(synthetic_doc),
        args.quick,
        elapsed,
        synthetic_scale,
    )
    print(block)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, block)
        print(f"updated {RESULTS.relative_to(REPO)}", file=sys.stderr)
    log("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
