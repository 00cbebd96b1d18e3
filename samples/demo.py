"""`make demo`: the main job on the bundled sample tenant, end to end over HTTP.

The Graph simulator serves `samples/contoso-sample.json` on loopback; `greenscreen export` reads
it exactly as it would read a live tenant (real Graph client, paging, batching), writes the
snapshot to `out/`, and `greenscreen summary` shows what was read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.graphsim import GraphSimulator

from monitors.cli import main as greenscreen

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
OUT = REPO / "out"


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
    print(f"$ greenscreen summary {export.relative_to(REPO)}", flush=True)
    return greenscreen(["summary", str(export)])


if __name__ == "__main__":
    sys.exit(run())
