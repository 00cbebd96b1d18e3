"""The `greenscreen` command: one-off checks, exports and what-if analysis on the same engine.

Exit codes: 0 success (for `check`: ready), 1 the job ran and found a problem (for `check`:
findings at or above `--fail-on`; for `export`: nothing could be read), 2 bad input or usage.
Errors are one line on stderr; no traceback reaches the operator.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

# Only what every command needs is imported here: each command imports what it uses when it runs,
# so that `check` on a snapshot file loads neither the Graph and storage SDKs nor the other
# commands (tests/test_cli_imports.py holds that).
from monitors.graph.auth_modes import AuthMode
from monitors.reports.output import ReportOutputError
from monitors.reports.safe_text import inert_json, printable
from monitors.snapshot_file import load_snapshot, snapshot_schema, write_snapshot
from rules import tenant_collections as tc
from rules.findings import Severity

if TYPE_CHECKING:
    from monitors.reports.sarif import SarifArtifact
    from monitors.suppressions import Suppression
    from rules.context import OperatorSettings
    from rules.engine import Rule
    from rules.findings import Finding
    from rules.snapshot_model import TenantSnapshot

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

log = logging.getLogger("greenscreen")


class UsageError(Exception):
    """Bad input from the operator: reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"greenscreen: {_one_line(message)} (see --help)\n")


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
            "  greenscreen check --snapshot contoso.json --format html --out readiness.html\n"
            "  greenscreen check --snapshot contoso.json --what-if change.json\n"
            "  greenscreen summary contoso.json\n"
            "  greenscreen schema > tenant-snapshot.schema.json\n"
            "  greenscreen rules explain ENR-005\n"
            "  greenscreen network --snapshot contoso.json --format csv --out allow-list.csv\n"
            "  greenscreen import --from intunecd backup/ --out contoso.json\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    parser.add_argument(
        "--version", action=_VersionAction, help="show program's version number and exit"
    )
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

    _add_check_command(commands)
    from monitors.history_command import add_history_command

    add_history_command(commands)
    from monitors.alerts.replay_command import add_alerts_command

    add_alerts_command(commands)
    from monitors.catalog_command import add_rules_command
    from monitors.network_command import add_network_command

    add_rules_command(commands)
    add_network_command(commands)
    from monitors.dashboard.command import add_serve_command

    add_serve_command(commands)
    from monitors.intune_export import add_import_command

    add_import_command(commands)

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
        help="print the JSON Schema of the snapshot file (or of the findings document)",
        description=(
            "Print the JSON Schema of greenscreen.tenant-snapshot/1, or with --findings the "
            "schema of greenscreen.findings/2 (`greenscreen check --format json`)."
        ),
    )
    schema.add_argument(
        "--findings",
        action="store_true",
        help="the findings document of `check --format json` instead of the snapshot file",
    )
    schema.set_defaults(handler=_schema)
    return parser


class _VersionAction(argparse.Action):
    """`--version`, its text made when asked: the installed version is looked up in the package
    metadata, which no other invocation needs."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_text())  # on stdout, as argparse's own version action
        parser.exit()


def version_text() -> str:
    """`greenscreen --version`: the installed version and the size of the rule catalog."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("greenscreen")
    except PackageNotFoundError:  # run from a checkout that was never installed
        installed = "unknown"
    from rules.catalog import all_rules
    from rules.findings import RuleKind

    entries = [rule.metadata for rule in all_rules()]
    manual = sum(1 for metadata in entries if metadata.kind is RuleKind.MANUAL)
    return (
        f"greenscreen {installed} (catalog: {len(entries)} entries, "
        f"{len(entries) - manual} rules, {manual} manual items)"
    )


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


CHECK_FORMATS = ("terminal", "json", "junit", "sarif", "markdown", "html")
WHAT_IF_FORMATS = CHECK_FORMATS
DEVICE_LIST_FORMATS = ("terminal", "markdown", "html")
MDM_SCOPES = ("all", "selected", "none")


