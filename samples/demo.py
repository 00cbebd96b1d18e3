"""`make demo`: the main job on the bundled sample tenant, end to end over HTTP.

The Graph simulator serves `samples/contoso-sample.json` on loopback; `greenscreen export` reads
it exactly as it would read a live tenant (real Graph client, paging, batching), writes the
snapshot to `out/`, and `greenscreen summary` shows what was read. Then `greenscreen check`
evaluates the readiness rules on the exported snapshot (the sample's deliberate problems show
up red), writes the HTML report an admin would mail to the OEM, and asks what pausing the main
Autopilot device group would break. The check's exit code 1 is the expected answer here: the
demo reports it and goes on. Two evaluations stored in Azurite give a history and the Teams card
of its transition. Last, the guardrail act (`samples/demo_guardrail.py`) runs the Function app's
own handlers against the simulator and a fresh Azurite: someone pauses that group for real, the
directory poll notices, one transition is recorded with its actor, one card is posted. The demo
ends with the readiness dashboard over that storage (`samples/demo_dashboard.py`): it prints
what the dashboard shows, its URL and the `greenscreen serve` command that keeps it up.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from monitors.cli import main as greenscreen
from tests.graphsim import GraphSimulator

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
BREAKING_CHANGE = REPO / "samples" / "what-if" / "pause-autopilot-all-devices.json"
OUT = REPO / "out"
EXPECTED_CHECK_CODES = (0, 1)  # ready, or findings at or above --fail-on


def run() -> int:
    tenant = json.loads(SAMPLE.read_text(encoding="utf-8"))
    OUT.mkdir(exist_ok=True)
    export = OUT / "contoso-export.json"
    with GraphSimulator(tenant) as sim:
        print(f"Graph simulator serving {SAMPLE.relative_to(REPO)} at {sim.url}\n", flush=True)
        command = [
            "export",
            "--graph-url",
            sim.url,
            "--auth",
            "local",
            "--tenant",
            tenant["tenantId"],
            "--out",
            str(export),
        ]
        print("$ greenscreen " + " ".join(command), flush=True)
        status = greenscreen(command)
        if status != 0:
            return status
        requests = len(sim.request_log)
        batched = sum(1 for entry in sim.request_log if entry.in_batch)
    print(
        f"\nThe simulator answered {requests - batched} HTTP requests "
        f"(carrying {batched} batched reads).\n",
        flush=True,
    )
    snapshot = str(export.relative_to(REPO))
    steps = [
        ["summary", snapshot],
        ["check", "--snapshot", snapshot],
        [
            "check",
            "--snapshot",
            snapshot,
            "--format",
            "html",
            "--out",
            "out/contoso-readiness.html",
        ],
        ["check", "--snapshot", snapshot, "--what-if", str(BREAKING_CHANGE.relative_to(REPO))],
    ]
    for step in steps:
        print(f"\n$ greenscreen {' '.join(step)}", flush=True)
        status = greenscreen(step)
        if step[0] == "summary":
            if status != 0:
                return status
            continue
        if status not in EXPECTED_CHECK_CODES:
            return status
        print(f"(exit code {status}: {_meaning(step, status)})", flush=True)
        if "--out" in step:
            print(f"HTML report: {REPO / step[step.index('--out') + 1]}", flush=True)
    status = remember_and_query(export, tenant["tenantId"])
    if status != 0:
        return status
    return guard(tenant)


def guard(tenant: dict[str, object]) -> int:
    """The guardrail act, with storage of its own: a new deployment starts with no history.
    Its storage stays in out/demo-storage for the dashboard (`samples/demo_dashboard.py`)."""
    from samples.demo_dashboard import demo_storage, show_dashboard
    from samples.demo_guardrail import run_guardrail

    with demo_storage() as storage:
        status = run_guardrail(tenant, storage.ports, out=OUT, render=render_card)
        if status != 0:
            return status
        return show_dashboard(storage.ports.table_connection, str(tenant["tenantId"]).lower())


def remember_and_query(export: Path, tenant_id: str) -> int:
    """Store two evaluations in Azurite (before and after the breaking change), then ask history."""
    from datetime import datetime, timedelta

    from monitors.snapshot_file import load_snapshot, write_snapshot
    from monitors.tenant_changes import apply_changes, load_change_document
    from tests.azurite import running_azurite

    # Yesterday's tenant, as exported, and today's, after someone paused the Autopilot group.
    exported = load_snapshot(export)
    captured = datetime.fromisoformat(exported["capturedAt"].replace("Z", "+00:00"))
    before_document = dict(exported)
    before_document["capturedAt"] = (
        (captured - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    )
    before = OUT / "contoso-yesterday.json"
    write_snapshot(before, before_document)
    changed = apply_changes(exported, load_change_document(BREAKING_CHANGE)).snapshot
    after = OUT / "contoso-after-change.json"
    write_snapshot(after, changed)
    with running_azurite() as storage:
        print("\nAzurite (Table Storage emulator) started for the verdict history.", flush=True)
        os.environ["GREENSCREEN_STORAGE_CONNECTION"] = storage.table_connection
        try:
            for snapshot, findings in ((before, "before"), (after, "after")):
                step = [
                    "check",
                    "--snapshot",
                    str(snapshot.relative_to(REPO)),
                    "--store",
                    "--format",
                    "json",
                    "--out",
                    f"out/findings-{findings}.json",
                ]
                print(f"\n$ greenscreen {' '.join(step)}", flush=True)
                if greenscreen(step) not in EXPECTED_CHECK_CODES:
                    return 1
            query = ["history", "--tenant", tenant_id]
            print(f"\n$ greenscreen {' '.join(query)}", flush=True)
            status = greenscreen(query)
            if status != 0:
                return status
            show_alert_card(tenant_id)
            return 0
        finally:
            os.environ.pop("GREENSCREEN_STORAGE_CONNECTION", None)


def show_alert_card(tenant_id: str) -> None:
    """The Teams card the monitor would post for the newest transition, and what it looks like."""
    from monitors.alerts.alert import Alert
    from monitors.alerts.cards import CardContext, alert_card, headline, teams_message
    from monitors.alerts.links import HistoryLinks
    from monitors.store.settings import store_from_settings

    transition = store_from_settings().history(tenant_id, page_size=1).items[0]
    alert = Alert.for_transition(transition)
    if alert is None:
        return
    card = alert_card(alert, CardContext(HistoryLinks("http://localhost:7071")))
    card_file = OUT / "alert-card.json"
    card_file.write_text(json.dumps(teams_message(card), indent=2) + "\n", encoding="utf-8")
    print("\nThe Teams alert for this transition (Adaptive Card in a Workflows message):")
    print(f"  {headline(alert)}")
    for action in card.get("actions", ()):
        print(f"  [{action.get('title')}] {action.get('url')}")
    print(f"  card: {card_file.relative_to(REPO)}", flush=True)
    screenshot = render_card(card, OUT / "alert-card.png")
    if screenshot is None:
        print("  (install Debian's chromium to also get a rendered screenshot)", flush=True)
    else:
        print(f"  rendered: {screenshot}", flush=True)


def render_card(card: dict[str, Any], screenshot: Path) -> Path | None:
    """Screenshot an Adaptive Card as Teams would draw it (headless Chromium, the npm
    renderer); None when Chromium or the renderer is not installed."""
    import shutil
    import subprocess
    import tempfile

    from tests.alert_rendering.page import CHROMIUM_FLAGS, RENDERER, serve_cards

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not (RENDERER / "adaptivecards.min.js").exists():
        return None
    screenshot.unlink(missing_ok=True)
    with serve_cards({"alert": card}) as url, tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603 - a fixed local browser on a loopback page
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=640,900",
                f"--screenshot={screenshot}",
                url,
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    return screenshot if screenshot.exists() else None


def _meaning(step: list[str], status: int) -> str:
    if "--what-if" in step:
        return "the change would break readiness" if status else "the change is safe"
    return "findings at or above --fail-on" if status else "ready"


if __name__ == "__main__":
    sys.exit(run())
