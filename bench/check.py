"""`python -m bench.check`: `greenscreen check` on the generator's default tenant, every format.

Each format runs `greenscreen check --snapshot FILE --format F --out OUT` in a process of its own:
wall time, peak RSS of that process (`os.wait4`'s resource usage, so nothing else is counted),
the size of what it wrote (lines for the terminal report). The HTML report is then opened in
headless Chromium (when installed): the page records when its script has drawn it
(`data-drawn-ms`, milliseconds since navigation started), and the wall time of the whole
browser run is given beside that of an empty page. The table goes to docs/benchmarks.md
between the check-bench markers.

Bytecode: an installed package has its modules compiled (pip compiles them on install), but a
checkout run with PYTHONDONTWRITEBYTECODE=1 (as in some CI and development shells) compiles every
module it imports on every run, about a second for this command. Before timing, each format runs
once on the sample tenant with bytecode writing on, so the timed runs read compiled modules as a
user's installation does; the timed runs themselves keep the environment as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import results
from rules import tenant_collections as tc
from samples.synthetic import generate_tenant

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- check-bench:begin -->"
END = "<!-- check-bench:end -->"
FORMATS = ("terminal", "json", "html", "markdown", "junit", "sarif")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MIB = 2**20
TERMINAL_STEP = "terminal report"
JSON_STEP = "JSON findings document"


@dataclass
class Run:
    report_format: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    exit_code: int
    size_bytes: int
    lines: int


SAMPLE = REPO / "samples" / "contoso-sample.json"


def warm_bytecode(work: Path) -> None:
    """Compile what `check` imports, in every format, as an installed package has it."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for report_format in FORMATS:
        subprocess.run(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "monitors.cli",
                "check",
                "--snapshot",
                str(SAMPLE),
                "--format",
                report_format,
                "--out",
                str(work / f"warm.{report_format}"),
            ],
            cwd=REPO,
            env=environment,
            capture_output=True,
            check=False,
        )


