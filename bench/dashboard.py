"""What a dashboard page costs on the synthetic tenant stored in Azurite, at several sizes.

Per scale (of `generate_tenant()` defaults): the tenant is evaluated twice (a baseline, then
with one Autopilot group paused: transitions), each evaluation recorded by the verdict store
and summarized as the guardrail does after recording (`summarize_recorded`: the readiness
summary and, for these evaluations of every rule, the per-device readiness). Each page is then
rendered through `monitors.dashboard.pages.respond`, as the Function app and `greenscreen serve`
do, by a new dashboard (cold: nothing cached) and again (warm).

`--lean` records only the verdicts that differ between the two evaluations (the transitions
the timeline shows; the store's head names every rule as evaluated) and keeps no mirror: the
views read the head, the summary and the transitions, never the state rows, and the
20,000-device tenant's 167,841 rows do not fit Azurite here. The fallback without a summary
(scan the state partition, load the mirror and run the rules) is then not measured.
Results go to docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from bench.results import write_section
from bench.store import SIZES, _later, _pause_first_group
from monitors.dashboard import summary as summaries
from monitors.dashboard.access import LOCAL_PRINCIPAL
from monitors.dashboard.pages import PageResponse, respond
from monitors.dashboard.views import Dashboard
from monitors.guardrail.mirror import TenantMirror
from monitors.store.records import RunInfo
from monitors.store.verdict_store import VerdictStore
from rules.engine import Evaluation, evaluate_snapshot
from rules.findings import Finding, Status
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant
from tests.azurite import running_azurite

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- dashboard-bench:begin -->"
END = "<!-- dashboard-bench:end -->"
VIEWS = (
    ("tenant page (profiles, findings, devices at risk, chart)", "tenant"),
    ("profile view (the paused group's profile)", "profile"),
    ("timeline page (50 transitions, causes)", "timeline"),
    ("device lookup by serial number", "device"),
    ("devices at risk, page 20", "devicePage"),
    ("all tenants (MSP overview)", ""),
)


@dataclass
class Measured:
    scale: float
    devices: int
    findings: int
    not_green: int
    lean: bool
    record_s: float = 0.0
    summary_s: float = 0.0
    summary_rules_kib: int = 0
    device_entities: int = 0
    cold: dict[str, float] = field(default_factory=dict)
    warm: dict[str, float] = field(default_factory=dict)
    fallback: dict[str, float] = field(default_factory=dict)


def _timed(render: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = render()
    return time.perf_counter() - started, value


def _summary_size(service: TableServiceClient, tenant: str) -> tuple[int, int]:
    """KiB of the rule entities' text, and the number of per-device entities."""
    table = service.get_table_client(summaries.SUMMARY_TABLE)
    chars, devices = 0, 0
    for entity in table.query_entities("PartitionKey eq @pk", parameters={"pk": tenant}):
        if str(entity["RowKey"]).startswith("devices|"):
            devices += 1
        else:
            chars += sum(len(v) for v in entity.values() if isinstance(v, str))
    return chars * 2 // 1024, devices


def _verdict_key(finding: Finding) -> tuple[str, str, str, str]:
    scope = finding.scope.profile_id if finding.scope else ""
    return (finding.rule_id, scope, finding.subject.type, finding.subject.id)


def _changed_verdicts(before: Evaluation, after: Evaluation) -> set[tuple[str, str, str, str]]:
    """The (rule, profile, subject) whose status differs between the two evaluations."""
    old = {_verdict_key(f): f.status for f in before.findings}
    new = {_verdict_key(f): f.status for f in after.findings}
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def measure(scale: float, lean: bool) -> Measured:
    sizes = {key: max(1, int(value * scale)) for key, value in SIZES.items()}
    base = generate_tenant(**sizes)
    tenant = str(base["tenantId"]).lower()
    paused = _later(_pause_first_group(base), 1)
    with running_azurite() as storage:
        service = TableServiceClient.from_connection_string(storage.table_connection)
        store = VerdictStore(service)
        store.ensure_tables()
        measured: Measured | None = None
        snapshots = [TenantSnapshot.from_document(d) for d in (base, paused)]
        evaluations = [evaluate_snapshot(snapshot) for snapshot in snapshots]
        changed = _changed_verdicts(*evaluations)
        for snapshot, evaluation in zip(snapshots, evaluations, strict=True):
            recorded = evaluation
            if lean:
                kept = tuple(f for f in evaluation.findings if _verdict_key(f) in changed)
                recorded = replace(evaluation, findings=kept)
            run = RunInfo(str(uuid.uuid4()), "bench", datetime.now(UTC))
            started = time.perf_counter()
            result = store.record_evaluation(tenant, recorded, run)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            summaries.summarize_recorded(store, evaluation, result, snapshot)
            written = time.perf_counter() - started
            measured = Measured(
                scale,
                sizes["devices"],
                len(evaluation.findings),
                sum(1 for f in evaluation.findings if f.status in (Status.FAIL, Status.UNKNOWN)),
                lean,
                record_s=seconds,
                summary_s=written,
            )
        assert measured is not None
        if not lean:
            mirror = TenantMirror(service)
            mirror.ensure_table()
            mirror.save_snapshot(tenant, paused)
        measured.summary_rules_kib, measured.device_entities = _summary_size(service, tenant)
        profile = str(
            next(
                p["id"]
                for p in paused["collections"][
                    "deviceManagement/windowsAutopilotDeploymentProfiles"
                ]
            )
        )
        serial = next(
            d["serialNumber"]
            for d in paused["collections"]["deviceManagement/windowsAutopilotDeviceIdentities"]
            if d.get("serialNumber")
        )
        params: dict[str, tuple[str, dict[str, str]]] = {
            "tenant": ("tenant", {"tenant": tenant}),
            "profile": ("tenant", {"tenant": tenant, "profile": profile}),
            "timeline": ("timeline", {"tenant": tenant}),
            "device": ("device", {"tenant": tenant, "serial": serial}),
            "devicePage": ("tenant", {"tenant": tenant, "devicePage": "20"}),
            "": ("", {}),
        }
        # Templates compile once per process: compile them on an empty tenant first.
        for view, given in params.values():
            other = {k: ("warmup.example" if k == "tenant" else v) for k, v in given.items()}
            empty = Dashboard(service, store, TenantMirror(service))
            respond(empty, LOCAL_PRINCIPAL, view, other, base="")
        for _, key in VIEWS:
            view, given = params[key]
            board = Dashboard(service, store, TenantMirror(service), [tenant])

            def render(
                b: Dashboard = board, v: str = view, p: dict[str, str] = given
            ) -> PageResponse:
                return respond(b, LOCAL_PRINCIPAL, v, p, base="")

            cold, response = _timed(render)
            warm, again = _timed(render)
            assert response.status == again.status == 200, response.body[-500:]
            assert 'id="source-scan"' not in response.body, "the page did not read the summary"
            measured.cold[key], measured.warm[key] = cold, warm
        if not lean:
            fresh = Dashboard(service, store, TenantMirror(service), [tenant])
            measured.fallback["scan"], _ = _timed(lambda: fresh._summary(tenant))
            measured.fallback["devices"], _ = _timed(lambda: fresh._devices(tenant))
    return measured


