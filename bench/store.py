"""`make bench`: what remembering an evaluation costs in Table Storage (Azurite on loopback).

For the synthetic tenant: entities read and written and wall time of the first evaluation
(baseline: every verdict becomes current state), of an evaluation where nothing changed (steady
state), of one where a single change breaks readiness, and of that change evaluated the way the
guardrail does (only the rules reading the touched collection). Results go to docs/benchmarks.md
between markers, one table per scale: a run replaces the table of its own scale only.

`--probe N` measures Azurite itself: N entities of the state row's size written in transactions
of 99 into one partition, then into one partition per transaction, reported per tenth.
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient, UpdateMode

from bench.results import write_section
from monitors.store.keys import STATE_TABLE
from monitors.store.records import RunInfo
from monitors.store.verdict_store import VerdictStore
from monitors.tenant_changes import apply_changes
from rules.catalog import all_rules
from rules.engine import evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import LARGE_TENANT, generate_tenant
from tests.azurite import running_azurite

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- store-bench:begin -->"
END = "<!-- store-bench:end -->"
INTRO = (
    "Synthetic tenant (seed 0) scaled from `generate_tenant()` defaults (scale 1 = 20,000 "
    "devices). Azurite 3.35 in memory on loopback; wall time of `record_evaluation` only (rule "
    'evaluation excluded). "Records after" counts the verdict records the state partition holds '
    'after the run (what fails, is unknown, manual or resolved, plus tombstones), "state '
    'entities after" the bucket entities holding them (docs/storage.md, "Buckets"); "records '
    'read" counts the records of the entities the call read, "entities written" state '
    "entities, head updates (one per transaction, plus the commit and the end of the finalize), "
    "transitions and the run record. The last two rows evaluate only the rules whose "
    "`graph_reads` meet the changed collection, as the guardrail does. Azurite's in-memory "
    "table finds an entity by scanning the partition, so a transaction costs more the more "
    "entities the partition holds (probe below): buckets keep that number near 2,000 at full "
    "size. Table Storage's limits at full size are in docs/storage.md."
)
PROBE_HEADING = "### Azurite: transaction time against partition size"
SIZES = LARGE_TENANT


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
    change = {
        "format": "greenscreen.tenant-changes/1",
        "changes": [
            {"op": "setGroupRule", "id": group_id, "membershipRuleProcessingState": "Paused"}
        ],
    }
    return apply_changes(document, change).snapshot


def _remove_first_app(document: dict[str, Any]) -> dict[str, Any]:
    collection = "deviceAppManagement/mobileApps"
    app_id = document["collections"][collection][0]["id"]
    change = {
        "format": "greenscreen.tenant-changes/1",
        "changes": [{"op": "remove", "collection": collection, "id": app_id}],
    }
    return apply_changes(document, change).snapshot


def _store_table(scale: float) -> str:
    sizes = {key: max(1, int(value * scale)) for key, value in SIZES.items()}
    base = generate_tenant(**sizes)
    paused = _pause_first_group(base)
    group_rules = tuple(rule for rule in all_rules() if "groups" in rule.metadata.graph_reads)
    app_rules = tuple(
        rule
        for rule in all_rules()
        if "deviceAppManagement/mobileApps" in rule.metadata.graph_reads
    )
    runs = [
        ("first evaluation (baseline)", base, 0, None),
        ("nothing changed (steady state)", base, 1, None),
        ("one group paused", paused, 2, None),
        (f"group un-paused, {len(group_rules)} rules reading `groups` only", base, 3, group_rules),
        (
            f"one app removed, {len(app_rules)} rules reading `mobileApps` only",
            _remove_first_app(base),
            4,
            app_rules,
        ),
    ]
    rows = []
    started_all = time.perf_counter()
    with running_azurite() as storage:
        service = TableServiceClient.from_connection_string(storage.table_connection)
        store = VerdictStore(service)
        store.ensure_tables()
        for label, document, hours, rules in runs:
            snapshot = TenantSnapshot.from_document(_later(document, hours))
            evaluation = evaluate_snapshot(snapshot, rules=rules)
            run = RunInfo(str(uuid.uuid4()), "bench", datetime.now(UTC))
            started = time.perf_counter()
            result = store.record_evaluation(base["tenantId"], evaluation, run)
            elapsed = time.perf_counter() - started
            state_entities, state_records = 0, 0
            for low, high in (("b|", "b}"), ("s|", "s}")):
                for entity in service.get_table_client(STATE_TABLE).query_entities(
                    "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                    parameters={"pk": base["tenantId"], "low": low, "high": high},
                    select=["RowKey", "Records"],
                ):
                    state_entities += 1
                    state_records += int(entity.get("Records") or 1)
            rows.append(
                f"| {label} | {len(evaluation.findings):,} | {state_records:,} | "
                f"{state_entities:,} | "
                f"{result.entities_read:,} | {result.entities_written:,} | "
                f"{len(result.transitions):,} | {elapsed:.2f} |"
            )
            print(rows[-1], flush=True)
    return "\n".join(
        [
            f"### Scale {scale:g}: {sizes['devices']:,} devices, {sizes['apps']:,} apps, "
            f"{sizes['groups']:,} groups",
            "",
            "| evaluation | findings | records after | state entities after | records read "
            "| entities written | transitions | wall time (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Benchmark wall time {time.perf_counter() - started_all:.0f} s; {_load()}. "
            f"Command: `python -m bench.store --scale {scale:g}`.",
        ]
    )


def _probe(entities: int) -> str:
    """Azurite's cost per transaction of 99 upserts as one partition grows, and without it."""
    pad = "x" * 1200  # about a state row with its previous value
    transactions = max(10, entities // 99)
    lines = [
        PROBE_HEADING,
        "",
        "| entities already in the partition | one partition: ms per transaction "
        "| entities/s | one partition per transaction: ms |",
        "|---:|---:|---:|---:|",
    ]
    with running_azurite() as storage:
        service = TableServiceClient.from_connection_string(storage.table_connection)
        timings: dict[str, list[float]] = {}
        for layout in ("one", "many"):
            table = service.create_table(f"Probe{layout}")
            timings[layout] = []
            for index in range(transactions):
                partition = "p" if layout == "one" else f"p{index}"
                operations = [
                    (
                        "upsert",
                        {"PartitionKey": partition, "RowKey": f"s|{index:06d}|{row:02d}", "D": pad},
                        {"mode": UpdateMode.REPLACE},
                    )
                    for row in range(99)
                ]
                started = time.perf_counter()
                table.submit_transaction(operations)
                timings[layout].append(time.perf_counter() - started)
    step = max(1, transactions // 10)
    for start in range(0, transactions, step):
        one = timings["one"][start : start + step]
        many = timings["many"][start : start + step]
        per_one = sum(one) / len(one)
        lines.append(
            f"| {start * 99:,} | {per_one * 1000:.0f} | {99 / per_one:,.0f} | "
            f"{sum(many) / len(many) * 1000:.0f} |"
        )
    lines += ["", f"{_load().capitalize()}. Command: `python -m bench.store --probe {entities}`."]
    return "\n".join(lines)


BUCKETS_HEADING = "### Fewer, larger entities: a projection at full size"


def _bucket_projection(scale: float) -> str:
    """What the baseline writes when the records of one (rule, scope) are packed into entities
    of about `target` records each (by a hash prefix of the subject), counted from the
    evaluation of the synthetic tenant: the projection that chose the built layout
    (docs/storage.md, "Buckets"; the store aims at 64 records per bucket)."""
    import json
    import math

    from monitors.store.diff import is_counted, record_of

    sizes = {key: max(1, int(value * scale)) for key, value in SIZES.items()}
    evaluation = evaluate_snapshot(TenantSnapshot.from_document(generate_tenant(**sizes)))
    at = datetime.now(UTC)
    pairs: dict[tuple[str, str], list[int]] = {}
    for finding in evaluation.findings:
        record = record_of(finding, 1, at, 0)
        if not is_counted(record):
            columns = json.dumps(record.as_columns(), default=str, ensure_ascii=False)
            pairs.setdefault((record.rule_id, record.scope_id), []).append(len(columns))
    rows = sum(len(v) for v in pairs.values())
    mean = sum(sum(v) for v in pairs.values()) / max(1, rows)
    lines = [
        BUCKETS_HEADING,
        "",
        f"Scale {scale:g}: {len(evaluation.findings):,} findings, {rows:,} state rows in "
        f"{len(pairs):,} (rule, scope) pairs (largest: "
        + ", ".join(
            f"{rule} {len(v):,}"
            for (rule, _), v in sorted(pairs.items(), key=lambda kv: -len(kv[1]))[:3]
        )
        + f"), {mean:,.0f} characters per record as JSON. A pair of n records gets "
        "2^ceil(log2(2n / target)) hash-prefix buckets (at most n), so buckets are half full "
        "on average; with the previous value kept beside the current one an entity holds "
        "twice its records. Transactions: at most 99 entities and 4 MiB each.",
        "",
        "| records per entity (target) | entities | transactions | largest entity (KiB, est.) |",
        "|---:|---:|---:|---:|",
    ]
    for target in (25, 50, 100, 200):
        entities = 0
        largest = 0.0
        payload = 0.0
        for records in pairs.values():
            buckets = min(
                len(records), 2 ** max(0, math.ceil(math.log2(2 * len(records) / target)))
            )
            entities += buckets
            size = 2 * sum(records) / buckets * 2  # Prev beside the value; UTF-16 bytes
            largest = max(largest, size)
            payload += 2 * sum(records) * 2
        transactions = max(math.ceil(entities / 99), math.ceil(payload / (4 * 1024 * 1024)))
        lines.append(f"| {target} | {entities:,} | {transactions:,} | {largest / 1024:,.0f} |")
    lines += ["", f"Command: `python -m bench.store --buckets {scale:g}`."]
    return "\n".join(lines)


def _load() -> str:
    """The machine is shared: wall times only mean something next to its load."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min: {five:.1f}) on {os.cpu_count()} cores at the end"


def _sections(block: str) -> dict[str, str]:
    """The `### …` sections of the current block, keyed by heading."""
    parts = re.split(r"(?m)^(?=### )", block)
    return {part.splitlines()[0]: part.strip() for part in parts if part.startswith("### ")}


def _sort_key(heading: str) -> tuple[int, float]:
    found = re.match(r"### Scale ([0-9.]+)", heading)
    return (0, float(found.group(1))) if found else (1, 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # Azurite's in-memory table looks entities up by scanning the partition, so the baseline
    # write grows with the square of the partition size (see --probe): 0.1 keeps `make bench`
    # under a minute; 0.5 did not finish its baseline in 25 minutes against the emulator.
    parser.add_argument("--scale", type=float, default=0.1, help="tenant size (1 = full)")
    parser.add_argument("--probe", type=int, default=0, help="also probe Azurite with N entities")
    parser.add_argument(
        "--buckets", type=float, default=0.0, help="only project packed entities at this scale"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.buckets:
        projection = _bucket_projection(args.buckets)
        new = {BUCKETS_HEADING.split(":")[0]: projection}
        print(projection)
    else:
        found = _store_table(args.scale)
        new = {found.splitlines()[0].split(":")[0]: found}
    if args.probe:
        probe = _probe(args.probe)
        new[PROBE_HEADING.split(":")[0]] = probe
        print(probe)
    text = RESULTS.read_text(encoding="utf-8")
    old = text.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in text and END in text else ""
    sections = {heading.split(":")[0]: body for heading, body in _sections(old).items()}
    sections.update(new)
    block = "\n\n".join(
        [BEGIN + "\n" + INTRO, *(sections[k] for k in sorted(sections, key=_sort_key))]
    )
    block += "\n" + END
    if args.no_write:
        print(block)
        return 0
    write_section(RESULTS, BEGIN, END, block, heading="## Verdict memory (Table Storage)\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
