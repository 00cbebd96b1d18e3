"""`make bench-100k`: 100,000 devices, 5,000 apps, 20,000 groups, end to end.

The tenant (`samples.synthetic`, seed 0, `ENTERPRISE_TENANT`) is written to a file, then three
steps run, each in processes of their own so that a process's peak RSS is its own
(`os.wait4`'s resource usage, which also holds for a process stopped at its time limit):

- check: `greenscreen check --snapshot FILE --format F --out OUT`, once per format;
- export: the Graph simulator (`python -m tests.graphsim`) serves the tenant over loopback HTTP
  and `greenscreen export --auth local --graph-url URL` reads it with the real Graph client; the
  simulator's own peak (VmHWM) is read from /proc before it is stopped, and the exported file is
  compared with the tenant collection by collection;
- store: the guardrail's baseline, the first evaluation recorded into the verdict store
  (`VerdictStore.record_evaluation`, the public store API) on Azurite in memory.

A step that passes its time limit is stopped and reported as not finished, with how long it ran
and the memory it had reached. Results go to docs/benchmarks.md, one marked block per step, so
steps run alone (`--steps store`) replace only their own block.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import write_section
from samples.synthetic import ENTERPRISE_TENANT

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
HEADING = "## 100,000 devices\n\n"
FORMATS = ("terminal", "json", "html", "markdown", "junit", "sarif")
STEPS = ("check", "export", "store")
GOAL_MIB = 4 * 1024  # peak RSS goal: 4 GB, read as 4 GiB
MIB = 2**20


def marker(step: str) -> tuple[str, str]:
    return f"<!-- scale100k-{step}:begin -->", f"<!-- scale100k-{step}:end -->"


@dataclass
class Run:
    """One measured process."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    exit_code: int | None  # None: stopped at the time limit
    stderr: str

    @property
    def finished(self) -> bool:
        return self.exit_code is not None


