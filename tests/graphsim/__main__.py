"""Serve a tenant snapshot as Microsoft Graph until interrupted.

python -m tests.graphsim --snapshot tenant.json --port 8765 [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from pathlib import Path

from tests.graphsim.simulator import GraphSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.graphsim", description="Serve a tenant snapshot as Microsoft Graph."
    )
    parser.add_argument("--snapshot", required=True, type=Path, help="tenant snapshot JSON file")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--seed", type=int, default=0, help="seed for batch order and audit ids")
    parser.add_argument(
        "--audit-events", type=Path, help="JSON list of Intune auditEvents to serve"
    )
    parser.add_argument(
        "--directory-audits", type=Path, help="JSON list of directoryAudits to serve"
    )
    args = parser.parse_args(argv)
    try:
        snapshot = json.loads(args.snapshot.read_text(encoding="utf-8"))
        audit_events = _read_list(args.audit_events)
        directory_audits = _read_list(args.directory_audits)
        simulator = GraphSimulator(
            snapshot,
            host=args.host,
            port=args.port,
            seed=args.seed,
            audit_events=audit_events,
            directory_audits=directory_audits,
        )
    except (OSError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with simulator:
        print(simulator.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def _read_list(path: Path | None) -> list[dict[str, object]]:
    if path is None:
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    # Accept a bare list or a Graph list answer ({"value": [...]}).
    items = data.get("value") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list or an object with a 'value' list")
    return items


if __name__ == "__main__":
    sys.exit(main())