def _add_check_command(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="evaluate the readiness rules on a snapshot or a live tenant",
        description=(
            "Evaluate every pre-provisioning readiness rule on a tenant snapshot (--snapshot) or "
            "on a tenant read live from Microsoft Graph, and report the verdicts per "
            "pre-provisioning profile. Exit codes: 0 ready, 1 a finding fails or is unknown at "
            "or above --fail-on, 2 bad input or usage. With --what-if, a proposed change is "
            "applied to the tenant first and the report says what it would break or resolve "
            "(exit 1 when it newly breaks readiness at or above --fail-on)."
        ),
    )
    source = check.add_argument_group("tenant")
    source.add_argument(
        "--snapshot",
        type=Path,
        metavar="FILE",
        help="tenant snapshot to check (default: read the live tenant, see Microsoft Graph)",
    )
    source.add_argument(
        "--store",
        action="store_true",
        help=(
            "record the evaluation in Table Storage (GREENSCREEN_STORAGE_CONNECTION; default: "
            "the local Azurite emulator) so that 'greenscreen history' can show what changed; "
            "not with --what-if (a what-if is not the tenant's history)"
        ),
    )
    source.add_argument(
        "--attest-mdm-scope",
        choices=MDM_SCOPES,
        metavar="{all,selected,none}",
        help=(
            "the MDM user scope, as you know it, when Graph cannot say (the API is "
            "delegated-only): all, selected or none"
        ),
    )
    source.add_argument(
        "--attest-other-mdm-apps",
        choices=("none", "active"),
        help=(
            "whether an MDM application other than Intune has a user scope, as you know it, "
            "when Graph cannot say (ENR-003; needs --attest-mdm-scope)"
        ),
    )
    report = check.add_argument_group("report")
    report.add_argument(
        "--format",
        choices=CHECK_FORMATS,
        default="terminal",
        help="terminal (default), json (the findings document), junit, sarif, markdown or html",
    )
    report.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the report here and say so on stderr (default: stdout)",
    )
    report.add_argument(
        "--fail-on",
        choices=[severity.value for severity in Severity],
        default=Severity.ERROR.value,
        help=(
            "lowest severity that makes the check fail (exit 1): blocker, error (default), "
            "warning or info; unknown findings at or above it fail too"
        ),
    )
    report.add_argument(
        "--suppressions",
        type=Path,
        metavar="FILE",
        help=(
            "JSON list of accepted findings ({rule, subject, tenant, reason, owner, expires}): "
            "shown as suppressed, not counted against --fail-on; expired entries do not apply"
        ),
    )
    report.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help=(
            "everything: every finding in terminal, markdown and html (default: a bounded "
            "summary); passing findings one by one in json"
        ),
    )
    report.add_argument(
        "--devices",
        action="store_true",
        help="list per-device readiness in terminal and markdown output (html always has it)",
    )
    report.add_argument(
        "--devices-out",
        type=Path,
        metavar="FILE",
        help="write per-device readiness as JSON to FILE",
    )
    report.add_argument(
        "--what-if",
        type=Path,
        metavar="CHANGE",
        help="apply this change document (docs/changes.md) and report what it would change",
    )
    _add_graph_options(check)
    check.set_defaults(handler=_check)


def main(argv: Sequence[str] | None = None, *, rules: Sequence[Rule] | None = None) -> int:
    """Run the command; `rules` replaces the catalog (tests pass small fake rule lists)."""
    args = _parse(argv)
    args.rules = rules
    return _run(args)


