"""`greenscreen network`: the hosts and ports the technician's bench must reach, for a network
team's allow-list.

The list is Microsoft's published Autopilot and Intune endpoints (rules/network_endpoints.py,
each with its source); with `--snapshot`, the tenant's Cloud Management Gateway is added when
co-management installs the Configuration Manager client (COM-002). Exit codes: 0 success,
2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Final

from rules.network_endpoints import Endpoint, merged_endpoints

EXIT_OK: Final = 0
FORMATS: Final = ("text", "json", "csv")
CSV_COLUMNS: Final = ("host", "protocol", "ports", "service", "only_for", "source")


def add_network_command(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "network",
        help="list the hosts and ports the technician's bench must reach",
        description=(
            "List the endpoints Windows Autopilot pre-provisioning needs (Microsoft's Autopilot "
            "and Intune networking requirements), for a firewall or proxy allow-list. With "
            "--snapshot, add the tenant's Cloud Management Gateway when co-management installs "
            "the Configuration Manager client."
        ),
    )
    parser.add_argument("--snapshot", type=Path, metavar="FILE", help="tenant snapshot to read")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run_network_command)
    return parser


def run_network_command(args: argparse.Namespace) -> int:
    from monitors.reports.output import check_writable_destination, write_text_atomically

    if args.out is not None:
        check_writable_destination(args.out)
    endpoints, notes = _endpoints(args.snapshot)
    text = render(endpoints, args.format)
    for note in notes:
        print(f"greenscreen: {note}", file=sys.stderr)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(args.out, text)
        print(f"greenscreen: wrote {len(endpoints)} endpoints to {args.out}", file=sys.stderr)
    return EXIT_OK


def _endpoints(snapshot_path: Path | None) -> tuple[tuple[Endpoint, ...], list[str]]:
    if snapshot_path is None:
        return merged_endpoints(), []
    from monitors.cli import UsageError
    from monitors.snapshot_file import load_snapshot
    from rules.checks.tenant_and_devices.com_002_cloud_management_gateway_reachable import (
        bench_endpoints,
        cmg_endpoints,
    )
    from rules.snapshot_model import SnapshotModelError, TenantSnapshot
    from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS

    document = load_snapshot(snapshot_path)
    try:
        snapshot = TenantSnapshot.from_document(document)
    except SnapshotModelError as error:
        raise UsageError(f"{snapshot_path}: {error}") from None
    notes = []
    if snapshot.enrollment_configurations is None:
        notes.append(
            f"{ENROLLMENT_CONFIGURATIONS} could not be read: a Cloud Management Gateway of "
            "co-management, if any, is not listed"
        )
    elif not cmg_endpoints(snapshot):
        notes.append("no Cloud Management Gateway in the tenant's co-management settings")
    return bench_endpoints(snapshot), notes


def render(endpoints: tuple[Endpoint, ...], output_format: str) -> str:
    if output_format == "json":
        return json.dumps([e.as_json() for e in endpoints], indent=2, ensure_ascii=False) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in endpoints:
            ports = ";".join(str(port) for port in e.ports)
            cells = (e.host, e.protocol, ports, e.service, e.note, e.source)
            writer.writerow([_csv_safe(cell) for cell in cells])
        return buffer.getvalue()
    width = max(len(e.host) for e in endpoints)
    lines = [
        f"{len(endpoints)} endpoints the technician's bench must reach "
        "(DNS for internet names; no TLS inspection of *.manage.microsoft.com)",
        "",
    ]
    for e in endpoints:
        ports = ",".join(str(port) for port in e.ports)
        note = f" [{e.note}]" if e.note else ""
        service = _printable(e.service)
        lines.append(f"{e.host:<{width}}  {e.protocol} {ports:<7} {service}{_printable(note)}")
    sources = sorted({e.source for e in endpoints})
    lines += ["", "Sources:", *(f"  {source}" for source in sources)]
    return "\n".join(lines) + "\n"


def _csv_safe(value: str) -> str:
    """A leading = + - @ would be a formula in a spreadsheet (a co-management name is tenant
    text): quote it away."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _printable(value: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in value)
