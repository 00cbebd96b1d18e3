"""The rule catalog as a whole: ids, registration, metadata, purity, isolation, healthy baseline."""

from __future__ import annotations

import ast
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import rules
import rules.checks
from rules.catalog import RULE_MODULES, all_rules
from rules.context import RuleContext
from rules.engine import Rule, evaluate_snapshot, run_rule
from rules.findings import Finding, RuleKind, RuleMetadata, Severity, Status
from rules.tenant_collections import ALL_COLLECTIONS
from tests.tenant_builder import healthy_tenant

# Every id of the readiness rule catalog (docs/rules.md). A rule added by the project gets
# the next free id in its area and is added here in the same change.
CATALOG_IDS = frozenset(
    """
    ENR-001 ENR-002 ENR-003 ENR-004 ENR-005 ENR-006 ENR-007 ENR-008 ENR-009 DEV-001 DEV-002
    DEV-003 DEV-004 DEV-005 DEV-006 DEV-007 DEV-008 DEV-009 GRP-001 GRP-002 GRP-003 GRP-004
    GRP-005 GRP-006 PRF-001 PRF-002 PRF-003 PRF-004 PRF-005 PRF-006 PRF-007 PRF-008 PRF-009
    PRF-010 PRF-011 PRF-012 ESP-001 ESP-002 ESP-003 ESP-004 ESP-005 ESP-006 ESP-007 ESP-008
    ESP-009 ESP-010 ESP-011 ESP-012 APP-001 APP-002 APP-003 APP-004 APP-005 APP-006 APP-007
    APP-008 APP-009 APP-010 APP-011 APP-012 APP-013 APP-014 APP-015 APP-016 SCR-001 SCR-002
    SCR-003 SCR-004 CFG-001 CFG-002 CFG-003 CFG-004 CFG-005 CFG-006 CFG-007 CFG-008 CFG-009
    CFG-010 CFG-011 CFG-012 CMP-001 CMP-002 CMP-003 CMP-004 HYB-001 HYB-002 HYB-003 HYB-004
    HYB-005 HYB-006 HYB-007 HYB-008 COM-001 COM-002 HW-001 HW-002 NET-001 NET-002 OPS-001
    OPS-002 PRF-013
    """.split()  # noqa: SIM905 - laid out like the catalog, to compare by eye
)

# Standard-library modules that do no I/O. Anything else a rule module imports must be `rules.*`.
PURE_STDLIB = frozenset(
    {
        "__future__",
        "bisect",
        "heapq",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",
        "enum",
        "functools",
        "itertools",
        "math",
        "operator",
        "re",
        "string",
        "types",
        "typing",
        "fnmatch",
        "ipaddress",
        "json",
        "uuid",
        "contextlib",
        "gc",  # the engine pauses the cyclic collector while rules run (rules/engine.py)
    }
)
RULES_DIR = Path(rules.__file__).parent


# The rules the first catalog release must ship (issue: readiness verdicts, rule catalog v1).
REQUIRED_IDS = frozenset(
    """
    ENR-001 ENR-003 ENR-007 DEV-001 DEV-002 DEV-003 DEV-004 DEV-005 DEV-007 DEV-008 GRP-001
    GRP-002 GRP-006 PRF-001 PRF-002 PRF-003 PRF-004 PRF-005 PRF-006 PRF-007 PRF-008 PRF-011
    ESP-001 ESP-002 ESP-003 ESP-004 ESP-005 ESP-010 ESP-011 APP-001 APP-002 APP-004 APP-005
    APP-007 APP-008 APP-010 APP-011 APP-012 APP-013 SCR-001 CFG-001 CFG-002 CFG-003 CMP-001
    HYB-001 HYB-003 HYB-004 COM-001
    ENR-002 ENR-004 ENR-005 ENR-006 ENR-008 ENR-009 DEV-006 DEV-009 GRP-003 GRP-004 GRP-005
    HYB-002 HYB-005 HYB-006 HYB-007 HYB-008 COM-002 NET-001 NET-002 OPS-001 OPS-002
    PRF-009 PRF-010 ESP-006 ESP-007 ESP-008 ESP-012 APP-003 APP-006 APP-009 APP-014 APP-015
    SCR-003 SCR-004 CFG-004 CFG-005 CFG-006 CFG-007 CFG-008 CFG-009 CFG-010 CFG-011 CMP-002
    CMP-003
    ESP-009 PRF-012 APP-016 SCR-002 CFG-012 CMP-004
    """.split()  # noqa: SIM905 - laid out like the catalog, to compare by eye
)


def test_every_required_rule_is_in_the_catalog() -> None:
    assert {rule.metadata.id for rule in all_rules()} >= REQUIRED_IDS


def test_rule_ids_are_unique_and_from_the_catalog() -> None:
    ids = [rule.metadata.id for rule in all_rules()]
    assert len(ids) == len(set(ids))
    assert set(ids) <= CATALOG_IDS


