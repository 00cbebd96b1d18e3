"""`greenscreen check` end to end: real files in, every format out, documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitors.cli import main
from rules.findings import Severity, Status
from tests.tenant_builder import DEVICE_A_ID, healthy_tenant
from tests.test_reports import CONTRACT_KEYS, fake_rule

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
SALES_PROFILE = "Contoso Sales - Entra join"


@pytest.fixture
def healthy_file(tmp_path: Path) -> Path:
    path = tmp_path / "healthy.json"
    path.write_text(json.dumps(healthy_tenant().document()), encoding="utf-8")
    return path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("greenscreen: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    return err


# --- the sample tenant, every format, the real catalog ---------------------------------------


@pytest.fixture(scope="module")
def sample_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Each format rendered once (the catalog is evaluated once per run of the command)."""
    directory = tmp_path_factory.mktemp("reports")
    outputs: dict[str, tuple[int, str]] = {}
    for report_format in ("terminal", "json", "junit", "sarif", "markdown", "html"):
        out = directory / f"report.{report_format}"
        status = main(
            ["check", "--snapshot", str(SAMPLE), "--format", report_format, "--out", str(out)]
        )
        outputs[report_format] = (status, out.read_text(encoding="utf-8"))
    return outputs


def test_sample_tenant_fails_the_check_in_every_format(
    sample_outputs: dict[str, tuple[int, str]],
) -> None:
    assert {status for status, _ in sample_outputs.values()} == {1}


