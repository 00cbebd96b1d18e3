"""`make bench`: measure a full tenant read against the Graph simulator over loopback HTTP.

For the large synthetic tenant it reports Graph requests and wall time of Greenscreen's reader,
beside the minimum possible (one request per page of each collection at Graph's page cap, and one
JSON batch per 20 per-object page reads of what Graph cannot expand: settings pages of 25, app
relationships, each profile's `assignedDevices`, group lookups and members) and beside a naive
reader that pages with default sizes and fetches assignments and navigations per object. The page
caps are the simulator's, which are Graph's as observed in the field (docs/graph-simulator.md).
Results go to docs/benchmarks.md (the table between the markers is rewritten).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import write_section
from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.collections import COLLECTION_SPECS, GROUP_IDS_PER_FILTER
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader, referenced_group_ids
from rules import tenant_collections as tc
from samples.synthetic import LARGE_TENANT, generate_tenant
from tests.graphsim import GraphSimulator

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- reader-bench:begin -->"
END = "<!-- reader-bench:end -->"
LARGE = LARGE_TENANT


@dataclass
class Measurement:
    name: str
    http_requests: int
    graph_requests: int
    seconds: float


def minimum_requests(snapshot: Mapping[str, Any], sim: GraphSimulator) -> int:
    """Pages of each collection at the page cap, plus batches for what cannot be expanded."""
    collections = snapshot["collections"]
    total = 0
    for spec in COLLECTION_SPECS:
        if spec.singleton:
            total += 1
            continue
        count = len(collections.get(spec.path, ()))
        total += max(1, math.ceil(count / sim.page_size(spec.path, 10_000)))
    per_object = {"v1.0": 0, "beta": 0}

    def pages(path: str, count: int) -> int:
        return max(1, math.ceil(count / sim.page_size(path, 10_000)))

    per_object["beta"] += sum(
        pages(f"{tc.SETTINGS_CATALOG_POLICIES}/{p['id']}/settings", len(p.get("settings") or ()))
        for p in collections.get(tc.SETTINGS_CATALOG_POLICIES, ())
        if p.get("settingCount")
    )
    devices = collections.get(tc.AUTOPILOT_DEVICES, ())
    if any(d.get("deploymentProfileAssignmentStatus") != "notAssigned" for d in devices):
        for profile in collections.get(tc.AUTOPILOT_PROFILES, ()):
            assigned = sum(
                1 for d in devices if (d.get("deploymentProfile") or {}).get("id") == profile["id"]
            )
            path = f"{tc.AUTOPILOT_PROFILES}/{profile['id']}/assignedDevices"
            per_object["beta"] += pages(path, assigned)
    per_object["beta"] += sum(
        1
        for app in collections.get(tc.MOBILE_APPS, ())
        if any(
            app.get(k) for k in ("dependentAppCount", "supersedingAppCount", "supersededAppCount")
        )
    )
    groups = referenced_group_ids(collections)
    per_object["v1.0"] += math.ceil(len(groups) / GROUP_IDS_PER_FILTER)
    per_object["v1.0"] += sum(
        pages(f"groups/{group['id']}/members", len(group.get("members") or ()))
        for group in collections.get(tc.GROUPS, ())
        if "DynamicMembership" not in (group.get("groupTypes") or ())
    )
    total += sum(math.ceil(n / 20) for n in per_object.values())
    return total


async def read_with_greenscreen(url: str, tenant_id: str) -> tuple[dict[str, Any], Measurement]:
    async with GraphClient(LocalDevelopmentCredential(), base_url=url) as client:
        started = time.perf_counter()
        snapshot = await TenantReader(client, tenant_id=tenant_id).read()
        elapsed = time.perf_counter() - started
        stats = client.stats
    return snapshot, Measurement(
        "Greenscreen reader", stats.http_requests, stats.graph_requests(), elapsed
    )


async def read_naively(url: str, snapshot: Mapping[str, Any]) -> Measurement:
    """What a straightforward script does: default pages, then one GET per object navigation."""
    async with GraphClient(
        LocalDevelopmentCredential(), base_url=url, retry=RetryPolicy()
    ) as client:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(4)

        async def get_all(version: Any, relative: str, headers: Any = None) -> list[Any]:
            async with semaphore:
                page = await client.get_json(version, relative, headers=headers)
            items = list(page.get("value", []))
            while page.get("@odata.nextLink"):
                async with semaphore:
                    page = await client.request_json(
                        "GET", page["@odata.nextLink"], headers=headers
                    )
                items.extend(page.get("value", []))
            return items

        lists: dict[str, list[Any]] = {}
        for spec in COLLECTION_SPECS:
            if spec.singleton:
                await client.get_json(spec.version, spec.path)
                continue
            relative = spec.path
            headers = None
            if spec.filter:
                relative += f"?$filter={spec.filter}&$count=true"
                headers = {"ConsistencyLevel": "eventual"}
            lists[spec.path] = await get_all(spec.version, relative, headers)
        navigations = []
        for path in (
            tc.AUTOPILOT_PROFILES,
            tc.ENROLLMENT_CONFIGURATIONS,
            tc.DEVICE_CONFIGURATIONS,
            tc.SETTINGS_CATALOG_POLICIES,
            tc.PLATFORM_SCRIPTS,
            tc.COMPLIANCE_POLICIES,
            tc.MOBILE_APPS,
        ):
            navigations += [(f"{path}/{item['id']}/assignments") for item in lists[path]]
        navigations += [
            f"{tc.SETTINGS_CATALOG_POLICIES}/{p['id']}/settings"
            for p in lists[tc.SETTINGS_CATALOG_POLICIES]
        ]
        navigations += [f"{tc.MOBILE_APPS}/{a['id']}/relationships" for a in lists[tc.MOBILE_APPS]]
        # The device list refuses `$expand=deploymentProfile`: profiles name their devices.
        navigations += [
            f"{tc.AUTOPILOT_PROFILES}/{p['id']}/assignedDevices"
            for p in lists[tc.AUTOPILOT_PROFILES]
        ]
        await asyncio.gather(*(get_all("beta", relative) for relative in navigations))
        groups = snapshot["collections"].get(tc.GROUPS, [])

        async def get_group(group_id: str) -> None:
            async with semaphore:
                await client.get_json("v1.0", f"groups/{group_id}")

        await asyncio.gather(*(get_group(g["id"]) for g in groups))
        await asyncio.gather(
            *(
                get_all("v1.0", f"groups/{g['id']}/members")
                for g in groups
                if "DynamicMembership" not in (g.get("groupTypes") or ())
            )
        )
        elapsed = time.perf_counter() - started
        stats = client.stats
    return Measurement(
        "naive per-object reader", stats.http_requests, stats.graph_requests(), elapsed
    )


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the tenant (e.g. 0.1)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sizes = {key: max(1, int(value * args.scale)) for key, value in LARGE.items()}
    started = time.perf_counter()
    tenant = generate_tenant(**sizes)
    generated_in = time.perf_counter() - started
    with GraphSimulator(tenant) as sim:
        snapshot, ours = asyncio.run(read_with_greenscreen(sim.url, tenant["tenantId"]))
        minimum = minimum_requests(tenant, sim)
        naive = asyncio.run(read_naively(sim.url, tenant))
    same = snapshot["errors"] == {} and {
        path: len(items) for path, items in snapshot["collections"].items()
    } == {path: len(items) for path, items in tenant["collections"].items()}
    ratio = ours.http_requests / minimum
    size_line = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sizes.items())
    rows = [
        "| reader | HTTP requests | Graph requests (batch items counted) | wall time (s) |",
        "|---|---:|---:|---:|",
        "| minimum possible (pages at the cap + 1 batch per 20 per-object page reads) | "
        f"{minimum} | "
        "n/a | n/a |",
        f"| {ours.name} | {ours.http_requests} ({ratio:.2f}x minimum) | {ours.graph_requests} | "
        f"{ours.seconds:.2f} |",
        f"| {naive.name} | {naive.http_requests} | {naive.graph_requests} | {naive.seconds:.2f} |",
    ]
    block = "\n".join(
        [
            BEGIN,
            f"Tenant: {size_line} (synthetic, seed 0; generated in {generated_in:.1f} s).",
            "",
            *rows,
            "",
            f"Every object of every collection read, no errors: {same}. Peak RSS of the "
            f"benchmark process (simulator and both readers): {peak_memory_mib():.0f} MiB. "
            "Command: `make bench`.",
            END,
        ]
    )
    print(block)
    if not args.no_write and args.scale == 1.0:
        write_section(RESULTS, BEGIN, END, block)
        print(f"updated {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
