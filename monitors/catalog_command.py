"""`greenscreen rules` and `greenscreen rules explain ID`: the readiness catalog as implemented.

Every entry is a rule (decided from tenant data) or a manual item (a check a person makes,
rules/manual.py). Exit codes: 0 success, 2 an unknown id or bad usage (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

from rules.findings import RuleMetadata

EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 2
# The catalog's order of areas (docs/rules.md), then the number within an area.
AREA_ORDER: Final = (
    "ENR",
    "DEV",
    "GRP",
    "PRF",
    "ESP",
    "APP",
    "SCR",
    "CFG",
    "CMP",
    "HYB",
    "COM",
    "HW",
    "NET",
    "OPS",
)


def add_rules_command(commands: Any) -> argparse.ArgumentParser:
    """Add `rules` (and `rules explain ID`) to the `greenscreen` subcommands."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "rules",
        help="list the readiness catalog: every rule and manual item",
        description=(
            "List every catalog entry Greenscreen implements: its id, whether it is a rule "
            "(decided from tenant data) or a manual item (a check a person makes), its "
            "severity, the compliant state it checks and its Microsoft documentation. "
            "`greenscreen rules explain ID` shows one entry in full."
        ),
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION")
    explain = actions.add_parser(
        "explain",
        help="show one entry: why, how to fix it, what it reads",
        description="Show a catalog entry in full. Exit 2 when the id is not in the catalog.",
    )
    explain.add_argument("rule_id", metavar="ID", help="catalog id, e.g. ENR-005")
    explain.add_argument("--format", choices=("text", "json"), default=argparse.SUPPRESS)
    parser.set_defaults(handler=run_rules_command)
    return parser


class UnknownRuleError(Exception):
    """The id names no catalog entry: a one-line message, exit code 2."""


def catalog() -> list[RuleMetadata]:
    from rules.catalog import all_rules

    return sorted((rule.metadata for rule in all_rules()), key=catalog_order)


def catalog_order(metadata: RuleMetadata) -> tuple[int, int, str]:
    area, _, number = metadata.id.partition("-")
    position = AREA_ORDER.index(area) if area in AREA_ORDER else len(AREA_ORDER)
    return (position, int(number) if number.isdigit() else 0, metadata.id)


def find_entry(rule_id: str) -> RuleMetadata:
    wanted = rule_id.strip().upper()
    for metadata in catalog():
        if metadata.id == wanted:
            return metadata
    printable = "".join(char if char.isprintable() else "?" for char in rule_id)[:40]
    raise UnknownRuleError(f"unknown rule id '{printable}' (greenscreen rules lists them)")


def run_rules_command(args: argparse.Namespace) -> int:
    output_format = getattr(args, "format", None) or "text"
    if getattr(args, "rules_action", None) == "explain":
        try:
            metadata = find_entry(args.rule_id)
        except UnknownRuleError as error:
            print(f"greenscreen: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if output_format == "json":
            print(json.dumps(entry_json(metadata), indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(explain_text(metadata))
        return EXIT_OK
    entries = catalog()
    if output_format == "json":
        print(json.dumps([entry_json(m) for m in entries], indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(list_text(entries))
    return EXIT_OK


def entry_json(metadata: RuleMetadata) -> dict[str, Any]:
    return {
        "id": metadata.id,
        "kind": metadata.kind.value,
        "severity": metadata.severity.value,
        "title": metadata.title,
        "rationale": metadata.rationale,
        "remediation": metadata.remediation,
        "manualSteps": list(metadata.manual_steps),
        "references": list(metadata.references),
        "graphReads": list(metadata.graph_reads),
        "permissions": list(metadata.permissions),
        "version": metadata.version,
        "inference": metadata.inference,
    }


def list_text(entries: list[RuleMetadata]) -> str:
    manual = sum(1 for m in entries if m.kind.value == "manual")
    lines = [
        f"{len(entries)} catalog entries: {len(entries) - manual} rules, {manual} manual items",
        "",
        f"{'ID':<8} {'KIND':<6} {'SEVERITY':<8} TITLE / DOCS",
    ]
    for metadata in entries:
        lines.append(
            f"{metadata.id:<8} {metadata.kind.value:<6} {metadata.severity.value:<8} "
            f"{metadata.title}"
        )
        if metadata.references:
            lines.append(f"{'':<24} {metadata.references[0]}")
    return "\n".join(lines) + "\n"


def explain_text(metadata: RuleMetadata) -> str:
    kind = (
        "manual item: tenant data cannot decide it, a person checks it"
        if metadata.kind.value == "manual"
        else "rule: decided from tenant data"
    )
    lines = [
        f"{metadata.id}  {metadata.title}",
        f"kind: {kind}",
        f"severity: {metadata.severity.value}  version: {metadata.version}"
        + ("  (inferred from documented behaviour)" if metadata.inference else ""),
        "",
        "Why:",
        f"  {metadata.rationale}",
        "",
        "Fix:",
        f"  {metadata.remediation}",
    ]
    if metadata.manual_steps:
        lines += ["", "Check by hand:", *(f"  - {step}" for step in metadata.manual_steps)]
    lines += [
        "",
        "Reads: " + (", ".join(metadata.graph_reads) or "nothing (a manual item)"),
        "Permissions: " + ", ".join(metadata.permissions),
        "Docs:",
        *(f"  {reference}" for reference in metadata.references),
    ]
    return "\n".join(lines) + "\n"