def startup(repeat: int = 3) -> tuple[float, float]:
    """The quickest (wall, CPU) of `greenscreen check --help`: interpreter start, the command
    line's imports and its parser."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "monitors.cli", "check", "--help"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        _, _, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        best = min(best, (wall, usage.ru_utime + usage.ru_stime))
    return best


def run_check(snapshot: Path, report_format: str, out: Path, *extra: str) -> Run:
    command = [
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
        *extra,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own command
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):
        raise SystemExit(f"check --format {report_format} failed: {stderr[-2000:]}")
    size = out.stat().st_size
    lines = out.read_text(encoding="utf-8").count("\n") if report_format == "terminal" else 0
    cpu = usage.ru_utime + usage.ru_stime
    return Run(report_format, wall, cpu, usage.ru_maxrss / 1024, process.returncode, size, lines)


def phases(snapshot: Path) -> list[tuple[str, float]]:
    """CPU seconds of each step of `check` in this process, as the command runs them
    (collector paused): read the file, model, rules, report model, then the terminal report and
    the JSON findings document (a command renders one of the two)."""
    from monitors.reports.json_findings import iter_report_json
    from monitors.reports.model import build_report
    from monitors.reports.terminal import render_terminal
    from monitors.snapshot_file import load_snapshot
    from rules.engine import collector_paused, evaluate_snapshot
    from rules.findings import Severity
    from rules.snapshot_model import TenantSnapshot

    steps: list[tuple[str, float]] = []
    with collector_paused():
        started = time.process_time()

        def step(name: str) -> None:
            nonlocal started
            now = time.process_time()
            steps.append((name, now - started))
            started = now

        document = load_snapshot(snapshot)
        step("read and validate the snapshot file")
        model = TenantSnapshot.from_document(document)
        del document
        step("snapshot model")
        evaluation = evaluate_snapshot(model)
        step("rule evaluation")
        report = build_report(evaluation, model, Severity.ERROR, None)
        step("report model (grouping, verdicts)")
        text = render_terminal(report, color=False, width=140)
        step(f"{TERMINAL_STEP} ({text.count(chr(10))} lines)")
        written = sum(len(chunk) for chunk in iter_report_json(report))
        step(f"{JSON_STEP} ({written / MIB:.1f} MiB)")
    return steps


def open_in_chromium(page: Path, profile: Path) -> tuple[float, float, float] | None:
    """(wall of the browser run, wall for an empty page, the page's own drawn-by ms)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    empty = page.parent / "empty.html"
    empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")

    def dump(target: Path) -> tuple[float, str]:
        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603 - a fixed local browser, fixed flags
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--dump-dom",
                target.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return time.perf_counter() - started, completed.stdout

    dump(empty)  # warm the profile
    empty_wall, _ = dump(empty)
    wall, dom = dump(page)
    drawn = re.search(r'data-drawn-ms="(\d+)"', dom)
    return wall, empty_wall, float(drawn.group(1)) / 1000 if drawn else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.check", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print, do not update the doc")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="greenscreen-check-bench-") as directory:
        work = Path(directory)
        snapshot = work / "tenant.json"
        document = generate_tenant()
        counts = {path: len(items) for path, items in document["collections"].items()}
        snapshot.write_text(json.dumps(document), encoding="utf-8")
        del document
        print(f"snapshot: {snapshot.stat().st_size / MIB:.0f} MiB", file=sys.stderr, flush=True)
        warm_bytecode(work)
        started_up = startup()
        runs = []
        for report_format in FORMATS:
            run = run_check(snapshot, report_format, work / f"report.{report_format}")
            print(
                f"{report_format}: {run.wall_s:.1f} s, {run.cpu_s:.1f} s CPU, "
                f"{run.peak_rss_mib:.0f} MiB, "
                f"{run.size_bytes / MIB:.1f} MiB",
                file=sys.stderr,
                flush=True,
            )
            runs.append(run)
        everything = run_check(snapshot, "json", work / "all.json", "--all")
        steps = phases(snapshot)
        browser = open_in_chromium(work / "report.html", work / "chromium-profile")
        load = os.getloadavg()
    table = render(
        steps,
        counts,
        snapshot_mib(runs),
        runs,
        everything,
        browser,
        load,
        time.perf_counter() - started,
        started_up,
    )
    print(table)
    if not args.no_write:
        results.write_section(RESULTS, BEGIN, END, table, heading="## `greenscreen check`\n\n")
        print(f"updated {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


def snapshot_mib(runs: list[Run]) -> float:
    return max(run.peak_rss_mib for run in runs)


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(
    steps: list[tuple[str, float]],
    counts: dict[str, int],
    peak_mib: float,
    runs: list[Run],
    everything: Run,
    browser: tuple[float, float, float] | None,
    load: tuple[float, float, float],
    wall: float,
    started_up: tuple[float, float],
) -> str:
    by_format = {run.report_format: run for run in runs}
    terminal, json_run, html = by_format["terminal"], by_format["json"], by_format["html"]
    lines = [
        BEGIN,
        f"Tenant: `generate_tenant()` defaults ({counts.get(tc.AUTOPILOT_DEVICES, 0):,} "
        f"Autopilot devices, {counts.get(tc.MOBILE_APPS, 0):,} apps, "
        f"{counts.get(tc.GROUPS, 0):,} groups), written to a file; each format is "
        "`greenscreen check --snapshot FILE --format F --out OUT` in a process of its own "
        "(wall time and that process's peak RSS from `os.wait4`). Modules compiled beforehand, "
        "as in an installed package (one run per format on the sample tenant with bytecode "
        "writing on). Interpreter start, the command line's imports and its parser alone "
        f"(`check --help`): {started_up[0]:.2f} s wall, {started_up[1]:.2f} s CPU.",
        "",
        "| format | wall (s) | CPU (s) | peak RSS (MiB) | output | exit |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in [*runs, everything]:
        name = run.report_format + (" --all" if run is everything else "")
        size = (
            f"{run.lines:,} lines, {run.size_bytes / 1024:,.0f} KiB"
            if run.report_format == "terminal"
            else f"{run.size_bytes / MIB:,.1f} MiB"
        )
        lines.append(
            f"| {name} | {run.wall_s:.1f} | {run.cpu_s:.1f} | {run.peak_rss_mib:,.0f} | {size} "
            f"| {run.exit_code} |"
        )
    lines += ["", "| goal (20k tenant) | measured | goal |", "|---|---|---|"]
    lines.append(
        f"| `check`, terminal report, wall | {terminal.wall_s:.1f} s ({terminal.cpu_s:.1f} s CPU) "
        "| ≤ 5 s: "
        f"{_mark(terminal.wall_s <= 5)} |"
    )
    lines.append(
        f"| terminal report | {terminal.lines} lines | one screen of summary: "
        f"{_mark(terminal.lines <= 60)} |"
    )
    lines.append(
        f"| JSON findings | {json_run.size_bytes / MIB:.1f} MiB, streamed | ≤ 50 MB: "
        f"{_mark(json_run.size_bytes <= 50_000_000)} |"
    )
    lines.append(
        f"| HTML report | {html.size_bytes / MIB:.1f} MiB | ≤ 10 MB: "
        f"{_mark(html.size_bytes <= 10_000_000)} |"
    )
    if browser is not None:
        browser_wall, empty_wall, drawn = browser
        lines.append(
            f"| HTML in headless Chromium | drawn {drawn:.2f} s after navigation started; "
            f"browser run {browser_wall:.1f} s (empty page {empty_wall:.1f} s) | ≤ 3 s: "
            f"{_mark(drawn <= 3)} |"
        )
    else:
        lines.append("| HTML in headless Chromium | not measured (no chromium) | ≤ 3 s |")
    lines.append(
        f"| peak memory of `check`, any format | {peak_mib:,.0f} MiB | ≤ 1 GB: "
        f"{_mark(peak_mib * MIB <= 1_000_000_000)} |"
    )
    common = sum(s for name, s in steps if not name.startswith((TERMINAL_STEP, JSON_STEP)))
    rendering = {
        kind: sum(s for name, s in steps if name.startswith(kind))
        for kind in (TERMINAL_STEP, JSON_STEP)
    }
    lines += [
        "",
        "Where the CPU of `check` goes after start-up (one process, collector paused as the "
        "command runs; the command renders one of the two reports):",
        "",
        "| step | CPU (s) |",
        "|---|---:|",
        *(f"| {name} | {seconds:.2f} |" for name, seconds in steps),
        f"| **total, terminal report** | **{common + rendering[TERMINAL_STEP]:.2f}** |",
        f"| **total, JSON** | **{common + rendering[JSON_STEP]:.2f}** |",
    ]
    lines += [
        "",
        f"Load average {load[0]:.1f} (5 min {load[1]:.1f}) on {os.cpu_count()} cores at the end; "
        f"wall times grow with the load, sizes and memory do not. Benchmark wall time "
        f"{wall:.0f} s. Command: `python -m bench.check`.",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