def measure(command: Sequence[str], timeout_s: float, env: dict[str, str] | None = None) -> Run:
    """Run `command` in a process of its own; its wall, CPU and peak RSS from `os.wait4`."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            list(command),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=env,
            start_new_session=True,
        )
        stopped = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_s and not stopped:
                os.killpg(process.pid, signal.SIGKILL)
                stopped = True
            time.sleep(0.5)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    return Run(
        wall_s=time.perf_counter() - started,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
        exit_code=None if stopped else process.returncode,
        stderr=stderr[-2000:],
    )


def generate(snapshot: Path, sizes: dict[str, int]) -> Run:
    options = [f"--{name.replace('_', '-')}={value}" for name, value in sizes.items()]
    return measure(
        [sys.executable, "-m", "samples.synthetic", "--out", str(snapshot), *options], 3600
    )


def _verdict(run: Run, limit_s: float) -> str:
    if not run.finished:
        return f"**not finished** (stopped after {limit_s:,.0f} s)"
    memory = "met" if run.peak_rss_mib <= GOAL_MIB else "**not met**"
    return f"completed (exit {run.exit_code}); ≤ 4 GB: {memory}"


# --- check ---------------------------------------------------------------------------------------


def check_step(
    snapshot: Path,
    work: Path,
    formats: Sequence[str],
    limit_s: float,
    progress: Callable[[str], None] = lambda _: None,
) -> str:
    """One row per format; `progress` gets the table so far after each (a long run that is
    stopped still leaves the formats it finished)."""
    rows: list[str] = []
    for report_format in formats:
        out = work / f"report.{report_format}"
        run = measure(
            [
                sys.executable,
                "-m",
                "monitors.cli",
                "check",
                "--snapshot",
                str(snapshot),
                "--format",
                report_format,
                "--out",
                str(out),
            ],
            limit_s,
        )
        if run.finished and run.exit_code not in (0, 1):
            raise SystemExit(f"check --format {report_format} failed: {run.stderr}")
        size = f"{out.stat().st_size / MIB:,.1f} MiB" if run.finished and out.exists() else "-"
        rows.append(
            f"| {report_format} | {run.wall_s:,.0f} | {run.cpu_s:,.0f} | {run.peak_rss_mib:,.0f} "
            f"| {size} | {_verdict(run, limit_s)} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
        progress(_check_table(rows))
    return _check_table(rows)


def _check_table(rows: list[str]) -> str:
    return "\n".join(
        [
            "`greenscreen check --snapshot FILE --format F --out OUT`, each format in a process "
            "of its own.",
            "",
            "| format | wall (s) | CPU (s) | peak RSS (MiB) | output | result |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


# --- export from the simulator -------------------------------------------------------------------


def _peak_of(pid: int) -> float:
    """VmHWM of a running process, MiB (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def export_step(snapshot: Path, work: Path, tenant: dict[str, Any], limit_s: float) -> str:
    started = time.perf_counter()
    simulator = subprocess.Popen(  # noqa: S603 - our own simulator on loopback
        [sys.executable, "-m", "tests.graphsim", "--snapshot", str(snapshot)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert simulator.stdout is not None
        url = simulator.stdout.readline().strip()
        if not url:
            raise SystemExit("the Graph simulator did not start")
        serving_after = time.perf_counter() - started
        out = work / "export.json"
        run = measure(
            [
                sys.executable,
                "-m",
                "monitors.cli",
                "export",
                "--graph-url",
                url,
                "--auth",
                "local",
                "--tenant",
                tenant["tenantId"],
                "--out",
                str(out),
            ],
            limit_s,
        )
        simulator_peak = _peak_of(simulator.pid)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    same = "-"
    if run.finished and out.exists():
        exported = json.loads(out.read_text(encoding="utf-8"))
        counts = {path: len(items) for path, items in exported["collections"].items()}
        expected = {path: len(items) for path, items in tenant["collections"].items()}
        same = str(counts == expected and not exported["errors"])
    requests = next(
        (line for line in run.stderr.splitlines() if "request" in line), "(no request count)"
    )
    return "\n".join(
        [
            "The Graph simulator (`python -m tests.graphsim --snapshot FILE`, its own process) "
            "serves the tenant on loopback; `greenscreen export --auth local --graph-url URL "
            "--tenant ID --out FILE` reads it with the real Graph client in a process of its own.",
            "",
            "| process | wall (s) | CPU (s) | peak RSS (MiB) | result |",
            "|---|---:|---:|---:|---|",
            f"| `greenscreen export` (the reader) | {run.wall_s:,.0f} | {run.cpu_s:,.0f} | "
            f"{run.peak_rss_mib:,.0f} | {_verdict(run, limit_s)} |",
            f"| Graph simulator (serving from {serving_after:,.0f} s after start) | - | - | "
            f"{simulator_peak:,.0f} | measured apart, not the reader |",
            "",
            f"Every collection exported with the tenant's object count, no errors: {same}. "
            f"Reader's progress line: {requests.strip()}",
        ]
    )


# --- guardrail baseline on Azurite ---------------------------------------------------------------


def store_worker(snapshot: Path, connection: str, result: Path) -> int:
    """In its own process: evaluate the snapshot and record it as the tenant's first run."""
    from azure.data.tables import TableServiceClient

    from monitors.snapshot_file import load_snapshot
    from monitors.store.records import RunInfo
    from monitors.store.verdict_store import VerdictStore
    from rules.engine import collector_paused, evaluate_snapshot
    from rules.snapshot_model import TenantSnapshot

    with collector_paused():
        started = time.perf_counter()
        document = load_snapshot(snapshot)
        model = TenantSnapshot.from_document(document)
        document.clear()
        evaluation = evaluate_snapshot(model)
        evaluated = time.perf_counter() - started
        result.write_text(
            json.dumps({"findings": len(evaluation.findings), "evaluate_s": evaluated})
        )
        store = VerdictStore(TableServiceClient.from_connection_string(connection))
        store.ensure_tables()
        run = RunInfo(str(uuid.uuid4()), "bench", datetime.now(UTC))
        started = time.perf_counter()
        recorded = store.record_evaluation(model.tenant_id, evaluation, run)
        result.write_text(
            json.dumps(
                {
                    "findings": len(evaluation.findings),
                    "evaluate_s": evaluated,
                    "record_s": time.perf_counter() - started,
                    "entities_written": recorded.entities_written,
                    "transitions": len(recorded.transitions),
                }
            )
        )
    return 0


def store_step(snapshot: Path, work: Path, limit_s: float) -> str:
    from tests.azurite import running_azurite

    result = work / "store-result.json"
    with running_azurite() as storage:
        run = measure(
            [
                sys.executable,
                "-m",
                "bench.scale100k",
                "--store-worker",
                str(snapshot),
                str(result),
            ],
            limit_s,
            env={**os.environ, "SCALE100K_TABLES": storage.table_connection},
        )
    if run.finished and run.exit_code != 0:
        raise SystemExit(f"the store step failed: {run.stderr}")
    facts = json.loads(result.read_text()) if result.exists() else {}
    findings = f"{facts['findings']:,}" if "findings" in facts else "-"
    evaluate = f"{facts['evaluate_s']:,.0f}" if "evaluate_s" in facts else "-"
    record = f"{facts['record_s']:,.0f}" if "record_s" in facts else "not finished"
    written = f"{facts['entities_written']:,}" if "entities_written" in facts else "-"
    return "\n".join(
        [
            "One process reads the snapshot file, evaluates every rule and records the "
            "evaluation as the tenant's first (`VerdictStore.record_evaluation`) into Azurite "
            "in memory on loopback.",
            "",
            "| findings | read + model + rules (s) | record (s) | entities written "
            "| wall (s) | peak RSS (MiB) | result |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {findings} | {evaluate} | {record} | {written} | {run.wall_s:,.0f} | "
            f"{run.peak_rss_mib:,.0f} | {_verdict(run, limit_s)} |",
        ]
    )


# --- main ----------------------------------------------------------------------------------------


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} cores at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale100k", description=__doc__)
    parser.add_argument(
        "--steps", default=",".join(STEPS), help="comma-separated: check,export,store"
    )
    parser.add_argument("--formats", default=",".join(FORMATS), help="check formats to run")
    parser.add_argument("--no-store", action="store_true", help="skip the guardrail baseline")
    parser.add_argument(
        "--limit", type=float, default=3600, help="time limit per process, s (%(default)s)"
    )
    parser.add_argument("--store-limit", type=float, default=1800, help="store step limit, s")
    parser.add_argument("--snapshot", type=Path, help="use this tenant file, do not generate")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="shrink the tenant for a trial run (no write)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    parser.add_argument("--store-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.store_worker:
        return store_worker(
            args.store_worker[0], os.environ["SCALE100K_TABLES"], args.store_worker[1]
        )
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s): {', '.join(unknown)}")
    if args.no_store and "store" in steps:
        steps.remove("store")
    formats = [f for f in args.formats.split(",") if f]
    sizes = {name: max(1, int(value * args.scale)) for name, value in ENTERPRISE_TENANT.items()}
    write = not args.no_write and args.scale == 1.0 and args.snapshot is None
    with tempfile.TemporaryDirectory(prefix="greenscreen-100k-") as directory:
        work = Path(directory)
        snapshot = args.snapshot or work / "tenant.json"
        generated = ""
        if args.snapshot is None:
            run = generate(snapshot, sizes)
            generated = f"; generated in {run.wall_s:.0f} s ({run.peak_rss_mib:,.0f} MiB peak)"
        tenant = json.loads(snapshot.read_text(encoding="utf-8"))
        counts = {path: len(items) for path, items in tenant["collections"].items()}
        size_line = (
            f"Tenant: `python -m samples.synthetic --devices {sizes['devices']} --apps "
            f"{sizes['apps']} --groups {sizes['groups']}` ({counts.get('devices', 0):,} Entra "
            f"devices, {sum(counts.values()):,} objects in all, "
            f"{snapshot.stat().st_size / MIB:,.0f} MiB{generated})."
        )
        if "export" not in steps:
            del tenant
        for step in steps:
            started = time.perf_counter()
            command = "python -m bench.scale100k --steps " + step
            if step == "check" and formats != list(FORMATS):
                command += " --formats " + ",".join(formats)

            def record(
                body: str, step: str = step, command: str = command, started: float = started
            ) -> None:
                block = "\n".join(
                    [
                        size_line,
                        "",
                        body,
                        "",
                        f"Step wall time {time.perf_counter() - started:,.0f} s; {_load()}. "
                        f"Command: `{command}`.",
                    ]
                )
                print(block, flush=True)
                if write:
                    begin, end = marker(step)
                    write_section(RESULTS, begin, end, block, heading=HEADING)

            if step == "check":
                check_step(snapshot, work, formats, args.limit, progress=record)
            elif step == "export":
                record(export_step(snapshot, work, tenant, args.limit))
            else:
                record(store_step(snapshot, work, args.store_limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
