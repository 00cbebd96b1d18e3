"""`make bench`: what remembering an evaluation costs in Table Storage (Azurite on loopback).

For the synthetic tenant: entities written and wall time of the first evaluation (baseline: every
verdict becomes current state), of an evaluation where nothing changed (steady state), and of one
where a single change breaks readiness. Results go to docs/benchmarks.md between markers.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from monitors.store.records import RunInfo
from monitors.store.verdict_store import VerdictStore
from monitors.tenant_changes import apply_changes
from rules.engine import evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant
from tests.azurite import running_azurite

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- store-bench:begin -->"
END = "<!-- store-bench:end -->"


def _later(document: dict[str, Any], hours: int) -> dict[str, Any]:
    copy = dict(document)
    captured = datetime.fromisoformat(document["capturedAt"].replace("Z", "+00:00"))
    copy["capturedAt"] = (captured + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    return copy


def _pause_first_group(document: dict[str, Any]) -> dict[str, Any]:
    """Pause the dynamic group the first pre-provisioning profile is assigned to."""
    dynamic = {
        g["id"] for g in document["collections"]["groups"] if "DynamicMembership" in g["groupTypes"]
    }
    group_id = next(
        assignment["target"]["groupId"]
        for profile in document["collections"][
            "deviceManagement/windowsAutopilotDeploymentProfiles"
        ]
        if profile.get("preprovisioningAllowed")
        for assignment in profile.get("assignments", ())
        if assignment["target"].get("groupId") in dynamic
    )
    group = {"id": group_id}
    change = {
        "format": "greenscreen.tenant-changes/1",
        "changes": [
            {"op": "setGroupRule", "id": group["id"], "membershipRuleProcessingState": "Paused"}
        ],
    }
    return apply_changes(document, change).snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # The baseline write is bound by Azurite's transaction throughput (~0.4 s per 100 entities
    # on these machines), not by the store: the full-size tenant (~170,000 verdicts) would take
    # most of an hour against the emulator. 0.1 keeps `make bench` short; --scale 1 for all.
    parser.add_argument("--scale", type=float, default=0.1, help="tenant size (1 = full)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sizes = {
        "apps": 2000,
        "device_configurations": 1000,
        "settings_policies": 300,
        "scripts": 200,
        "enrollment_configurations": 50,
        "profiles": 30,
        "devices": 20000,
        "groups": 5000,
    }
    sizes = {key: max(1, int(value * args.scale)) for key, value in sizes.items()}
    base = generate_tenant(**sizes)
    documents = [
        ("first evaluation (baseline)", base),
        ("nothing changed (steady state)", _later(base, 1)),
        ("one group paused", _later(_pause_first_group(base), 2)),
    ]
    rows = []
    with running_azurite() as storage:
        service = TableServiceClient.from_connection_string(storage.table_connection)
        store = VerdictStore(service)
        store.ensure_tables()
        for label, document in documents:
            evaluation = evaluate_snapshot(TenantSnapshot.from_document(document))
            run = RunInfo(str(uuid.uuid4()), "bench", datetime.now(UTC))
            started = time.perf_counter()
            result = store.record_evaluation(base["tenantId"], evaluation, run)
            elapsed = time.perf_counter() - started
            rows.append(
                f"| {label} | {len(evaluation.findings):,} | {result.entities_written:,} | "
                f"{len(result.transitions):,} | {elapsed:.2f} |"
            )
    block = "\n".join(
        [
            BEGIN,
            f"Tenant: {sizes['devices']:,} devices, {sizes['apps']:,} apps, {sizes['groups']:,} "
            f"groups (synthetic, seed 0, scale {args.scale}). Azurite in memory on loopback; wall "
            "time of `record_evaluation` only (rule evaluation excluded). The baseline is bound "
            "by Azurite's transaction throughput, not by the store.",
            "",
            "| evaluation | findings | entities written | transitions | wall time (s) |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            "Command: `make bench` (`python -m bench.store`).",
            END,
        ]
    )
    print(block)
    if not args.no_write:
        text = RESULTS.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text += "\n## Verdict memory (Table Storage)\n\n" + block + "\n"
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
