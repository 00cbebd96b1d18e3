"""The `greenscreen` command: one-off checks, exports and what-if analysis on the same engine.

Exit codes: 0 success, 1 the job ran and found a problem (e.g. nothing could be read), 2 bad input
or usage. Errors are one line on stderr; no traceback reaches the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from monitors.graph.credentials import AuthMode
from monitors.snapshot_file import SnapshotFileError, load_snapshot, snapshot_schema, write_snapshot
from rules import tenant_collections as tc

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("greenscreen")


class UsageError(Exception):
    """Bad input from the operator: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"greenscreen: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="greenscreen",
        description=(
            "Keep an Intune tenant ready for Windows Autopilot pre-provisioning: read the tenant "
            "from Microsoft Graph into a snapshot file and inspect it."
        ),
        epilog=(
            "Examples:\n"
            "  greenscreen export --tenant contoso.onmicrosoft.com --auth device-code "
            "--out contoso.json\n"
            "  greenscreen summary contoso.json\n"
            "  greenscreen schema > tenant-snapshot.schema.json\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    export = commands.add_parser(
        "export",
        help="read a live tenant from Graph into a snapshot file",
        description=(
            "Read every collection the readiness rules need from Microsoft Graph and write a "
            "tenant snapshot. Collections that cannot be read (missing permission, throttling, "
            "delegated-only APIs) are recorded in the file's 'errors' and the read goes on."
        ),
    )
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="snapshot to write")
    _add_graph_options(export)
    export.set_defaults(handler=_export)

    summary = commands.add_parser(
        "summary",
        help="validate a snapshot file and show what it holds",
        description="Validate a tenant snapshot against the schema and count what it holds.",
    )
    summary.add_argument("snapshot", type=Path, metavar="SNAPSHOT")
    summary.add_argument("--format", choices=("text", "json"), default="text")
    summary.set_defaults(handler=_summary)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of the snapshot file",
        description="Print the JSON Schema of greenscreen.tenant-snapshot/1.",
    )
    schema.set_defaults(handler=_schema)
    return parser


def _add_graph_options(parser: argparse.ArgumentParser) -> None:
    graph = parser.add_argument_group("Microsoft Graph")
    graph.add_argument(
        "--tenant",
        metavar="TENANT",
        help="tenant id or domain to sign in to (default: the credential's home tenant)",
    )
    graph.add_argument(
        "--auth",
        choices=[mode.value for mode in AuthMode],
        default=AuthMode.DEFAULT.value,
        help=(
            "how to sign in: default (DefaultAzureCredential), managed-identity, interactive, "
            "device-code, azure-cli, or local (only for a Graph simulator on loopback)"
        ),
    )
    graph.add_argument("--client-id", metavar="ID", help="user-assigned managed identity client id")
    graph.add_argument(
        "--graph-url",
        default="https://graph.microsoft.com",
        metavar="URL",
        help="Graph endpoint (national clouds, or a local simulator)",
    )
    graph.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="parallel requests (1-16)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UsageError, SnapshotFileError) as error:
        print(f"greenscreen: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("greenscreen: interrupted", file=sys.stderr)
        return 130


# -- export -----------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    from monitors.graph.client import GraphClient, RetryPolicy, graph_host
    from monitors.graph.credentials import LOOPBACK_HOSTS, build_credential
    from monitors.graph.reader import TenantReader

    if not 1 <= args.concurrency <= 16:
        raise UsageError("--concurrency must be between 1 and 16")
    try:
        graph_host(args.graph_url)
    except ValueError as error:
        raise UsageError(f"--graph-url: {error}") from None
    mode = AuthMode(args.auth)
    host = args.graph_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    if mode is AuthMode.LOCAL and host not in LOOPBACK_HOSTS:
        raise UsageError("--auth local only works with a Graph simulator on loopback")
    out: Path = args.out
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")

    credential = build_credential(mode, tenant_id=args.tenant, client_id=args.client_id)
    reporter = _progress_reporter(sys.stderr)

    async def run() -> dict[str, Any]:
        async with GraphClient(credential, base_url=args.graph_url, retry=RetryPolicy()) as client:
            tenant_id = args.tenant or await _home_tenant_id(client)
            reader = TenantReader(
                client, tenant_id=tenant_id, concurrency=args.concurrency, progress=reporter.update
            )
            snapshot = await reader.read()
            reporter.finish(client.stats.http_requests, client.stats.graph_requests())
            return snapshot

    try:
        snapshot = asyncio.run(run())
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result):
                asyncio.run(result)
    write_snapshot(out, snapshot)
    read = len(snapshot["collections"])
    unreadable = len([key for key in snapshot["errors"] if key in tc.ALL_COLLECTIONS])
    print(
        f"wrote {out}: {read} collections read, {unreadable} unreadable"
        + (" (see 'errors' in the file)" if snapshot["errors"] else ""),
        file=sys.stderr,
    )
    if read == 0:
        print("greenscreen: nothing could be read from Graph", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_OK


async def _home_tenant_id(client: Any) -> str:
    from monitors.graph.client import GraphError

    try:
        organization = await client.get_json("v1.0", "organization?$select=id")
        tenant_id = organization["value"][0]["id"]
    except (GraphError, KeyError, IndexError, TypeError):
        raise UsageError("cannot tell which tenant this is: pass --tenant") from None
    return str(tenant_id)


class _PlainProgress:
    """One line per collection, for logs and pipelines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def update(self, path: str, count: int | None, error: Mapping[str, Any] | None) -> None:
        if error is not None:
            line = f"unreadable {path}: {error.get('status')} {error.get('message')}"
        else:
            line = f"read {path}: {count} objects"
        print(line, file=self._stream, flush=True)

    def finish(self, http_requests: int, graph_requests: int) -> None:
        print(
            f"done: {http_requests} HTTP requests ({graph_requests} as Graph counts them)",
            file=self._stream,
        )


class _TerminalProgress(_PlainProgress):
    """A progress bar over the collections, for an admin at a terminal."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("reading tenant"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            console=Console(file=stream),
            transient=False,
        )
        self._task = self._bar.add_task("", total=len(tc.ALL_COLLECTIONS))
        self._bar.start()

    def update(self, path: str, count: int | None, error: Mapping[str, Any] | None) -> None:
        if error is not None:
            self._bar.console.print(f"[yellow]unreadable[/] {path}: {error.get('message')}")
        self._bar.update(self._task, advance=1, description=path)

    def finish(self, http_requests: int, graph_requests: int) -> None:
        self._bar.stop()
        super().finish(http_requests, graph_requests)


