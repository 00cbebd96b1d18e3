"""`greenscreen rules`, `rules explain`, `network` and `--version` through the real entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from monitors.cli import main as greenscreen
from rules.catalog import all_rules
from rules.network_endpoints import ENDPOINTS
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS
from tests.tenant_builder import healthy_tenant
from tests.test_rules_tenant_and_devices import comanagement

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = greenscreen(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- rules ----------------------------------------------------------------------------------------


def test_rules_lists_every_implemented_entry_with_its_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(["rules", "--format", "json"], capsys)
    assert status == 0
    listed = json.loads(out)
    assert {entry["id"] for entry in listed} == {rule.metadata.id for rule in all_rules()}
    kinds = {entry["id"]: entry["kind"] for entry in listed}
    assert kinds["ENR-005"] == "rule"
    assert kinds["NET-001"] == "manual"
    assert all(entry["references"] for entry in listed)


def test_rules_text_names_id_kind_severity_title_and_docs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(["rules"], capsys)
    assert status == 0
    assert out.startswith(f"{len(all_rules())} catalog entries: ")
    assert (
        "ENR-009  rule   error    No enabled Conditional Access policy blocks Intune enrollment"
        in out
    )
    assert "NET-001  manual blocker" in out
    assert "https://learn.microsoft.com/autopilot/known-issues" in out
    # The catalog's order: enrollment first, operations last.
    assert out.index("ENR-001") < out.index("DEV-001") < out.index("GRP-001") < out.index("OPS-002")


def test_rules_explain_shows_why_fix_and_reads(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["rules", "explain", "enr-009"], capsys)
    assert status == 0
    assert out.startswith("ENR-009  No enabled Conditional Access policy blocks Intune enrollment")
    assert "Why:\n  Autopilot known issues" in out
    assert "Fix:\n  Microsoft Entra admin center > Protection > Conditional Access" in out
    assert "Reads: identity/conditionalAccess/policies" in out
    assert "Permissions: Policy.Read.All" in out


def test_rules_explain_a_manual_item_lists_the_steps(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["rules", "--format", "json", "explain", "HYB-008"], capsys)
    assert status == 0
    entry = json.loads(out)
    assert entry["kind"] == "manual"
    assert entry["manualSteps"]
    status, out, _ = run(["rules", "explain", "OPS-001"], capsys)
    assert "Check by hand:\n  - plan hand-out at least 90 minutes" in out
    assert "Reads: nothing (a manual item)" in out


@pytest.mark.parametrize("rule_id", ["XYZ-999", "ENR-0099", "ENR-005\x1b[31m"])
def test_rules_explain_an_unknown_id_is_one_line_exit_2(
    rule_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["rules", "explain", rule_id], capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("greenscreen: unknown rule id '")
    assert "\x1b" not in err


def test_version_names_the_package_and_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        greenscreen(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("greenscreen 0.1.0 (catalog: ")
    assert f"{len(all_rules())} entries" in out


# --- network --------------------------------------------------------------------------------------


def test_network_lists_microsofts_endpoints_with_sources(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(["network"], capsys)
    assert status == 0
    assert err == ""
    assert "ztd.dds.microsoft.com" in out
    assert "time.windows.com" in out
    assert "UDP 123" in out
    assert "https://learn.microsoft.com/autopilot/requirements?tabs=networking" in out


def test_network_json_and_csv_are_machine_readable(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["network", "--format", "json"], capsys)
    listed = json.loads(out)
    hosts = {(entry["host"], entry["protocol"]): entry["ports"] for entry in listed}
    assert hosts[("*.microsoftaik.azure.net", "TCP")] == [443]
    assert len(hosts) == len(listed)  # one line per host and protocol, for an allow-list
    assert {(e.host, e.protocol) for e in ENDPOINTS} == set(hosts)
    _, out, _ = run(["network", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0].keys() == {"host", "protocol", "ports", "service", "only_for", "source"}
    assert {"host": "manage.microsoft.com", "ports": "80;443"}.items() <= next(
        row for row in rows if row["host"] == "manage.microsoft.com"
    ).items()


def test_network_with_a_snapshot_adds_the_tenants_cmg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "allow.csv"
    status, out, err = run(
        ["network", "--snapshot", str(SAMPLE), "--format", "csv", "--out", str(out_file)], capsys
    )
    assert status == 0
    assert out == ""
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    cmg = [row for row in rows if row["only_for"] == "this tenant's co-management settings"]
    assert [(row["host"], row["ports"]) for row in cmg] == [("contoso-cmg.contoso.com", "443")]
    assert err == f"greenscreen: wrote {len(rows)} endpoints to {out_file}\n"


def test_network_says_when_co_management_could_not_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "blind.json"
    path.write_text(
        json.dumps(healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS).document()),
        encoding="utf-8",
    )
    status, out, err = run(["network", "--snapshot", str(path)], capsys)
    assert status == 0
    assert "ztd.dds.microsoft.com" in out
    assert "could not be read" in err


def test_a_hostile_co_management_name_cannot_become_a_spreadsheet_formula(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = comanagement() | {
        "displayName": '=HYPERLINK("http://x")',
        "configurationManagerAgentCommandLineArgument": (
            "CCMHOSTNAME=cmg.contoso.com/CCM_Proxy_MutualAuth/1 SMSSiteCode=CON"
        ),
    }
    path = tmp_path / "tenant.json"
    path.write_text(
        json.dumps(healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, settings).document()),
        encoding="utf-8",
    )
    _, out, _ = run(["network", "--snapshot", str(path), "--format", "csv"], capsys)
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["host"] == "cmg.contoso.com")
    assert not row["service"].startswith("=")


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["--snapshot", "/nonexistent/tenant.json"], "tenant.json"),
        (["--out", "/nonexistent-dir/allow.csv"], "does not exist"),
    ],
)
def test_network_bad_input_is_one_line_exit_2(
    argv_tail: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["network", *argv_tail], capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_network_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        greenscreen(["network", "--format", "xml"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_check_reports_carry_the_network_section_with_the_tenants_cmg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = tmp_path / "report.txt"
    markdown = tmp_path / "report.md"
    for output_format, out in (("terminal", terminal), ("markdown", markdown)):
        greenscreen(
            ["check", "--snapshot", str(SAMPLE), "--format", output_format, "--out", str(out)]
        )
    capsys.readouterr()
    text = terminal.read_text(encoding="utf-8")
    assert "Network: the technician's bench must reach" in text
    assert "+ contoso-cmg.contoso.com TCP 443: Cloud Management Gateway" in text
    document = markdown.read_text(encoding="utf-8")
    assert "## Network the technician's bench must reach" in document
    assert "| contoso-cmg.contoso.com | TCP | 443 |" in document
    assert "| \\*.microsoftaik.azure.net | TCP | 443 |" in document