def run() -> NoReturn:
    """The installed `greenscreen` command and `python -m monitors.cli`: `main`, then the exit.

    `check` ends its process as soon as its report is out: it holds the snapshot, the model and
    the verdicts (about 600 MB for 20,000 devices) and nothing after the report needs them, so
    the cyclic collector stays off for the whole command (one collection of that heap when it
    was switched back on took about a second) and the heap is not freed object by object at
    exit (`os._exit` once stdout and stderr are flushed; every file the command writes is
    closed and renamed into place before). Other commands exit the usual way.
    """
    args = _parse(None)
    args.rules = None
    if args.command != "check":
        raise SystemExit(_run(args))
    gc.disable()
    _end_process(_run(args))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return args


def _end_process(code: int) -> NoReturn:
    """Flush what is buffered and end the process with `code`, without the interpreter's
    clean-up; a stdout that cannot take the rest is one line on stderr and exit 2."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (`| head`): nothing more to show it
    except (OSError, ValueError) as error:
        print(
            f"greenscreen: cannot write to standard output: {_one_line(str(error))}",
            file=sys.stderr,
        )
        code = EXIT_BAD_INPUT
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("greenscreen: interrupted", file=sys.stderr)
        return 130
    except _operator_errors() as error:  # evaluated only when an exception arrives
        print(f"greenscreen: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _operator_errors() -> tuple[type[Exception], ...]:
    """Errors in what the operator gave (one line on stderr, exit 2), imported only when an
    exception is being handled: a command does not load the modules of the others to run."""
    from monitors.snapshot_file import SnapshotFileError
    from monitors.suppressions import SuppressionError
    from monitors.tenant_changes import ChangeError
    from monitors.what_if import WhatIfError

    return (
        UsageError,
        SnapshotFileError,
        ChangeError,
        WhatIfError,
        ReportOutputError,
        SuppressionError,
    )


# -- export -----------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a directory")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    _check_graph_options(args)
    snapshot = _read_live_tenant(args)
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


def _check_graph_options(args: argparse.Namespace) -> None:
    from monitors.graph.auth_modes import LOOPBACK_HOSTS
    from monitors.guardrail.settings import check_graph_url

    if not 1 <= args.concurrency <= 16:
        raise UsageError("--concurrency must be between 1 and 16")
    try:
        check_graph_url(args.graph_url)
    except ValueError as error:
        raise UsageError(f"--graph-url: {error}") from None
    host = args.graph_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    if AuthMode(args.auth) is AuthMode.LOCAL and host not in LOOPBACK_HOSTS:
        raise UsageError("--auth local only works with a Graph simulator on loopback")


def _read_live_tenant(args: argparse.Namespace) -> dict[str, Any]:
    """Read the tenant from Graph into a snapshot document (progress on stderr)."""
    import asyncio

    from monitors.graph.client import GraphClient, RetryPolicy
    from monitors.graph.credentials import build_credential
    from monitors.graph.reader import TenantReader

    credential = build_credential(
        AuthMode(args.auth), tenant_id=args.tenant, client_id=args.client_id
    )
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
        return asyncio.run(run())
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            result = close()
            if asyncio.iscoroutine(result):
                asyncio.run(result)


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
        print(printable(line), file=self._stream, flush=True)

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
            from rich.text import Text

            line = Text("unreadable", style="yellow")
            line.append(printable(f" {path}: {error.get('message')}"))
            self._bar.console.print(line)
        self._bar.update(self._task, advance=1, description=path)

    def finish(self, http_requests: int, graph_requests: int) -> None:
        self._bar.stop()
        super().finish(http_requests, graph_requests)


def _progress_reporter(stream: TextIO) -> _PlainProgress:
    return _TerminalProgress(stream) if stream.isatty() else _PlainProgress(stream)


# -- check ----------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from rules.engine import collector_paused

    # One short-lived process holding millions of long-lived objects (the snapshot, its model,
    # the verdicts): automatic collections would walk all of them again and again (half of a
    # large tenant's CPU). Reference counting frees what is dropped on the way; `run` never
    # switches the collector back on (the process ends after the report).
    with collector_paused():
        return _check_paused(args)


def _check_paused(args: argparse.Namespace) -> int:
    from monitors.tenant_changes import load_change_document

    fail_on = Severity(args.fail_on)
    _check_check_options(args)
    change_document = load_change_document(args.what_if) if args.what_if else None
    suppressions = _load_suppressions(args)
    if args.snapshot is not None:
        document = load_snapshot(args.snapshot)
        source = str(args.snapshot)
    else:
        _check_graph_options(args)
        document = _read_live_tenant(args)
        source = "the live tenant"
    from rules.context import OperatorSettings

    if args.attest_other_mdm_apps is not None and args.attest_mdm_scope is None:
        raise UsageError("--attest-other-mdm-apps needs --attest-mdm-scope")
    attested = args.attest_mdm_scope is not None
    settings = OperatorSettings(
        attested_mdm_user_scope=args.attest_mdm_scope,
        attested_other_mdm_apps=args.attest_other_mdm_apps,
        mdm_attestation_basis="on the command line" if attested else "",
    )
    if change_document is not None:
        return _check_what_if(args, document, change_document, fail_on, settings, suppressions)
    return _check_readiness(args, document, source, fail_on, settings, suppressions)


def _load_suppressions(args: argparse.Namespace) -> tuple[Suppression, ...]:
    """The suppression file, checked against the catalog; expired entries are named on stderr."""
    from datetime import UTC, datetime

    from monitors.suppressions import load_suppression_file
    from rules.catalog import all_rules

    if args.suppressions is None:
        return ()
    rules = args.rules if args.rules is not None else all_rules()
    suppressions = load_suppression_file(
        args.suppressions, known_rules={rule.metadata.id for rule in rules}
    )
    now = datetime.now(UTC)
    for index, suppression in enumerate(suppressions):
        if suppression.expired(now):
            print(
                f"greenscreen: {args.suppressions}[{index}]: suppression of "
                f"{_one_line(suppression.label())} expired "
                f"{suppression.expires.date().isoformat()}: not applied",
                file=sys.stderr,
            )
    return suppressions


def _check_check_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that cannot work, before any reading or evaluating."""
    from monitors.reports.output import check_writable_destination

    if args.snapshot is not None and (args.tenant or args.client_id):
        raise UsageError("--tenant and --client-id read a live tenant; not with --snapshot")
    if args.what_if is not None:
        if args.store:
            raise UsageError(
                "--store records the tenant's real verdicts; a --what-if is never recorded"
            )
        if args.devices or args.devices_out:
            raise UsageError("--devices and --devices-out are not available with --what-if")
    if args.devices and args.format not in DEVICE_LIST_FORMATS:
        raise UsageError(
            f"--devices lists devices in terminal, markdown and html output; with --format "
            f"{args.format} write them to a file with --devices-out FILE"
        )
    outputs = [path for path in (args.out, args.devices_out) if path is not None]
    for path in outputs:
        check_writable_destination(path)
    if len(outputs) == 2 and outputs[0].resolve() == outputs[1].resolve():
        raise UsageError("--out and --devices-out name the same file")


