"""`python -m bench.full_eval URL TENANT`: one full evaluation in a process of its own.

Reads the whole tenant from a running Graph simulator with the production reader, builds the
snapshot model and evaluates every catalog rule (what a `full` change message does before it
records), then prints one JSON line: Graph requests, the time of each phase and the peak RSS of
this process, which holds nothing but the reader, the model and the evaluation.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from monitors.graph.client import GraphClient
from monitors.graph.credentials import LocalDevelopmentCredential
from monitors.graph.reader import TenantReader
from rules.engine import evaluate_snapshot
from rules.snapshot_model import TenantSnapshot


async def _read(url: str, tenant_id: str) -> tuple[dict[str, object], int, int]:
    async with GraphClient(LocalDevelopmentCredential(), base_url=url) as client:
        document = await TenantReader(client, tenant_id=tenant_id).read()
        return document, client.stats.http_requests, client.stats.graph_requests()


def main(argv: list[str]) -> int:
    url, tenant_id = argv
    started = time.perf_counter()
    document, http_requests, graph_requests = asyncio.run(_read(url, tenant_id))
    read_s = time.perf_counter() - started
    snapshot = TenantSnapshot.from_document(document)
    model_s = time.perf_counter() - started - read_s
    evaluation = evaluate_snapshot(snapshot)
    total_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "http_requests": http_requests,
                "graph_requests": graph_requests,
                "read_s": read_s,
                "model_s": model_s,
                "evaluate_s": total_s - read_s - model_s,
                "total_s": total_s,
                "findings": len(evaluation.findings),
                "errors": len(document.get("errors") or {}),  # type: ignore[arg-type]
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
