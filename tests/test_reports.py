"""The report renderings, from a snapshot and small fake rule lists (and the real catalog)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import jsonschema

from monitors.reports.html_report import render_html
from monitors.reports.json_findings import findings_schema, render_report_json
from monitors.reports.junit import render_junit
from monitors.reports.markdown import render_markdown
from monitors.reports.model import DEVICE_SAMPLE, ReadinessReport, build_report
from monitors.reports.sarif import render_sarif
from monitors.reports.terminal import render_terminal
from rules.checks.profiles_and_esp import prf_006_no_exclusions_with_all_devices
from rules.context import RuleContext, profile_subject
from rules.device_readiness import Readiness, device_readiness
from rules.engine import Rule, evaluate_snapshot
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Status, Subject
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS
from tests.tenant_builder import (
    AP_GROUP_ID,
    DEVICE_A_ID,
    PROFILE_NAME,
    all_devices,
    autopilot_profile,
    exclude_group,
    healthy_tenant,
)

# A finding of the findings contract greenscreen.findings/2 (monitors/schemas/findings.schema.json).
CONTRACT_KEYS = {
    "ruleId",
    "status",
    "severity",
    "subject",
    "scope",
    "message",
    "reasons",
    "deviceCount",
    "devices",
    "related",
}


def fake_metadata(rule_id: str, severity: Severity) -> RuleMetadata:
    return RuleMetadata(
        id=rule_id,
        title=f"{rule_id} holds",
        severity=severity,
        rationale="a fake rule for report tests",
        remediation=f"fix {rule_id} in the admin center",
        references=("https://learn.microsoft.com/autopilot/pre-provision",),
        graph_reads=(GROUPS,),
        permissions=("GroupMember.Read.All",),
    )


def fake_rule(
    rule_id: str,
    status: Status,
    severity: Severity = Severity.ERROR,
    *,
    per_profile: bool = False,
    devices: tuple[str, ...] = (),
    subject: Subject | None = None,
    message: str = "",
) -> Rule:
    """A rule that says `status` once tenant-wide, or once per pre-provisioning profile."""
    metadata = fake_metadata(rule_id, severity)

    def evaluate(context: RuleContext) -> Iterator[Finding]:
        scopes = (
            [context.profile_scope(p) for p in context.targeting.preprovisioning_profiles() or ()]
            if per_profile
            else [None]
        )
        for scope in scopes:
            builder = FindingBuilder(metadata, scope=scope)
            about = subject or context.tenant_subject
            text = message or f"{rule_id} says {status.value}"
            if status is Status.FAIL:
                yield builder.failed(about, text, ("a reason",), devices=devices)
            elif status is Status.UNKNOWN:
                yield builder.unknown(about, text, ("groups could not be read",), devices=devices)
            elif status is Status.PASS:
                yield builder.passed(about, text)
            else:
                yield builder.not_applicable(about, text)

    return Rule(metadata, evaluate)


def report_for(
    snapshot: TenantSnapshot, rules: list[Rule], fail_on: Severity = Severity.ERROR
) -> ReadinessReport:
    evaluation = evaluate_snapshot(snapshot, rules)
    devices = device_readiness(snapshot, evaluation.findings, fail_on)
    return build_report(evaluation, snapshot, fail_on, devices)


MIXED_RULES = [
    fake_rule("TST-001", Status.PASS, per_profile=True),
    fake_rule("TST-002", Status.FAIL, Severity.ERROR, per_profile=True, devices=(DEVICE_A_ID,)),
    fake_rule("TST-003", Status.UNKNOWN, Severity.BLOCKER, per_profile=True),
    fake_rule("TST-004", Status.NOT_APPLICABLE),
    fake_rule("TST-005", Status.FAIL, Severity.WARNING),
]


# --- the model ------------------------------------------------------------------------------


def test_profile_findings_are_ordered_failing_then_unknown_then_passing() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    (profile,) = report.profiles
    statuses = [finding.status for finding in profile.findings]

    assert statuses == [Status.FAIL, Status.UNKNOWN, Status.PASS]
    assert profile.title == PROFILE_NAME
    assert [f.rule_id for f in report.tenant_wide.findings] == ["TST-005", "TST-004"]


def test_profile_is_red_when_it_fails_at_the_threshold_and_unknown_when_only_unknown() -> None:
    snapshot = healthy_tenant().snapshot()

    red = report_for(snapshot, [fake_rule("TST-002", Status.FAIL, per_profile=True)])
    unknown = report_for(snapshot, [fake_rule("TST-003", Status.UNKNOWN, per_profile=True)])
    green = report_for(snapshot, [fake_rule("TST-005", Status.FAIL, Severity.WARNING)])

    assert red.profiles[0].readiness is Readiness.RED
    assert unknown.profiles[0].readiness is Readiness.UNKNOWN
    assert unknown.readiness is Readiness.UNKNOWN
    assert green.profiles[0].readiness is Readiness.GREEN
    assert green.readiness is Readiness.GREEN


def test_a_tenant_wide_failure_turns_every_profile_red() -> None:
    report = report_for(healthy_tenant().snapshot(), [fake_rule("TST-009", Status.FAIL)])

    assert [section.readiness for section in report.profiles] == [Readiness.RED]
    assert report.profiles[0].findings == ()


KIOSK_ID = "kiosk-profile"


def _with_kiosk(*assignments: dict[str, object]) -> TenantSnapshot:
    """The healthy tenant plus a profile that does not allow pre-provisioning."""
    kiosk = autopilot_profile(
        KIOSK_ID, "Kiosk", assignments=list(assignments), preprovisioning=False
    )
    return healthy_tenant().add(AUTOPILOT_PROFILES, kiosk).snapshot()


def test_a_profile_without_pre_provisioning_is_not_used_and_a_red_verdict_names_its_failure() -> (
    None
):
    # PRF-006 judges every profile, so the kiosk profile is shown; the tenant-wide blocker stops
    # every pre-provisioning profile, but not a profile no device is pre-provisioned with.
    prf_006 = Rule.from_module(prf_006_no_exclusions_with_all_devices)
    report = report_for(_with_kiosk(), [prf_006, fake_rule("TST-009", Status.FAIL)])
    sections = {section.title: section for section in report.profiles}

    kiosk = sections["Kiosk"]
    assert (kiosk.preprovisioning, kiosk.judged) == (False, False)
    assert kiosk.readiness is Readiness.GREEN  # its own findings: nothing failing
    assert kiosk.red_by == ()
    preprovisioning = sections[PROFILE_NAME]
    assert preprovisioning.readiness is Readiness.RED
    assert preprovisioning.red_by == ("TST-009 (tenant-wide)",)

    text = render_terminal(report)
    assert "Profiles (2): 1 red, 0 unknown, 0 green, 1 not used for pre-provisioning" in text
    (kiosk_line,) = [line for line in text.splitlines() if "Kiosk" in line]
    assert "UNUSED" in kiosk_line
    assert "RED" not in kiosk_line
    assert "not used for pre-provisioning" in kiosk_line
    red_lines = [line for line in text.splitlines() if " RED " in line and "overall" not in line]
    assert red_lines
    assert all("red by TST-009" in line for line in red_lines)
    markdown = render_markdown(report)
    assert "## ⬜ NOT USED Profile: Kiosk" in markdown
    assert "Verdict: red by TST-009 \\(tenant-wide\\)." in markdown
    html_text = render_html(report)
    assert '<span class="badge not_applicable">NOT USED</span></td><td>Kiosk' in html_text
    assert "NOT USED · Kiosk" in html_text


def test_a_profile_without_pre_provisioning_that_fails_itself_is_red_by_its_own_failure() -> None:
    # All devices with an excluded group: PRF-006 fails the kiosk profile itself.
    snapshot = _with_kiosk(all_devices(), exclude_group(AP_GROUP_ID))
    prf_006 = Rule.from_module(prf_006_no_exclusions_with_all_devices)
    report = report_for(snapshot, [prf_006, fake_rule("TST-009", Status.FAIL)])
    kiosk = next(section for section in report.profiles if section.title == "Kiosk")

    assert (kiosk.preprovisioning, kiosk.judged) == (False, True)
    assert kiosk.readiness is Readiness.RED
    assert kiosk.red_by == ("PRF-006",)  # its own; the tenant-wide failure is not its verdict
    assert "Kiosk" in render_terminal(report, everything=True)


def test_a_profiles_devices_are_listed_under_it() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    device_ids = {device.device_id for device in report.profiles[0].devices}

    assert DEVICE_A_ID in device_ids
    assert report.devices_without_profile == ()


# --- renderings -----------------------------------------------------------------------------


def validate_findings(document: object) -> None:
    schema = findings_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(document)


def test_json_lists_what_is_not_green_and_counts_what_passes() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    document = json.loads(render_report_json(report))

    validate_findings(document)
    assert document["format"] == "greenscreen.findings/2"
    findings = document["findings"]
    assert all(set(finding) == CONTRACT_KEYS for finding in findings)
    assert sorted((f["ruleId"], f["status"]) for f in findings) == [
        ("TST-002", "fail"),
        ("TST-003", "unknown"),
        ("TST-005", "fail"),
    ]
    profile_id = report.profiles[0].profile_id
    assert document["quiet"] == [
        {"ruleId": "TST-001", "scope": profile_id, "status": "pass", "count": 1},
        {"ruleId": "TST-004", "scope": None, "status": "not_applicable", "count": 1},
    ]
    assert document["counts"] == {
        "pass": 1,
        "fail": 2,
        "unknown": 1,
        "not_applicable": 1,
        "manual": 0,
    }
    (failing,) = [f for f in findings if f["ruleId"] == "TST-002"]
    assert failing["scope"] == profile_id
    assert [document["texts"][i] for i in failing["reasons"]] == ["a reason"]
    assert failing["deviceCount"] == 1
    assert failing["devices"] == [DEVICE_A_ID]
    assert {rule["id"]: rule["remediation"] for rule in document["rules"]}["TST-002"] == (
        "fix TST-002 in the admin center"
    )


def test_json_with_everything_lists_passing_findings_too() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    document = json.loads(render_report_json(report, everything=True))

    validate_findings(document)
    assert document["complete"] is True
    assert {f["status"] for f in document["findings"]} == {
        "pass",
        "fail",
        "unknown",
        "not_applicable",
    }
    assert len(document["findings"]) == len(report.findings)


def test_json_names_a_sample_of_devices_and_related_objects_once() -> None:
    snapshot = healthy_tenant().snapshot()
    devices = tuple(f"device-{n:03}" for n in range(40))
    shared = Subject("mobileApp", "app-1", "Shared app")
    metadata = fake_metadata("TST-010", Severity.ERROR)

    def evaluate(context: RuleContext) -> Iterator[Finding]:
        builder = FindingBuilder(metadata)
        for n in range(3):
            subject = Subject("group", f"g{n}", f"Group {n}")
            yield builder.failed(subject, "fails", devices=devices, related=(shared,))

    report = report_for(snapshot, [Rule(metadata, evaluate)])
    document = json.loads(render_report_json(report))

    validate_findings(document)
    assert [f["deviceCount"] for f in document["findings"]] == [40, 40, 40]
    assert all(f["devices"] == list(devices[:DEVICE_SAMPLE]) for f in document["findings"])
    assert all(f["related"] == ["mobileApp/app-1"] for f in document["findings"])
    assert document["objects"] == {"mobileApp/app-1": shared.as_json()}


def test_junit_has_a_suite_per_profile_and_never_shows_unknown_as_passed() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    root = ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}

    profile = suites[f"profile: {PROFILE_NAME}"]
    assert profile.get("failures") == "1"
    assert profile.get("errors") == "1"
    assert profile.find("testcase/error") is not None
    # Not applicable, and a warning failure below --fail-on error: neither fails the gate.
    assert suites["Tenant-wide"].get("skipped") == "2"
    assert suites["Tenant-wide"].get("failures") == "0"
    assert root.get("tests") == str(len(report.findings))


def test_sarif_lists_rules_and_fail_or_unknown_results_with_levels() -> None:
    report = report_for(healthy_tenant().snapshot(), MIXED_RULES)

    sarif = json.loads(render_sarif(report))
    run = sarif["runs"][0]
    results = {result["ruleId"]: result for result in run["results"]}

    assert sarif["version"] == "2.1.0"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [
        "TST-001",
        "TST-002",
        "TST-003",
        "TST-004",
        "TST-005",
    ]
    assert set(results) == {"TST-002", "TST-003", "TST-005"}
    assert results["TST-002"]["level"] == "error"
    assert results["TST-005"]["level"] == "warning"
    assert results["TST-003"]["properties"]["status"] == "unknown"
    location = results["TST-002"]["locations"][0]["logicalLocations"][0]
    assert location["fullyQualifiedName"].startswith("tenant/")


def test_terminal_prints_tenant_markup_literally() -> None:
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, displayName="[bold red]Evil[/]")
    snapshot = tenant.snapshot()
    group = snapshot.group(AP_GROUP_ID)
    assert group is not None
    subject = Subject("group", group.id, group.display_name)
    rules = [fake_rule("TST-002", Status.FAIL, per_profile=True, subject=subject)]

    text = render_terminal(report_for(snapshot, rules), color=False)

    assert "[bold red]Evil[/]" in text
    assert "RED" in text
    assert "fix TST-002 in the admin center" in text


def test_markdown_escapes_tenant_text_in_tables_and_html() -> None:
    subject = Subject("group", "g1", "<img src=x> | pipe")
    rules = [fake_rule("TST-002", Status.FAIL, per_profile=True, subject=subject)]

    text = render_markdown(report_for(healthy_tenant().snapshot(), rules), show_devices=True)

    assert "<img" not in text
    assert "&lt;img src=x&gt; \\| pipe" in text
    assert "## Devices (2)" in text


def test_html_escapes_a_script_in_a_display_name_and_loads_nothing_external() -> None:
    evil = "<script>alert('owned')</script>"
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, displayName=evil)
    snapshot = tenant.snapshot()
    rules = [
        fake_rule("TST-002", Status.FAIL, per_profile=True, subject=Subject("group", "x", evil)),
        fake_rule("TST-003", Status.UNKNOWN, per_profile=True),
    ]

    page = render_html(report_for(snapshot, rules))

    assert evil not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"<link\b|@import|url\(", page, re.I)
    assert "UNKNOWN (not green)" in page


def test_html_shows_each_profile_panel_with_its_verdict() -> None:
    tenant = healthy_tenant()
    snapshot = tenant.snapshot()
    profile = (snapshot.autopilot_profiles or ())[0]

    page = render_html(report_for(snapshot, [fake_rule("TST-002", Status.FAIL, per_profile=True)]))

    assert f"RED · {profile_subject(profile).display_name}" in page
    assert 'data-verdict="red"' in page
    assert "Devices that get this profile (2)" in page