def _snapshot_model(document: Mapping[str, Any], source: str) -> TenantSnapshot:
    from rules.snapshot_model import SnapshotModelError, TenantSnapshot

    try:
        return TenantSnapshot.from_document(document)
    except SnapshotModelError as error:
        raise UsageError(f"{source}: {error}") from None


def _check_readiness(
    args: argparse.Namespace,
    document: dict[str, Any],
    source: str,
    fail_on: Severity,
    settings: OperatorSettings,
    suppressions: Sequence[Suppression] = (),
) -> int:
    from datetime import UTC, datetime

    from monitors.reports import html_report, json_findings, junit, markdown, sarif, terminal
    from monitors.reports.model import build_report, suppressed_verdicts
    from rules.device_readiness import device_readiness
    from rules.engine import evaluate_snapshot

    snapshot = _snapshot_model(document, source)
    document.clear()  # the model holds what the rules need; the raw document is not kept
    evaluation = evaluate_snapshot(snapshot, args.rules, settings)
    now = datetime.now(UTC)
    wants_devices = args.devices or args.devices_out is not None or args.format == "html"
    devices = None
    if wants_devices:
        # A suppressed verdict blocks no device either.
        silenced = suppressed_verdicts(evaluation.findings, suppressions, evaluation.tenant_id, now)
        counted = (
            [f for f in evaluation.findings if (f.rule_id, f.subject.id) not in silenced]
            if silenced
            else evaluation.findings
        )
        devices = device_readiness(snapshot, counted, fail_on)
    report = build_report(evaluation, snapshot, fail_on, devices, suppressions, now)
    everything: bool = args.everything
    color, width = _terminal_style(args.out)
    renderers: dict[str, Callable[[], Iterable[str]]] = {
        "terminal": lambda: (
            terminal.render_terminal(
                report, color=color, width=width, show_devices=args.devices, everything=everything
            ),
        ),
        # Large documents are written as they are produced, not held as one string.
        "json": lambda: json_findings.iter_report_json(report, everything=everything),
        "junit": lambda: (junit.render_junit(report, everything=everything),),
        "sarif": lambda: sarif.iter_sarif(
            report, _sarif_artifact(args, report.tenant_id, report.findings), everything=everything
        ),
        "markdown": lambda: (
            markdown.render_markdown(report, show_devices=args.devices, everything=everything),
        ),
        "html": lambda: html_report.iter_html(report, everything=everything),
    }
    _emit(args.out, args.format, renderers[args.format]())
    if args.devices_out is not None:
        _emit(
            args.devices_out,
            "device readiness json",
            json_findings.iter_devices_json(report, devices or ()),
        )
    if args.store:
        _store_evaluation(evaluation, snapshot)
    return EXIT_FINDINGS if report.breaching() else EXIT_OK


