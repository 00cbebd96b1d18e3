"""`python -m bench.rules`: CPU time and peak memory of the readiness rules on a large tenant.

The tenant is `samples.synthetic.generate_tenant()` with its defaults (20,000 devices, 2,000
apps, 5,000 groups, ...). Reported separately: building the snapshot model from the document,
evaluating every catalog rule (the shared targeting view is built lazily by the first rules that
need it, so it is counted there), and per-device readiness. CPU time is `time.process_time`
(one core: the engine is single-threaded), with the cyclic garbage collector paused as
`greenscreen check` pauses it; peak memory is tracemalloc's, in a second pass so that tracing
does not inflate the CPU numbers.

Each phase runs under a CPU budget (a profiling timer interrupts it), so the benchmark always
finishes in about two minutes; a phase that runs out is reported as "more than" its budget, not
as a number it did not reach. The table goes to docs/benchmarks.md between the rules-bench
markers; the rest of that file is left alone.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from bench import results
from rules.catalog import all_rules
from rules.context import RuleContext
from rules.device_readiness import device_readiness
from rules.engine import Rule, collector_paused, run_rule
from rules.findings import Finding
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- rules-bench:begin -->"
END = "<!-- rules-bench:end -->"
GOAL_SECONDS = 1.0
_T = TypeVar("_T")


class _OverBudget(BaseException):
    """Raised by the CPU timer; a BaseException so the engine's per-rule isolation lets it by."""


def _on_timer(signum: int, frame: FrameType | None) -> None:
    raise _OverBudget


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    previous = signal.signal(signal.SIGPROF, _on_timer)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@dataclass
class Phase:
    name: str
    cpu_seconds: float
    finished: bool
    detail: str = ""

    def cpu_text(self) -> str:
        return f"{self.cpu_seconds:.2f}" if self.finished else f"> {self.cpu_seconds:.0f} (stopped)"


def timed(name: str, budget: float, work: Callable[[], _T]) -> tuple[Phase, _T | None]:
    start = time.process_time()
    try:
        with cpu_budget(budget):
            result = work()
    except _OverBudget:
        return Phase(name, time.process_time() - start, False), None
    return Phase(name, time.process_time() - start, True), result


def evaluate_rules(
    snapshot: TenantSnapshot, budget: float
) -> tuple[Phase, list[Finding], list[tuple[str, float, bool]]]:
    """Every catalog rule in order, each timed; stops when the budget is spent."""
    start = time.process_time()
    rules = all_rules()
    # As `greenscreen check` runs them: the collector paused throughout, and the clock read
    # before it is resumed. The first collection after that walks every object the evaluation
    # made (about a second on this tenant); `check` keeps the collector paused to its end.
    with collector_paused():
        context = RuleContext.for_snapshot(snapshot)
        per_rule, findings = _timed_rules(rules, context, budget, start)
        elapsed = time.process_time() - start
    finished = len(per_rule) == len(rules) and all(done for _, _, done in per_rule)
    name = f"rule evaluation ({len(rules)} rules)"
    phase = Phase(name, elapsed, finished, f"{len(findings):,} findings")
    if not finished:
        done_count = sum(1 for *_, done in per_rule if done)
        stopped = next((rule_id for rule_id, _, done in per_rule if not done), None)
        phase.detail = f"{done_count} of {len(rules)} rules finished" + (
            f"; budget ran out in {stopped}" if stopped else ""
        )
    return phase, findings, per_rule


def _timed_rules(
    rules: Sequence[Rule], context: RuleContext, budget: float, start: float
) -> tuple[list[tuple[str, float, bool]], list[Finding]]:
    per_rule: list[tuple[str, float, bool]] = []
    findings: list[Finding] = []
    for rule in rules:
        remaining = budget - (time.process_time() - start)
        rule_start = time.process_time()
        if remaining <= 0:
            break
        try:
            with cpu_budget(remaining):
                findings.extend(run_rule(rule, context))
        except _OverBudget:
            per_rule.append((rule.metadata.id, time.process_time() - rule_start, False))
            break
        per_rule.append((rule.metadata.id, time.process_time() - rule_start, True))
    return per_rule, findings


