"""`greenscreen history`: the remembered transitions or change events, as a table, JSON or CSV.

Same filters as the HTTP API (`/api/history`, `/api/changes`), validated the same way.
Exit codes: 0 success, 1 storage unreachable, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitors.reports.safe_text import csv_cell, inert_json
from monitors.store import query_params
from monitors.store.continuation import MAX_PAGE_SIZE, InvalidQueryError
from monitors.store.keys import InvalidKeyError, format_time

# The storage SDK and the Graph modules are imported when `history` runs, not when the command
# line is built: every other command builds the same parser.
if TYPE_CHECKING:
    from monitors.store.records import ChangeWithEffects, Transition
    from monitors.store.verdict_store import VerdictStore

EXIT_OK = 0
EXIT_STORAGE = 1
EXIT_BAD_INPUT = 2
FORMATS = ("table", "json", "csv")
TRANSITION_COLUMNS = (
    "at",
    "rule",
    "profile",
    "subject_type",
    "subject",
    "name",
    "from",
    "to",
    "severity",
    "run",
)
CHANGE_COLUMNS = ("at", "actor", "activity", "resource_type", "resource", "source", "transitions")


def add_history_command(commands: Any) -> argparse.ArgumentParser:
    """Add `history` to the `greenscreen` subcommands (`commands` from add_subparsers)."""
    history: argparse.ArgumentParser = commands.add_parser(
        "history",
        help="show remembered readiness transitions or tenant changes",
        description=(
            "Show the readiness transitions remembered for a tenant, newest first, or with "
            "--changes the tenant change events and the transitions each caused. Storage: "
            "GREENSCREEN_STORAGE_CONNECTION (default: Azurite on its default ports). Exit "
            "codes: 0 success, 1 storage unreachable, 2 bad input or usage."
        ),
    )
    history.add_argument(
        "--tenant",
        required=True,
        metavar="TENANT",
        help=(
            "tenant id or verified domain (e.g. contoso.onmicrosoft.com); a domain with no "
            "history of its own is resolved to its tenant id (docs/check.md)"
        ),
    )
    history.add_argument("--rule", metavar="ID", help="only this rule (catalog id, e.g. PRF-001)")
    history.add_argument("--subject", metavar="ID", help="only this subject (object id)")
    history.add_argument(
        "--status",
        metavar="STATUS",
        help=f"only transitions into: {', '.join(query_params.STATUSES)}",
    )
    history.add_argument("--since", metavar="TIME", help="oldest moment (ISO 8601)")
    history.add_argument("--until", metavar="TIME", help="newest moment (ISO 8601, default now)")
    history.add_argument(
        "--changes", action="store_true", help="list change events instead of transitions"
    )
    history.add_argument("--actor", metavar="WHO", help="with --changes: only this actor")
    history.add_argument(
        "--deployments",
        action="store_true",
        help=(
            "list pre-provisioning attempts (Intune's Autopilot record) with what Greenscreen "
            "said at the time, and the precision and recall of its predictions (default: the "
            "last 30 days)"
        ),
    )
    history.add_argument("--continuation", metavar="TOKEN", help="continue a previous listing")
    history.add_argument(
        "--page-size", metavar="N", default="100", help=f"items per page (1-{MAX_PAGE_SIZE})"
    )
    history.add_argument(
        "--all", action="store_true", help="follow continuations until the end (default: one page)"
    )
    history.add_argument("--format", choices=FORMATS, default="table", help="table, json or csv")
    history.set_defaults(handler=run_history)
    return history


def run_history(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from monitors.guardrail.settings import SettingsError
    from monitors.store.settings import StoreSettingsError
    from monitors.tenant_names import TenantLookupUnavailable, TenantNameError

    try:
        return _run(args)
    except (
        query_params.QueryError,
        InvalidQueryError,
        InvalidKeyError,
        StoreSettingsError,
        TenantNameError,
        SettingsError,
    ) as error:
        print(f"greenscreen: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TenantLookupUnavailable as error:
        print(
            f"greenscreen: cannot resolve --tenant {args.tenant}: the Microsoft identity "
            f"platform could not be asked ({error}); pass the tenant id",
            file=sys.stderr,
        )
        return EXIT_STORAGE
    except AzureError as error:
        print(f"greenscreen: storage is unreachable ({type(error).__name__})", file=sys.stderr)
        return EXIT_STORAGE


def _params(args: argparse.Namespace) -> dict[str, str]:
    names = {
        "tenant": args.tenant,
        "since": args.since,
        "until": args.until,
        "continuation": args.continuation,
        "pageSize": args.page_size,
    }
    if args.changes:
        if args.rule or args.subject or args.status:
            raise query_params.QueryError(
                "--rule, --subject and --status list transitions, not --changes"
            )
        names["actor"] = args.actor
    else:
        if args.actor:
            raise query_params.QueryError("--actor filters change events: add --changes")
        names.update(rule=args.rule, subject=args.subject, status=args.status)
    given = {name: value for name, value in names.items() if value is not None}
    for name, value in given.items():
        # As in the HTTP API: some parsers stop at a NUL, so control characters stop here.
        if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value):
            option = "page-size" if name == "pageSize" else name
            raise query_params.QueryError(f"--{option} must not contain control characters")
    return given


def _resolve_tenant(params: dict[str, str], store: VerdictStore) -> bool:
    """Point `params` at the name the tenant's history is stored under; True if it changed.

    Asked only when the name as given has no stored runs (docs/check.md, `monitors.tenant_names`).
    """
    from monitors.guardrail.settings import TENANTS_SETTING, parse_tenants
    from monitors.tenant_names import resolve_tenant

    name = query_params.tenant(params.get("tenant"))
    configured = tuple(t.tenant_id for t in parse_tenants(os.environ.get(TENANTS_SETTING) or "[]"))
    resolved = resolve_tenant(
        name, lambda tenant: bool(store.runs(tenant, page_size=1).items), configured
    )
    if resolved.name == name:
        return False
    if resolved.note is not None:
        print(f"greenscreen: {resolved.note}", file=sys.stderr)
    params["tenant"] = resolved.name
    return True


def _run(args: argparse.Namespace) -> int:
    from monitors.store.settings import store_from_settings

    if getattr(args, "deployments", False):
        return _run_deployments(args)
    params = _params(args)
    store = store_from_settings()
    columns, rows, documents, token = _listing(args, params, store)
    if not rows and _resolve_tenant(params, store):
        columns, rows, documents, token = _listing(args, params, store)
    sys.stdout.write(_render(args.format, columns, rows, documents, token))
    if token is not None and args.format != "json":
        print(f"more: --continuation {token}", file=sys.stderr)
    return EXIT_OK


def _listing(
    args: argparse.Namespace, params: dict[str, str], store: VerdictStore
) -> tuple[Sequence[str], list[dict[str, Any]], list[dict[str, Any]], str | None]:
    from monitors.http_api import bounded_range

    rows: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    if args.changes:
        changes = query_params.changes_query(params)
        since, until = bounded_range(changes.since, changes.until, store.retention_days)
        token = changes.continuation
        while True:
            page = store.changes(
                changes.tenant,
                since,
                until,
                changes.actor,
                token,
                changes.page_size,
            )
            documents += [item.as_json() for item in page.items]
            rows += [_change_row(item) for item in page.items]
            token = page.continuation
            if token is None or not args.all:
                break
        return CHANGE_COLUMNS, rows, documents, token
    query = query_params.history_query(params)
    since, until = bounded_range(query.since, query.until, store.retention_days)
    token = query.continuation
    while True:
        history = store.history(
            query.tenant,
            query.rule,
            query.subject,
            query.status,
            since,
            until,
            token,
            query.page_size,
        )
        documents += [item.as_json() for item in history.items]
        rows += [_transition_row(item) for item in history.items]
        token = history.continuation
        if token is None or not args.all:
            break
    return TRANSITION_COLUMNS, rows, documents, token


def _transition_row(transition: Transition) -> dict[str, Any]:
    record = transition.record
    return {
        "at": format_time(transition.at),
        "rule": record.rule_id,
        "profile": record.scope_name or record.scope_id,
        "subject_type": record.subject_type,
        "subject": record.subject_id,
        "name": record.subject_name,
        "from": transition.from_status.value if transition.from_status else "",
        "to": transition.to_status.value,
        "severity": record.severity,
        "run": transition.run_id,
    }


def _change_row(change: ChangeWithEffects) -> dict[str, Any]:
    event = change.event
    return {
        "at": format_time(event.at),
        "actor": event.actor_name or event.actor_id,
        "activity": event.activity,
        "resource_type": event.resource_type,
        "resource": event.resource_id,
        "source": event.source,
        "transitions": len(change.transitions),
    }


def _render(
    style: str,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    documents: list[dict[str, Any]],
    token: str | None,
) -> str:
    if style == "json":
        return (
            inert_json(
                json.dumps(
                    {"items": documents, "continuation": token}, indent=2, ensure_ascii=False
                )
            )
            + "\n"
        )
    if style == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            # No control characters, and a leading = + - @ (a formula in a spreadsheet) quoted.
            writer.writerow({k: csv_cell(str(v)) for k, v in row.items()})
        return buffer.getvalue()
    if not rows:
        return "nothing recorded for these filters\n"
    cells = [[_printable(str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _printable(value: str, limit: int = 60) -> str:
    shown = "".join(char if char.isprintable() else "?" for char in value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


DEPLOYMENT_COLUMNS = ("at", "device", "profile", "outcome", "category", "failing", "rules")
RULE_COLUMNS = ("rule", "tp", "fp", "explained", "precision", "recall")


def _run_deployments(args: argparse.Namespace) -> int:
    """`history --deployments`: attempts of the window, then the accuracy report."""
    from datetime import UTC, datetime, timedelta

    from monitors.deployments.accuracy import WINDOW, accuracy
    from monitors.store.deployment_store import DeploymentStore
    from monitors.store.settings import store_from_settings

    for option in ("changes", "rule", "subject", "status", "actor", "continuation"):
        if getattr(args, option, None):
            raise query_params.QueryError(
                f"--{option} does not apply to --deployments (use --since/--until)"
            )
    given = {
        name: value
        for name, value in (("tenant", args.tenant), ("since", args.since), ("until", args.until))
        if value is not None
    }
    for name, value in given.items():
        if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value):
            raise query_params.QueryError(f"--{name} must not contain control characters")
    tenant = query_params.tenant(given.get("tenant"))
    until = query_params.moment("until", given["until"]) if "until" in given else None
    until = until or datetime.now(UTC)
    since = query_params.moment("since", given["since"]) if "since" in given else None
    since = since or until - WINDOW
    if since > until:
        raise query_params.QueryError("--since must not be after --until")
    if until - since > timedelta(days=400):
        raise query_params.QueryError("--since and --until may be at most 400 days apart")
    store = DeploymentStore.beside(store_from_settings())
    documents = store.between(tenant, since, until)
    report = {
        "tenant": tenant,
        "since": format_time(since),
        "until": format_time(until),
        **accuracy(documents),
        "items": documents,
    }
    if args.format == "json":
        sys.stdout.write(inert_json(json.dumps(report, indent=2, ensure_ascii=False)) + "\n")
        return EXIT_OK
    rows = [_deployment_row(d) for d in documents]
    if args.format == "csv":
        sys.stdout.write(_render("csv", DEPLOYMENT_COLUMNS, rows, [], None))
        return EXIT_OK
    overall = report["overall"]
    lines = [
        _render("table", DEPLOYMENT_COLUMNS, rows, [], None).rstrip("\n"),
        "",
        f"{report['attempts']} pre-provisioning attempts, {report['covered']} covered, "
        f"{report['failures']} failed; precision {_percent(overall['precision'])}, "
        f"recall {_percent(overall['recall'])} (TP {overall['truePositives']}, "
        f"FP {overall['falsePositives']}, FN {overall['falseNegatives']})",
    ]
    rule_rows = [
        {
            "rule": r["ruleId"],
            "tp": r["truePositives"],
            "fp": r["falsePositives"],
            "explained": r["explained"],
            "precision": _percent(r["precision"]),
            "recall": _percent(r["recall"]),
        }
        for r in report["rules"]
    ]
    if rule_rows:
        lines += ["", _render("table", RULE_COLUMNS, rule_rows, [], None).rstrip("\n")]
    unexplained = report["unexplained"]
    if unexplained["count"]:
        shared = ", ".join(
            f"{t['trait']} {t['value']} ({t['count']}/{t['of']})" for t in unexplained["common"]
        )
        lines += [
            "",
            f"{unexplained['count']} failure(s) no rule explains"
            + (f"; in common: {_printable(shared, 400)}" if shared else ""),
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _deployment_row(document: dict[str, Any]) -> dict[str, Any]:
    failing = document.get("failing") or []
    return {
        "at": document.get("at", ""),
        "device": document.get("serialNumber", ""),
        "profile": document.get("profile", ""),
        "outcome": "failed" if document.get("deploymentState") == "failure" else "succeeded",
        "category": document.get("category", ""),
        "failing": "; ".join(
            f"{f.get('name')} {f.get('errorCode') or ''}".strip() for f in failing[:2]
        ),
        "rules": ", ".join(
            sorted({str(p.get("ruleId")) for p in document.get("predictions") or ()})
        ),
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"