def _store_evaluation(evaluation: Any, snapshot: Any = None) -> None:
    """Remember the verdicts; a storage failure is one line and exit 2, the report stands."""
    from azure.core.exceptions import AzureError

    from monitors.dashboard.summary import summarize_recorded
    from monitors.store.settings import record_check, store_from_settings

    try:
        result = record_check(evaluation, {"trigger": "cli"}, store := store_from_settings())
        summarize_recorded(store, evaluation, result, snapshot)  # what the dashboard reads
    except (AzureError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(f"could not record the evaluation: {first_line[:200]}") from None
    print(
        f"recorded: {len(result.transitions)} transition(s), "
        f"{result.entities_written} entities written ({result.outcome})",
        file=sys.stderr,
    )


def _check_what_if(
    args: argparse.Namespace,
    document: Mapping[str, Any],
    change_document: Mapping[str, Any],
    fail_on: Severity,
    settings: OperatorSettings,
    suppressions: Sequence[Suppression] = (),
) -> int:
    from monitors.reports import json_findings, junit, markdown, sarif, terminal, what_if_html
    from monitors.what_if import evaluate_what_if

    result = evaluate_what_if(
        document,
        change_document,
        source=str(args.what_if),
        fail_on=fail_on,
        settings=settings,
        rules=args.rules,
        suppressions=suppressions,
    )
    color, width = _terminal_style(args.out)
    renderers: dict[str, Callable[[], str]] = {
        "terminal": lambda: terminal.render_what_if_terminal(result, color=color, width=width),
        "json": lambda: json_findings.render_what_if_json(result),
        "junit": lambda: junit.render_what_if_junit(result),
        "sarif": lambda: sarif.render_what_if_sarif(
            result,
            _sarif_artifact(args, result.tenant_id, (c.finding for c in result.newly_failing)),
        ),
        "markdown": lambda: markdown.render_what_if_markdown(result),
        "html": lambda: what_if_html.render_what_if_html(result),
    }
    _emit(args.out, args.format, renderers[args.format]())
    return EXIT_FINDINGS if result.breaking() else EXIT_OK


def _emit(out: Path | None, report_format: str, text: str | Iterable[str]) -> None:
    """Write the report to `out` (and say so on stderr), or to stdout; a report given in
    pieces is written as it is produced (to `out` still atomically: whole or not at all)."""
    from monitors.reports.output import describe_written, write_chunks_atomically

    chunks = (text,) if isinstance(text, str) else text
    if out is None:
        _write_stdout(chunks)
        return
    size = write_chunks_atomically(out, chunks)
    print(_one_line(describe_written(out, report_format, size)), file=sys.stderr)


def _write_stdout(chunks: Iterable[str]) -> None:
    """Write to stdout as the report is produced. A reader that stops reading (`| head -1`)
    ends the writing quietly (the exit code stays the verdict's); any other failure to write is
    the operator's output destination: one line, exit 2."""
    try:
        for chunk in chunks:
            _to_stdout(chunk)
        _to_stdout(None)
    except _ReaderGone:
        # What is still buffered can never be written: send it, and anything after, nowhere,
        # so that no later flush (at exit) fails again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _ReaderGone(Exception):
    """Stdout is a pipe whose reader has closed it."""


def _to_stdout(chunk: str | None) -> None:
    """Write `chunk` to stdout (None: flush); only the writing's own errors are translated,
    not those of the renderer producing the chunks."""
    try:
        if chunk is None:
            sys.stdout.flush()
        else:
            sys.stdout.write(chunk)
    except BrokenPipeError:
        raise _ReaderGone from None
    except OSError as error:
        raise ReportOutputError(f"cannot write to standard output: {error.strerror}") from None


def _sarif_artifact(
    args: argparse.Namespace, tenant_id: str, findings: Iterable[Finding]
) -> SarifArtifact:
    """What SARIF results point at: the snapshot file checked, or the live tenant's pseudo-path."""
    from monitors.reports.sarif import live_tenant_artifact, snapshot_artifact, subject_ids
    from rules.findings import Status

    if args.snapshot is not None:
        # Only results get a line: what is not green (passes are most of a large tenant).
        reported = (f for f in findings if f.status not in (Status.PASS, Status.NOT_APPLICABLE))
        return snapshot_artifact(args.snapshot, subject_ids(reported))
    return live_tenant_artifact(tenant_id)


def _terminal_style(out: Path | None) -> tuple[bool, int]:
    """Colour and width of terminal output: colour only on a terminal, never in a file."""
    import shutil

    if out is None and sys.stdout.isatty():
        return True, max(60, min(shutil.get_terminal_size().columns, 160))
    return False, 140


def _one_line(message: str) -> str:
    """One line, and no control characters: an error may quote a hostile file name or value."""
    line = " ".join(message.split())
    return "".join(char if char.isprintable() else "?" for char in line)


# -- summary and schema -------------------------------------------------------------------------


def _summary(args: argparse.Namespace) -> int:
    snapshot = load_snapshot(args.snapshot)
    summary = summarize(snapshot)
    if args.format == "json":
        print(inert_json(json.dumps(summary, indent=2)))
        return EXIT_OK
    # The snapshot file may come from anywhere: its text is shown, never acted on.
    print(printable(f"tenant {summary['tenantId']} captured {summary['capturedAt']}"))
    for path, count in summary["counts"].items():
        print(f"  {count:>7}  {path}")
    for path, error in summary["errors"].items():
        print(
            printable(f"  {'n/a':>7}  {path}  (unreadable: {error['status']} {error['message']})")
        )
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
    from monitors.reports.json_findings import findings_schema

    json.dump(findings_schema() if args.findings else snapshot_schema(), sys.stdout, indent=2)
    print()
    return EXIT_OK


if __name__ == "__main__":
    run()