def test_every_rule_module_is_registered() -> None:
    found = {
        module.name
        for module in pkgutil.walk_packages(rules.checks.__path__, "rules.checks.")
        if not module.ispkg and re.search(r"\.[a-z]{2,3}_\d{3}_", module.name)
    }
    registered = {module.__name__ for module in RULE_MODULES}
    assert found == registered


def test_module_names_start_with_their_catalog_id() -> None:
    for module in RULE_MODULES:
        prefix = module.__name__.rsplit(".", 1)[1][:7]
        assert prefix.upper().replace("_", "-") == module.METADATA.id


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.metadata.id)
def test_metadata_is_complete(rule: Rule) -> None:
    metadata: RuleMetadata = rule.metadata
    assert metadata.title
    assert not metadata.title.endswith(".")
    assert isinstance(metadata.severity, Severity)
    assert len(metadata.rationale) > 40
    assert metadata.remediation.startswith(
        ("Microsoft Intune admin center", "Microsoft Entra admin")
    )
    assert metadata.references
    assert all(
        reference.startswith("https://learn.microsoft.com/") for reference in metadata.references
    )
    assert set(metadata.graph_reads) <= set(ALL_COLLECTIONS)
    assert metadata.permissions
    assert metadata.version >= 1
    if metadata.kind is RuleKind.MANUAL:
        # A manual item says what a person checks; it may read nothing.
        assert metadata.manual_steps
        assert all(len(step) > 20 for step in metadata.manual_steps)
    else:
        assert metadata.graph_reads


@pytest.mark.parametrize(
    "rule",
    [rule for rule in all_rules() if rule.metadata.kind is RuleKind.MANUAL],
    ids=lambda rule: rule.metadata.id,
)
def test_a_manual_item_only_ever_answers_manual_or_not_applicable(rule: Rule) -> None:
    blind = healthy_tenant()
    for collection in ALL_COLLECTIONS:
        blind.unreadable(collection)
    for tenant in (healthy_tenant(), blind):
        statuses = {f.status for f in run_rule(rule, RuleContext.for_snapshot(tenant.snapshot()))}
        assert statuses <= {Status.MANUAL, Status.NOT_APPLICABLE}, statuses


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize(
    "path", sorted(RULES_DIR.rglob("*.py")), ids=lambda path: str(path.relative_to(RULES_DIR))
)
def test_rules_import_nothing_that_does_io(path: Path) -> None:
    for module in _imports(path):
        assert module == "rules" or module.startswith("rules.") or module in PURE_STDLIB, (
            f"{path.name} imports {module}"
        )


def test_a_rule_that_raises_is_reported_unknown_and_the_others_still_run() -> None:
    broken_metadata = RuleMetadata(
        id="GRP-004",
        title="Broken on purpose",
        severity=Severity.ERROR,
        rationale="x" * 50,
        remediation="Microsoft Intune admin center > nowhere",
        references=("https://learn.microsoft.com/",),
        graph_reads=("groups",),
        permissions=("GroupMember.Read.All",),
    )

    def explode(context: RuleContext) -> Iterator[Finding]:
        raise KeyError("membershipRule")

    snapshot = healthy_tenant().snapshot()
    evaluation = evaluate_snapshot(snapshot, rules=(Rule(broken_metadata, explode), *all_rules()))
    broken = [f for f in evaluation.findings if f.rule_id == "GRP-004" and f.rule_error]
    assert [(f.status, f.rule_error) for f in broken] == [(Status.UNKNOWN, True)]
    assert "KeyError" in broken[0].message
    assert {f.rule_id for f in evaluation.findings} >= {r.metadata.id for r in all_rules()}


def test_a_rule_with_nothing_to_say_is_reported_not_applicable() -> None:
    rule = Rule(all_rules()[0].metadata, lambda context: iter(()))
    context = RuleContext.for_snapshot(healthy_tenant().snapshot())
    assert [f.status for f in run_rule(rule, context)] == [Status.NOT_APPLICABLE]


def test_healthy_tenant_has_no_failure_and_no_unknown() -> None:
    evaluation = evaluate_snapshot(healthy_tenant().snapshot())
    bad = [
        (f.rule_id, f.subject.display_name, f.status.value, f.message)
        for f in evaluation.findings
        if f.status in (Status.FAIL, Status.UNKNOWN)
    ]
    assert bad == []
    assert {f.status for f in evaluation.findings} & {Status.PASS}
    # Manual items are by design neither pass nor fail: on the healthy tenant only manual
    # items answer MANUAL, and every tenant-wide one does.
    manual = {f.rule_id for f in evaluation.findings if f.status is Status.MANUAL}
    manual_items = {r.id for r in evaluation.rules if r.kind is RuleKind.MANUAL}
    assert manual <= manual_items
    assert {"NET-001", "ENR-008", "OPS-001"} <= manual