def _devices(m: Measured) -> str:
    return f"{m.devices:,} devices" + (" (lean)" if m.lean else "")


def table(results: list[Measured], command: str) -> str:
    head = "| view | " + " | ".join(_devices(m) for m in results) + " |"
    rule = "|---|" + "---:|" * len(results)
    lines = [
        "Pages rendered by `monitors.dashboard.pages.respond` (as the Function app and "
        "`greenscreen serve` render them) over the synthetic tenant (seed 0, scaled from "
        "`generate_tenant()` defaults) in Azurite 3.35 in memory: a baseline and an evaluation "
        "with one Autopilot group paused, each recorded and then summarized as the guardrail "
        "does (`summarize_recorded`). Wall time on 2 shared cores. *Cold*: a new dashboard "
        "instance (nothing cached), the first view after the evaluation; every view reads the "
        "store's head (one entity) and the readiness summary (one entity per rule, the "
        "findings left out for the overview) or the stored per-device readiness (one or two "
        "entities), never the state partition or the mirror. *Lean*: only the verdicts that "
        "differ between the two evaluations recorded (the transitions; the store's head names "
        "every rule) and no mirror kept, because the 20,000-device tenant's full state, "
        "167,841 rows, does not fit Azurite here; the views read the same entities either "
        "way.",
        "",
        "Cold, in seconds:",
        "",
        head,
        rule,
    ]
    for label, key in VIEWS:
        lines.append(f"| {label} | " + " | ".join(f"{m.cold[key]:.3f}" for m in results) + " |")
    lines += ["", "Warm (the same view again, same instance), in seconds:", "", head, rule]
    for label, key in VIEWS:
        lines.append(f"| {label} | " + " | ".join(f"{m.warm[key]:.3f}" for m in results) + " |")
    lines += [
        "",
        "Written at evaluation time (the paused-group evaluation: the summary and per-device "
        "readiness, as `summarize_recorded` writes them after the store commits), and what is "
        "stored:",
        "",
        "| | " + " | ".join(_devices(m) for m in results) + " |",
        rule,
        "| findings (failing or unknown) | "
        + " | ".join(f"{m.findings:,} ({m.not_green:,})" for m in results)
        + " |",
        "| recording the verdicts (s) | "
        + " | ".join("lean" if m.lean else f"{m.record_s:.1f}" for m in results)
        + " |",
        "| summary and per-device readiness computed and written (s) | "
        + " | ".join(f"{m.summary_s:.1f}" for m in results)
        + " |",
        "| rule entities of the summary (KiB) | "
        + " | ".join(f"{m.summary_rules_kib:,}" for m in results)
        + " |",
        "| per-device entities (buckets by serial, at-risk pages) | "
        + " | ".join(f"{m.device_entities:,}" for m in results)
        + " |",
    ]
    full = [m for m in results if not m.lean]
    if full:
        lines += [
            "",
            "Without a summary (data of an older version, or a writer that died between "
            "commit and summary), the pages fall back to what they did before, once per "
            "evaluation and instance: "
            + "; ".join(
                f"{_devices(m)}: state partition scanned {m.fallback['scan']:.2f} s, "
                f"mirror loaded and rules run for per-device readiness "
                f"{m.fallback['devices']:.2f} s"
                for m in full
            )
            + ".",
        ]
    lines += ["", f"Command: `{command}`."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard")
    parser.add_argument(
        "--scale", type=float, nargs="+", default=[0.1], help="tenant sizes (1 = full)"
    )
    parser.add_argument(
        "--lean", type=float, nargs="*", default=[], help="scales to store lean (see above)"
    )
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    command = "python -m bench.dashboard --scale " + " ".join(f"{s:g}" for s in args.scale)
    if args.lean:
        command += " --lean " + " ".join(f"{s:g}" for s in args.lean)
    results = []
    for scale in args.scale:
        results.append(measure(scale, scale in args.lean))
        print(table(results, command), flush=True)
    if args.write:
        write_section(RESULTS, BEGIN, END, table(results, command), "## Dashboard pages\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