def _progress_reporter(stream: TextIO) -> _PlainProgress:
    return _TerminalProgress(stream) if stream.isatty() else _PlainProgress(stream)


# -- summary and schema -------------------------------------------------------------------------


def _summary(args: argparse.Namespace) -> int:
    snapshot = load_snapshot(args.snapshot)
    summary = summarize(snapshot)
    if args.format == "json":
        json.dump(summary, sys.stdout, indent=2)
        print()
        return EXIT_OK
    print(f"tenant {summary['tenantId']} captured {summary['capturedAt']}")
    for path, count in summary["counts"].items():
        print(f"  {count:>7}  {path}")
    for path, error in summary["errors"].items():
        print(f"  {'n/a':>7}  {path}  (unreadable: {error['status']} {error['message']})")
    facts = summary["facts"]
    print(
        f"pre-provisioning profiles: {facts['preprovisioningProfiles']} of {facts['profiles']}; "
        f"Autopilot devices: {facts['autopilotDevices']}; "
        f"dynamic groups paused: {facts['pausedDynamicGroups']}"
    )
    return EXIT_OK


def summarize(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    collections: Mapping[str, list[Mapping[str, Any]]] = snapshot["collections"]
    profiles = collections.get(tc.AUTOPILOT_PROFILES, [])
    groups = collections.get(tc.GROUPS, [])
    return {
        "tenantId": snapshot["tenantId"],
        "capturedAt": snapshot["capturedAt"],
        "counts": {
            path: len(collections[path]) for path in tc.ALL_COLLECTIONS if path in collections
        },
        "errors": dict(snapshot.get("errors", {})),
        "facts": {
            "profiles": len(profiles),
            "preprovisioningProfiles": sum(
                1
                for profile in profiles
                if profile.get("preprovisioningAllowed") or profile.get("enableWhiteGlove")
            ),
            "autopilotDevices": len(collections.get(tc.AUTOPILOT_DEVICES, [])),
            "pausedDynamicGroups": sum(
                1 for group in groups if group.get("membershipRuleProcessingState") == "Paused"
            ),
        },
    }


def _schema(args: argparse.Namespace) -> int:
    json.dump(snapshot_schema(), sys.stdout, indent=2)
    print()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
