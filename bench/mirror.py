"""`python -m bench.mirror [--scale 1] [--first-layout]`: the tenant mirror on Azurite.

The guardrail's bootstrap writes the whole tenant into the mirror (`TenantMirror.save_snapshot`)
and every reconcile writes it again; a cold instance loads it whole, a warm one patches its
copy from the write log. For the synthetic tenant at a scale (seed 0), on Azurite in memory:

- the full write of a mirror never written (the bootstrap's), its entities and wall time;
- a cold load (every entity of every collection read);
- the same full read written again (a reconcile where nothing changed): entities written;
- one Autopilot device changed (`put_objects`), then the warm copy's load: entities read.

`--first-layout` measures the first layout instead (one entity per object, written in
transactions of 100 per partition, as the mirror wrote before packing) for the full write and
the cold load, and with `--migrate` the packing full write that follows it (its row deletes).
Rows go to docs/benchmarks.md between the mirror-bench markers; a run replaces the rows of its
own scale and layout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections.abc import Iterable
from typing import Any

from azure.data.tables import TableServiceClient, UpdateMode

from bench.results import write_section
from bench.store import REPO
from monitors.guardrail import mirror as tenant_mirror
from monitors.guardrail.mirror import TenantMirror
from monitors.store.keys import MIRROR_TABLE, key_part, tenant_key
from monitors.store.transactions import TRANSACTION_LIMIT
from rules import tenant_collections as tc
from samples.synthetic import LARGE_TENANT, generate_tenant
from tests.azurite import running_azurite

RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- mirror-bench:begin -->"
END = "<!-- mirror-bench:end -->"
HEADING = "### The tenant mirror: full write, loads, one change\n\n"
INTRO = (
    "Synthetic tenant (seed 0) at a scale of `generate_tenant()` defaults, Azurite in memory on "
    "loopback, `TenantMirror` alone (no Graph, no rules). *Full write*: `save_snapshot` of a "
    "mirror never written (the bootstrap's). *Cold load*: `load` by an instance without a copy. "
    "*Rewrite*: the same objects written again, as a reconcile where nothing changed. *One "
    "change*: one Autopilot device `put_objects`, then the warm copy's `load` (patched from the "
    "write log). The first layout is one entity per object (before packing), written in "
    "transactions of 100 per partition as the mirror did; *packing it* is the next full write "
    "of such a mirror (buckets, then the rows deleted)."
)
COLUMNS = [
    "devices",
    "layout",
    "objects",
    "full write (s)",
    "entities after",
    "cold load (s, entities read)",
    "rewrite, nothing changed (s, entities written with `!meta`)",
    "one change: write (s) / warm load (s, entities read)",
    "load average (1 min)",
    "command",
]


def _count(service: TableServiceClient) -> int:
    table = service.get_table_client(MIRROR_TABLE)
    return sum(1 for _ in table.list_entities(select=["RowKey"]))


def _write_first_layout(service: TableServiceClient, document: dict[str, Any]) -> None:
    """The mirror before packing: one entity per object, transactions of 100 per partition."""
    table = service.get_table_client(MIRROR_TABLE)
    tenant = document["tenantId"]
    for path, objects in document["collections"].items():
        partition = tenant_mirror._partition(tenant, path)
        rows = [_row(partition, obj) for obj in objects]
        for start in range(0, len(rows), TRANSACTION_LIMIT):
            chunk = rows[start : start + TRANSACTION_LIMIT]
            table.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE}) for e in chunk])
    table.upsert_entity(
        {
            "PartitionKey": tenant_key(tenant),
            "RowKey": tenant_mirror.META_ROW_KEY,
            "CapturedAt": document["capturedAt"],
            "Collections": json.dumps(
                [p for p in tc.ALL_COLLECTIONS if p in document["collections"]]
            ),
            "Errors": "{}",
        }
    )


def _row(partition: str, obj: dict[str, Any]) -> dict[str, Any]:
    object_id = str(obj["id"])
    text = tenant_mirror._object_text(obj)
    return tenant_mirror._entity(partition, key_part(object_id), object_id, text)


def measure(scale: float, first_layout: bool, migrate: bool, log: Any) -> list[list[str]]:
    sizes = {k: max(1, int(v * scale)) for k, v in LARGE_TENANT.items()}
    document = generate_tenant(**sizes)
    document["tenantId"] = str(uuid.uuid4())
    tenant = document["tenantId"]
    objects = sum(len(v) for v in document["collections"].values())
    command = (
        f"`python -m bench.mirror --scale {scale:g}"
        + (" --first-layout" + (" --migrate" if migrate else "") if first_layout else "")
        + "`"
    )
    rows: list[list[str]] = []
    with running_azurite() as azurite:
        service = TableServiceClient.from_connection_string(azurite.table_connection)
        writer = TenantMirror(service)
        writer.ensure_table()
        log(f"full write of {objects:,} objects ({'first layout' if first_layout else 'packed'})")
        started = time.perf_counter()
        if first_layout:
            _write_first_layout(service, document)
        else:
            writer.save_snapshot(tenant, document)
        write_s = time.perf_counter() - started
        entities = _count(service)
        log(f"  {write_s:.1f} s, {entities:,} entities")
        cold = TenantMirror(service)
        started = time.perf_counter()
        cold.load(tenant)
        load_s = time.perf_counter() - started
        cold_read = cold.last_load.entities_read
        log(f"  cold load {load_s:.2f} s, {cold_read:,} entities")
        rewrite = change = "—"
        if first_layout and migrate:
            log("packing it: the next full write")
            started = time.perf_counter()
            writer.save_snapshot(tenant, document)
            pack_s = time.perf_counter() - started
            rows.append(
                _row_cells(
                    sizes,
                    "first layout, then packing it (the full write that follows)",
                    objects,
                    f"{pack_s:.1f}",
                    _count(service),
                    "—",
                    "—",
                    "—",
                    command,
                )
            )
        if not first_layout:
            started = time.perf_counter()
            written = writer.save_snapshot(tenant, document)
            rewrite = f"{time.perf_counter() - started:.2f} s, {written:,}"
            log(f"  rewrite {rewrite}")
            device = dict(document["collections"][tc.AUTOPILOT_DEVICES][0], displayName="Renamed")
            started = time.perf_counter()
            writer.put_objects(tenant, tc.AUTOPILOT_DEVICES, [device])
            put_s = time.perf_counter() - started
            started = time.perf_counter()
            cold.load(tenant)
            warm_s = time.perf_counter() - started
            change = f"{put_s:.2f} / {warm_s:.2f}, {cold.last_load.entities_read}"
            log(f"  one change {change}")
        rows.insert(
            0,
            _row_cells(
                sizes,
                "first layout (one entity per object)" if first_layout else "packed",
                objects,
                f"{write_s:.1f}",
                entities,
                f"{load_s:.2f}, {cold_read:,}",
                rewrite,
                change,
                command,
            ),
        )
    return rows


def _row_cells(
    sizes: dict[str, int],
    layout: str,
    objects: int,
    write: str,
    entities: int,
    load: str,
    rewrite: str,
    change: str,
    command: str,
) -> list[str]:
    return [
        f"{sizes['devices']:,}",
        layout,
        f"{objects:,}",
        write,
        f"{entities:,}",
        load,
        rewrite,
        change,
        f"{os.getloadavg()[0]:.1f}",
        command,
    ]


def _merge(old_block: str, new_rows: Iterable[list[str]]) -> str:
    """The table with rows of the same devices and layout replaced, ordered by both."""
    rows: dict[tuple[str, str], list[str]] = {}
    for line in old_block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == len(COLUMNS) and cells[0][:1].isdigit():
            rows[(cells[0], cells[1])] = cells
    for cells in new_rows:
        rows[(cells[0], cells[1])] = cells
    ordered = sorted(rows.values(), key=lambda c: (int(c[0].replace(",", "")), c[1]))
    return "\n".join(
        [
            INTRO,
            "",
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "---:|" * 1 + "---|" + "---:|" * (len(COLUMNS) - 3) + "---|",
            *("| " + " | ".join(cells) + " |" for cells in ordered),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1, help="tenant size (1 = full)")
    parser.add_argument("--first-layout", action="store_true", help="one entity per object")
    parser.add_argument("--migrate", action="store_true", help="then pack it (--first-layout)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    rows = measure(args.scale, args.first_layout, args.migrate, log)
    text = RESULTS.read_text(encoding="utf-8")
    old = text.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in text and END in text else ""
    block = _merge(old, rows)
    print(block)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, block, heading=HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
