"""`python -m bench.change_scale [--scale 1.0]`: one change through `process_change` at scale.

The synthetic tenant (scale 1 = `generate_tenant()` defaults: 20,000 devices, 2,000 apps, 5,000
groups) is served by the Graph simulator; Azurite holds the store, the mirror and the queues;
the real function handlers run (as in `bench.guardrail`). After the bootstrap (a `full`
message: the whole tenant read, mirrored, evaluated and recorded as the baseline), every change
scenario of `bench.changes` is applied in the simulator, noticed by its poll and its message
handed to `process_change`; measured per change: wall time of `process_change`, Graph requests
it made, how the tenant mirror was loaded (`full`, `patched`, `cached`) and how long that took,
how long the snapshot model took and how many objects it parsed. The first change after a cold
start loads the mirror whole and parses every object; the later ones patch the instance's
cached copy and parse only the objects that changed (`monitors.guardrail.snapshot_models`).
Results go to docs/benchmarks.md between the change-scale markers, one section per scale
(`make bench` runs scale 1, the 20,000-device section; the others stay).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

import function_app
from bench.changes import bootstrap, handle, scenarios
from bench.harness import REPO, deployment
from bench.results import write_section
from monitors.guardrail import change_processing
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.snapshot_models import SnapshotModels
from monitors.store.records import RecordResult
from monitors.store.verdict_store import VerdictStore
from samples.synthetic import LARGE_TENANT, generate_tenant

RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- change-scale-bench:begin -->"
END = "<!-- change-scale-bench:end -->"
HEADING = "## One change through `process_change` at scale\n\n"


class _LoadTimer:
    """Times every `TenantMirror.load_versioned` (and how it got the tenant), every
    `SnapshotModels.model` (with the objects it parsed), the evaluation of the selected rules
    and every `VerdictStore.record_evaluation` (with the state rows it read)."""

    def __init__(self) -> None:
        self.loads: list[tuple[str, int, float]] = []
        self.models: list[tuple[int, float]] = []
        self.evaluations: list[float] = []
        self.records: list[tuple[int, float]] = []
        self._original = TenantMirror.load_versioned
        self._model = SnapshotModels.model
        self._evaluate = change_processing.evaluate_observed  # type: ignore[attr-defined]
        self._record = VerdictStore.record_evaluation

    def __enter__(self) -> _LoadTimer:
        original = self._original
        loads = self.loads

        def timed(mirror: TenantMirror, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            document = original(mirror, *args, **kwargs)
            stats = mirror.last_load
            loads.append((stats.mode, stats.entities_read, time.perf_counter() - started))
            return document

        model = self._model
        models = self.models

        def modelled(cache: SnapshotModels, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            snapshot = model(cache, *args, **kwargs)
            models.append((cache.last.parsed, time.perf_counter() - started))
            return snapshot

        evaluate = self._evaluate
        evaluations = self.evaluations

        def evaluated(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            evaluation = evaluate(*args, **kwargs)
            evaluations.append(time.perf_counter() - started)
            return evaluation

        record = self._record
        records = self.records

        def recorded(store: VerdictStore, *args: Any, **kwargs: Any) -> RecordResult:
            started = time.perf_counter()
            result = record(store, *args, **kwargs)
            records.append((result.entities_read, time.perf_counter() - started))
            return result

        TenantMirror.load_versioned = timed  # type: ignore[method-assign,assignment]
        SnapshotModels.model = modelled  # type: ignore[method-assign,assignment]
        change_processing.evaluate_observed = evaluated  # type: ignore[attr-defined]
        VerdictStore.record_evaluation = recorded  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        TenantMirror.load_versioned = self._original  # type: ignore[method-assign]
        SnapshotModels.model = self._model  # type: ignore[method-assign]
        change_processing.evaluate_observed = self._evaluate  # type: ignore[attr-defined]
        VerdictStore.record_evaluation = self._record  # type: ignore[method-assign]


def run(scale: float, rounds: int) -> str:
    sizes = {key: max(1, int(value * scale)) for key, value in LARGE_TENANT.items()}
    snapshot = generate_tenant(**sizes)
    rows: list[str] = []
    started_all = time.perf_counter()
    with deployment(snapshot) as deployed, _LoadTimer() as timer:
        bootstrap_s, bootstrap_graph = bootstrap(deployed)
        print(f"bootstrap {bootstrap_s:.1f} s, {bootstrap_graph} Graph requests", flush=True)
        for round_index in range(rounds):
            for scenario in scenarios(snapshot):
                for direction in ("break", "undo"):
                    timer.loads.clear()
                    timer.models.clear()
                    timer.evaluations.clear()
                    timer.records.clear()
                    handled = handle(deployed, scenario, direction, "incremental")
                    modes = ", ".join(
                        f"{mode} ({read:,} entities, {seconds:.2f} s)"
                        for mode, read, seconds in timer.loads
                    )
                    store_s = sum(seconds for _, seconds in timer.records)
                    store_rows = sum(read for read, _ in timer.records)
                    mirror_s = sum(seconds for _, _, seconds in timer.loads)
                    model_s = sum(seconds for _, seconds in timer.models)
                    model_parsed = sum(parsed for parsed, _ in timer.models)
                    rules_s = sum(timer.evaluations)
                    rest = handled.process_s - store_s - mirror_s - model_s - rules_s
                    rows.append(
                        f"| {round_index + 1} | {scenario.kind} | {direction} | "
                        f"{handled.messages} | {handled.process_s:.2f} | "
                        f"{handled.process_graph} | {modes or 'none'} | "
                        f"{model_s:.2f} ({model_parsed:,} parsed) | {rules_s:.2f} | "
                        f"{store_s:.2f} ({store_rows:,} rows) | {rest:.2f} | {handled.alerts} |"
                    )
                    print(rows[-1], flush=True)
        mirror_entities = sum(
            1
            for _ in function_app._services().mirror._table.query_entities(
                "PartitionKey ge @low", parameters={"low": ""}, select=["RowKey"]
            )
        )
    one, five, _ = os.getloadavg()
    return "\n".join(
        [
            f"### Scale {scale:g}: {sizes['devices']:,} devices, {sizes['apps']:,} apps, "
            f"{sizes['groups']:,} groups",
            "",
            f"{mirror_entities:,} mirror entities. Bootstrap (`full` message: read, mirror, "
            f"evaluate, record the baseline) {bootstrap_s:.1f} s and {bootstrap_graph:,} Graph "
            "requests.",
            "",
            "| round | change | direction | messages | process_change (s) | Graph requests "
            "| mirror load | snapshot model (s, objects parsed) | rules (s) "
            "| recording (s, state rows read) | the rest (s) | alerts |",
            "|---:|---|---|---:|---:|---:|---|---|---:|---|---:|---:|",
            *rows,
            "",
            f"Benchmark wall time {time.perf_counter() - started_all:.0f} s; load average "
            f"{one:.1f} (5 min: {five:.1f}) on {os.cpu_count()} cores at the end. Command: "
            f"`python -m bench.change_scale --scale {scale:g} --rounds {rounds}`.",
        ]
    )


INTRO = (
    "Each row is one change: its poll ran first (not counted), then its message(s) went "
    "through `process_change`; wall time and Graph requests are those of `process_change`. "
    '"Mirror load" is how the instance got the tenant (`full`: every mirror entity read, '
    '`patched`: its cached copy brought up to date from the write log). "Snapshot model": '
    "building the rules' model of the tenant from the loaded mirror, and how many objects it "
    "parsed (the instance keeps each tenant's model: the objects the load did not change are "
    'reused). "Rules": the evaluation of the rules the change selects, over the whole tenant. '
    '"Recording": `VerdictStore.record_evaluation`, with the state rows it read (0: the '
    "instance keeps the state of the tenant's last commit and took the rules' rows from it, "
    'docs/storage.md "Kept state"). '
    '"The rest" is `process_change` less the mirror load, the model, the rules and the '
    "recording: the Graph reads, mirror writes, the readiness gauges (after a transition) and "
    "the dashboard summary. One section per scale; a run replaces its own scale's section only."
)


def merged(old_block: str, section: str) -> str:
    """The change-scale block with `section` in place of the section of its scale."""
    parts = re.split(r"(?m)^(?=### )", old_block)
    sections = {p.splitlines()[0].split(":")[0]: p.strip() for p in parts if p.startswith("### ")}
    sections[section.splitlines()[0].split(":")[0]] = section.strip()

    def scale_of(heading: str) -> float:
        found = re.match(r"### Scale ([0-9.]+)", heading)
        return float(found.group(1)) if found else 0.0

    ordered = [sections[k] for k in sorted(sections, key=scale_of)]
    return "\n\n".join([BEGIN + "\n" + INTRO, *ordered]) + "\n" + END


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="tenant size (1 = 20k devices)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every scenario")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    section = run(args.scale, args.rounds)
    print(section)
    if not args.no_write:
        text = RESULTS.read_text(encoding="utf-8")
        old = text.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in text and END in text else ""
        write_section(RESULTS, BEGIN, END, merged(old, section), heading=HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