def peak_mib(work: Callable[[], object]) -> tuple[float, bool]:
    tracemalloc.start()
    finished = True
    try:
        work()
    except _OverBudget:
        finished = False
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__)
    parser.add_argument("--rule-budget", type=float, default=45.0, metavar="S")
    parser.add_argument("--device-budget", type=float, default=15.0, metavar="S")
    parser.add_argument("--memory-budget", type=float, default=25.0, metavar="S")
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    print("generating the synthetic tenant (defaults)...", file=sys.stderr, flush=True)
    generation_start = time.process_time()
    document = generate_tenant()
    generated_in = time.process_time() - generation_start

    # As `greenscreen check` runs them: the cyclic collector paused (rules/engine.py).
    with collector_paused():
        model, snapshot = timed("snapshot model (from_document)", 600, lambda: _model(document))
    if snapshot is None:
        raise SystemExit("building the model did not finish")
    print(f"model built in {model.cpu_seconds:.2f} s CPU", file=sys.stderr, flush=True)
    rules_phase, findings, per_rule = evaluate_rules(snapshot, args.rule_budget)
    print(f"rules: {rules_phase.cpu_text()} s CPU", file=sys.stderr, flush=True)
    with collector_paused():
        devices_phase, devices = timed(
            "per-device readiness",
            args.device_budget,
            lambda: device_readiness(snapshot, findings),
        )
    if devices is not None:
        devices_phase.detail = f"{len(devices):,} devices"

    # Second pass, traced: a fresh model so the shared views are built again.
    model_peak, _ = peak_mib(lambda: _model(document))
    fresh = _model(document)
    rules_peak, rules_peak_complete = peak_mib(lambda: _traced_rules(fresh, args.memory_budget))

    table = render(
        snapshot,
        generated_in,
        [model, rules_phase, devices_phase],
        per_rule,
        model_peak,
        (rules_peak, rules_peak_complete, args.memory_budget),
        time.perf_counter() - started,
    )
    print(table)
    if not args.no_write:
        write_section(table)
        print(f"updated {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


def _model(document: dict[str, Any]) -> TenantSnapshot:
    return TenantSnapshot.from_document(document)


def _traced_rules(snapshot: TenantSnapshot, budget: float) -> None:
    context = RuleContext.for_snapshot(snapshot)
    with cpu_budget(budget):
        for rule in all_rules():
            run_rule(rule, context)


def render(
    snapshot: TenantSnapshot,
    generated_in: float,
    phases: list[Phase],
    per_rule: list[tuple[str, float, bool]],
    model_peak: float,
    rules_peak: tuple[float, bool, float],
    wall: float,
) -> str:
    together = sum(phase.cpu_seconds for phase in phases)
    met = all(phase.finished for phase in phases) and together <= GOAL_SECONDS
    verdict = (
        f"Model, rule evaluation and per-device readiness together: {together:.2f} s CPU; goal "
        f"(≤ {GOAL_SECONDS:.0f} s together) " + ("met" if met else "**not met**")
    )
    lines = [
        BEGIN,
        f"Tenant: `generate_tenant()` defaults: {len(snapshot.autopilot_devices or ()):,} "
        f"Autopilot devices, {len(snapshot.mobile_apps or ()):,} apps, "
        f"{len(snapshot.groups or ()):,} groups, "
        f"{len(snapshot.device_configurations or ()):,} device configurations, "
        f"{len(snapshot.autopilot_profiles or ()):,} profiles (generated in {generated_in:.1f} s). "
        f"One core, `time.process_time`. {verdict}.",
        "",
        "| phase | CPU (s) | notes |",
        "|---|---:|---|",
    ]
    lines += [f"| {p.name} | {p.cpu_text()} | {p.detail} |" for p in phases]
    peak, complete, budget = rules_peak
    rules_note = "whole catalog" if complete else f"first {budget:.0f} s CPU of the catalog only"
    lines += [
        "",
        "| peak memory (tracemalloc) | MiB |",
        "|---|---:|",
        f"| snapshot model | {model_peak:,.0f} |",
        f"| rule evaluation ({rules_note}) | {peak:,.0f} |",
        "",
        "Slowest rules (the first rules to need the shared targeting view and membership "
        "predictions pay for building them):",
        "",
        "| rule | CPU (s) |",
        "|---|---:|",
    ]
    slowest = sorted(per_rule, key=lambda item: item[1], reverse=True)[:8]
    lines += [
        f"| {rule_id} | {seconds:.2f}{'' if done else ' (stopped)'} |"
        for rule_id, seconds, done in slowest
    ]
    load = os.getloadavg()
    lines += [
        "",
        f"Load average {load[0]:.1f} (5 min {load[1]:.1f}) on {os.cpu_count()} cores at the end: "
        "CPU times grow with the load (other processes share the caches and the cores). "
        f"Benchmark wall time {wall:.0f} s. Command: `python -m bench.rules`.",
        END,
    ]
    return "\n".join(lines)


def write_section(table: str) -> None:
    results.write_section(RESULTS, BEGIN, END, table, heading="## Rule evaluation\n\n")


if __name__ == "__main__":
    sys.exit(main())