def test_json_output_is_the_findings_document(
    sample_outputs: dict[str, tuple[int, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(sample_outputs["json"][1])
    assert main(["schema", "--findings"]) == 0
    schema = json.loads(capsys.readouterr().out)

    jsonschema.validators.validator_for(schema)(schema).validate(document)
    findings = document["findings"]
    assert findings
    assert all(set(finding) == CONTRACT_KEYS for finding in findings)
    assert {f["status"] for f in findings} <= {"fail", "unknown", "manual"}
    profiles = {profile["id"]: profile["displayName"] for profile in document["profiles"]}
    paused = [f for f in findings if f["ruleId"] == "GRP-002" and f["status"] == "fail"]
    assert [profiles[f["scope"]] for f in paused] == [SALES_PROFILE]
    # Every verdict is either listed or counted, once.
    counted = sum(entry["count"] for entry in document["quiet"])
    assert counted + len(findings) == sum(document["counts"].values())


def test_junit_output_parses_with_a_suite_per_profile(
    sample_outputs: dict[str, tuple[int, str]],
) -> None:
    root = ET.fromstring(sample_outputs["junit"][1])  # noqa: S314 - our own output

    names = {suite.get("name") for suite in root.iter("testsuite")}

    assert f"profile: {SALES_PROFILE}" in names
    assert int(root.get("failures", "0")) >= 1


def test_sarif_output_has_rules_and_results(sample_outputs: dict[str, tuple[int, str]]) -> None:
    sarif = json.loads(sample_outputs["sarif"][1])
    run = sarif["runs"][0]

    rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert sarif["version"] == "2.1.0"
    assert "GRP-002" in rule_ids
    assert all(result["ruleId"] in rule_ids for result in run["results"])
    assert all(
        result["level"] in {"error", "warning", "note"}
        if result["kind"] == "fail"
        # A manual item is a result a person reviews (SARIF kind "review", level "none").
        else (result["kind"], result["level"]) == ("review", "none")
        for result in run["results"]
    )


def test_html_output_shows_profile_verdicts_without_external_assets(
    sample_outputs: dict[str, tuple[int, str]],
) -> None:
    page = sample_outputs["html"][1]

    assert page.startswith("<!DOCTYPE html>")
    assert f"RED · {SALES_PROFILE}" in page
    assert "src=" not in page
    assert "<link" not in page
    assert "Devices without a pre-provisioning profile" in page


def test_terminal_and_markdown_name_the_failing_profile(
    sample_outputs: dict[str, tuple[int, str]],
) -> None:
    assert SALES_PROFILE in sample_outputs["terminal"][1]
    assert "GRP-002" in sample_outputs["terminal"][1]
    assert f"🟥 RED Profile: {SALES_PROFILE}" in sample_outputs["markdown"][1]


def test_json_goes_to_stdout_without_out(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", "--snapshot", str(SAMPLE), "--format", "json"])

    assert status == 1
    assert json.loads(capsys.readouterr().out)["format"] == "greenscreen.findings/2"


# --- exit codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "severity", "fail_on", "expected"),
    [
        (Status.FAIL, Severity.ERROR, "blocker", 0),
        (Status.FAIL, Severity.ERROR, "error", 1),
        (Status.FAIL, Severity.ERROR, "warning", 1),
        (Status.FAIL, Severity.ERROR, "info", 1),
        (Status.FAIL, Severity.WARNING, "error", 0),
        (Status.FAIL, Severity.WARNING, "warning", 1),
        (Status.FAIL, Severity.INFO, "warning", 0),
        (Status.FAIL, Severity.INFO, "info", 1),
        (Status.FAIL, Severity.BLOCKER, "blocker", 1),
        (Status.UNKNOWN, Severity.ERROR, "error", 1),
        (Status.UNKNOWN, Severity.ERROR, "blocker", 0),
        (Status.UNKNOWN, Severity.WARNING, "warning", 1),
        (Status.PASS, Severity.BLOCKER, "info", 0),
        (Status.NOT_APPLICABLE, Severity.BLOCKER, "info", 0),
    ],
)
def test_exit_code_follows_fail_on(
    healthy_file: Path,
    capsys: pytest.CaptureFixture[str],
    status: Status,
    severity: Severity,
    fail_on: str,
    expected: int,
) -> None:
    rules = [fake_rule("TST-001", status, severity)]

    code = main(["check", "--snapshot", str(healthy_file), "--fail-on", fail_on], rules=rules)

    assert code == expected
    capsys.readouterr()


def test_default_threshold_is_error(healthy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warning = [fake_rule("TST-001", Status.FAIL, Severity.WARNING)]
    error = [fake_rule("TST-001", Status.FAIL, Severity.ERROR)]

    assert main(["check", "--snapshot", str(healthy_file)], rules=warning) == 0
    assert main(["check", "--snapshot", str(healthy_file)], rules=error) == 1
    capsys.readouterr()


# --- bad input: one line, exit 2, nothing written ----------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--format", "pdf"],
        ["check", "--fail-on", "critical"],
        ["check", "--attest-mdm-scope", "some"],
        ["check", "--no-such-flag"],
    ],
)
def test_bad_flag_exits_2_with_one_line(
    argv: list[str], healthy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--snapshot", str(healthy_file)])

    assert exited.value.code == 2
    one_line_error(capsys)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not JSON"),
        ('{"format": "something-else/1"}', "$.format"),
    ],
)
def test_bad_snapshot_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    snapshot = tmp_path / "bad.json"
    snapshot.write_text(content, encoding="utf-8")
    out = tmp_path / "report.html"

    code = main(["check", "--snapshot", str(snapshot), "--format", "html", "--out", str(out)])

    assert code == 2
    assert expected in one_line_error(capsys)
    assert not out.exists()


def test_missing_snapshot_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--snapshot", str(tmp_path / "absent.json")])

    assert code == 2
    assert "no such file" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--devices", "--format", "json"], "--devices-out"),
        (["--out", "/nonexistent-dir/report.txt"], "does not exist"),
        (["--tenant", "contoso.onmicrosoft.com"], "not with --snapshot"),
    ],
)
def test_unworkable_option_combinations_exit_2(
    healthy_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    code = main(["check", "--snapshot", str(healthy_file), *extra])

    assert code == 2
    assert expected in one_line_error(capsys)


def test_existing_report_is_left_untouched_when_the_check_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.md"
    out.write_text("previous report\n", encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")

    code = main(["check", "--snapshot", str(bad), "--format", "markdown", "--out", str(out)])

    assert code == 2
    assert out.read_text(encoding="utf-8") == "previous report\n"
    one_line_error(capsys)


# --- devices ---------------------------------------------------------------------------------


def test_devices_out_writes_device_readiness_apart_from_the_findings(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices_out = tmp_path / "devices.json"
    rules = [fake_rule("TST-002", Status.FAIL, per_profile=True, devices=(DEVICE_A_ID,))]

    code = main(
        [
            "check",
            "--snapshot",
            str(healthy_file),
            "--format",
            "json",
            "--devices-out",
            str(devices_out),
        ],
        rules=rules,
    )

    assert code == 1
    assert "devices" not in json.loads(capsys.readouterr().out)
    document: dict[str, Any] = json.loads(devices_out.read_text(encoding="utf-8"))
    by_id = {device["id"]: device for device in document["devices"]}
    assert by_id[DEVICE_A_ID]["readiness"] == "red"
    assert [b["ruleId"] for b in by_id[DEVICE_A_ID]["blockers"]] == ["TST-002"]
    assert by_id[DEVICE_A_ID]["effectiveProfile"]["displayName"]
    assert by_id[DEVICE_A_ID]["groups"][0]["displayName"] == "Autopilot - All devices"


def test_devices_flag_lists_devices_in_the_terminal(
    healthy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = [fake_rule("TST-001", Status.PASS, per_profile=True)]

    code = main(["check", "--snapshot", str(healthy_file), "--devices"], rules=rules)

    out = capsys.readouterr().out
    assert code == 0
    assert "Devices (2 registered)" in out
    assert "PF3AAA01" in out


def test_attested_mdm_scope_reaches_the_rules(
    healthy_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rules.engine import Rule

    seen: list[str | None] = []
    base = fake_rule("TST-001", Status.PASS)

    def evaluate(context: Any) -> Any:
        seen.append(context.settings.attested_mdm_user_scope)
        return base.evaluate(context)

    rules = [Rule(base.metadata, evaluate)]

    main(["check", "--snapshot", str(healthy_file), "--attest-mdm-scope", "none"], rules=rules)

    assert seen == ["none"]
    capsys.readouterr()


# --- the installed command --------------------------------------------------------------------


def test_command_exits_1_on_the_sample_and_2_on_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    command = [sys.executable, "-m", "monitors.cli", "check"]

    sample = subprocess.run(  # noqa: S603 - our own command
        [*command, "--snapshot", str(SAMPLE), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    broken = subprocess.run(  # noqa: S603 - our own command
        [*command, "--snapshot", str(bad)], capture_output=True, text=True, cwd=REPO, check=False
    )

    assert sample.returncode == 1
    assert json.loads(sample.stdout)["format"] == "greenscreen.findings/2"
    assert broken.returncode == 2
    assert broken.stdout == ""
    assert broken.stderr.count("\n") == 1
    assert "Traceback" not in broken.stderr


def test_all_lists_passing_findings_in_json_and_every_finding_in_the_terminal(
    tmp_path: Path,
) -> None:
    bounded, everything = tmp_path / "bounded.json", tmp_path / "all.json"
    assert main(["check", "--snapshot", str(SAMPLE), "--format", "json", "--out", str(bounded)])
    assert main(
        ["check", "--snapshot", str(SAMPLE), "--format", "json", "--all", "--out", str(everything)]
    )
    short = json.loads(bounded.read_text(encoding="utf-8"))
    full = json.loads(everything.read_text(encoding="utf-8"))

    assert (short["complete"], full["complete"]) == (False, True)
    assert len(full["findings"]) == sum(full["counts"].values())
    assert "pass" in {f["status"] for f in full["findings"]}
    assert "pass" not in {f["status"] for f in short["findings"]}

    terminal = tmp_path / "all.txt"
    assert main(["check", "--snapshot", str(SAMPLE), "--all", "--out", str(terminal)])
    text = terminal.read_text(encoding="utf-8")
    not_green = [f for f in short["findings"] if f["status"] in ("fail", "unknown")]
    assert text.count("\n  ✗ ") + text.count("\n  ? ") == len(not_green)
