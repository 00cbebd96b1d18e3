"""Manual items end to end: the verdict store keeps them without transitions or alerts, the
readiness summary counts them apart and stays ready, every output format shows them as things
to check by hand (never as passes), and `check` still exits 0 on a healthy tenant."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitors.alerts.alert import alert_kind
from monitors.cli import main as greenscreen
from monitors.http_api import readiness_summaries
from monitors.store.diff import diff_evaluation, finding_row_key, record_of
from monitors.store.records import StoredStatus, Transition
from monitors.store.verdict_store import VerdictStore
from rules.engine import Evaluation, evaluate_snapshot
from rules.snapshot_model import TenantSnapshot
from tests.conftest import run_info
from tests.tenant_builder import healthy_tenant

MANUAL_ITEMS = {
    "ENR-004", "ENR-008", "DEV-009", "NET-001", "NET-002", "OPS-001", "OPS-002",
    "ESP-009", "PRF-012", "APP-016", "SCR-002", "CFG-012", "CMP-004",
}  # fmt: skip


def _healthy_evaluation(tenant_id: str, captured_at: str) -> Evaluation:
    document = healthy_tenant().document()
    document["tenantId"] = tenant_id
    document["capturedAt"] = captured_at
    return evaluate_snapshot(TenantSnapshot.from_document(document))


def test_manual_items_are_stored_once_and_never_transit_or_alert(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, _healthy_evaluation(tenant_id, "2026-11-24T10:00:00Z"), run_info()
    )
    again = store.record_evaluation(
        tenant_id, _healthy_evaluation(tenant_id, "2026-11-25T10:00:00Z"), run_info()
    )
    assert again.transitions == ()
    verdicts = store.current_state(tenant_id).verdicts
    manual = {v.record.rule_id for v in verdicts if v.record.status is StoredStatus.MANUAL}
    assert manual == MANUAL_ITEMS
    summary = readiness_summaries(verdicts, not_used=frozenset())["summary"]
    assert summary["ready"] is True
    assert summary["counts"]["manual"] == len(MANUAL_ITEMS)
    assert summary["blocking"] == 0


def test_a_transition_to_or_from_manual_raises_no_alert() -> None:
    evaluation = _healthy_evaluation("t", "2026-11-24T10:00:00Z")
    finding = next(f for f in evaluation.findings if f.rule_id == "NET-001")
    record = record_of(finding, 1, datetime(2026, 11, 24, tzinfo=UTC), 0)
    for origin, target in (
        (None, StoredStatus.MANUAL),
        (StoredStatus.PASS, StoredStatus.MANUAL),
        (StoredStatus.MANUAL, StoredStatus.PASS),
    ):
        transition = Transition("t", record.first_seen, "run", 1, origin, target, record)
        assert alert_kind(transition) is None


@pytest.fixture(scope="module")
def healthy_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manual") / "healthy.json"
    path.write_text(json.dumps(healthy_tenant().document()), encoding="utf-8")
    return path


def _check(snapshot: Path, tmp_path: Path, output_format: str) -> tuple[int, str]:
    out = tmp_path / f"report.{output_format}"
    status = greenscreen(
        ["check", "--snapshot", str(snapshot), "--format", output_format, "--out", str(out)]
    )
    return status, out.read_text(encoding="utf-8")


def test_terminal_lists_what_to_check_by_hand_and_stays_green(
    healthy_snapshot: Path, tmp_path: Path
) -> None:
    status, text = _check(healthy_snapshot, tmp_path, "terminal")
    assert status == 0
    assert f"{len(MANUAL_ITEMS)} to check by hand" in text
    assert f"To check by hand ({len(MANUAL_ITEMS)})" in text
    assert "☐ MANUAL NET-001" in text
    assert "greenscreen network" in text


def test_markdown_and_html_show_manual_items_and_the_network(
    healthy_snapshot: Path, tmp_path: Path
) -> None:
    _, markdown = _check(healthy_snapshot, tmp_path, "markdown")
    assert f"## ☐ To check by hand ({len(MANUAL_ITEMS)})" in markdown
    assert "- [ ] run `greenscreen network`" in markdown.replace("\\", "")
    assert "| ztd.dds.microsoft.com | TCP | 443 |" in markdown
    _, html = _check(healthy_snapshot, tmp_path, "html")
    assert '<span class="badge manual">MANUAL</span>' in html
    assert "<code>time.windows.com</code></td><td>UDP</td><td>123</td>" in html


def test_json_junit_and_sarif_carry_manual_status(healthy_snapshot: Path, tmp_path: Path) -> None:
    _, document = _check(healthy_snapshot, tmp_path, "json")
    statuses = {f["ruleId"]: f["status"] for f in json.loads(document)["findings"]}
    assert {rule for rule, status in statuses.items() if status == "manual"} == MANUAL_ITEMS
    _, junit = _check(healthy_snapshot, tmp_path, "junit")
    root = ET.fromstring(junit)  # noqa: S314 - our own output
    manual_cases = [
        case
        for case in root.iter("testcase")
        if (skipped := case.find("skipped")) is not None
        and skipped.get("message", "").startswith("manual check:")
    ]
    assert len(manual_cases) == len(MANUAL_ITEMS)
    assert root.get("failures") == "0"
    assert root.get("errors") == "0"
    _, sarif = _check(healthy_snapshot, tmp_path, "sarif")
    results = json.loads(sarif)["runs"][0]["results"]
    assert {(r["ruleId"], r["kind"], r["level"]) for r in results} == {
        (rule, "review", "none") for rule in MANUAL_ITEMS
    }


def test_the_sample_tenant_lists_exactly_the_manual_items_its_readme_names() -> None:
    sample = Path(__file__).resolve().parents[1] / "samples" / "contoso-sample.json"
    evaluation = evaluate_snapshot(
        TenantSnapshot.from_document(json.loads(sample.read_text(encoding="utf-8")))
    )
    manual = {f.rule_id for f in evaluation.findings if f.status.value == "manual"}
    assert manual == MANUAL_ITEMS | {"HYB-008", "COM-002"}
    readme = (sample.parent / "README.md").read_text(encoding="utf-8")
    assert all(rule_id in readme for rule_id in manual)


def test_manual_items_never_fail_check_even_at_the_lowest_threshold(
    healthy_snapshot: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    status = greenscreen(
        [
            "check",
            "--snapshot",
            str(healthy_snapshot),
            "--fail-on",
            "info",
            "--format",
            "json",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    assert "manual" in {f["status"] for f in findings}


def test_a_manual_item_that_disappears_is_forgotten_like_a_pass() -> None:
    first = _healthy_evaluation("t", "2026-11-24T10:00:00Z")
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    previous = {finding_row_key(f): record_of(f, 1, at, 0) for f in first.findings}
    versions = {rule.id: rule.version for rule in first.rules}
    second = replace(
        first,
        captured_at="2026-11-25T10:00:00Z",
        findings=tuple(f for f in first.findings if f.rule_id != "NET-001"),
    )
    diff = diff_evaluation(previous, versions, second, datetime(2026, 11, 25, 10, tzinfo=UTC))
    [change] = [c for c in diff.changes if c.row_key.startswith("s|NET-001|")]
    assert (change.record, change.transition) == (None, False)
