"""JUnit XML: one test suite per pre-provisioning profile (and one tenant-wide). The counts agree
with the gate: `failures` + `errors` is non-zero exactly when `check` exits 1.

Bounded by default: a rule's passing subjects are one test case ("N subject(s) pass"); its failing
and unknown subjects are a case each up to CASES_PER_RULE per outcome, then one case for the rest
with the same outcome (a failure, an error, or a skip for what is suppressed or below the
threshold). `failures` + `errors` counts test cases, so each is the number of findings that fail
the gate whenever no rule has more than CASES_PER_RULE of them (always under `--all`); the exact
number is the suite property `gateFindings`.

- failing at or above `--fail-on`: `<failure>`; unknown at or above it: `<error>` (a CI view never
  shows it as passed);
- failing or unknown below `--fail-on`: `<skipped>` with a message starting "below --fail-on";
- suppressed (`--suppressions`): `<skipped>` with a message starting "suppressed:" and the reason;
- not applicable: `<skipped>`; a manual item (a check a person makes): `<skipped>` with a message
  starting "manual check:" and its steps: not a pass, and must not fail a pipeline every run;
- passing: a plain test case per rule, its subjects counted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

from monitors.reports.model import ReadinessReport, Section
from monitors.reports.safe_text import printable
from monitors.what_if import WhatIfChange, WhatIfResult
from rules.findings import Finding, Status

# Characters XML 1.0 cannot carry at all, even escaped; tenant text could contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAX_DEVICES_NAMED = 50


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", printable(text))


# Failing or unknown test cases per rule and suite; the rest are one case (`--all`: every one).
CASES_PER_RULE = 50


def render_junit(report: ReadinessReport, *, everything: bool = False) -> str:
    suites = ET.Element("testsuites", name=f"greenscreen {report.tenant_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for section in report.sections:
        if section.profile_id is None and not section.findings:
            continue
        suite = _suite(report, section, everything)
        suites.append(suite)
        for name in totals:
            totals[name] += int(suite.get(name, "0"))
    for name, value in totals.items():
        suites.set(name, str(value))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(report: ReadinessReport, section: Section, everything: bool) -> ET.Element:
    cases: list[ET.Element] = []
    suite = ET.Element(
        "testsuite",
        name=_xml(section.title if section.profile_id is None else f"profile: {section.title}"),
        tests="0",
        failures="0",
        errors="0",
        skipped="0",
        timestamp=report.captured_at,
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="tenantId", value=report.tenant_id)
    ET.SubElement(properties, "property", name="verdict", value=section.readiness.value)
    if section.profile_id is not None:
        ET.SubElement(properties, "property", name="profileId", value=section.profile_id)
    # What passes is a count: one test case per rule, not one per passing subject. Failing and
    # unknown subjects, per rule and outcome (failure, error, below --fail-on, suppressed): the
    # first CASES_PER_RULE as cases of their own, then one case standing for the rest with the
    # same outcome. `failures` + `errors` count test cases; the exact number of findings that fail
    # the gate is the suite property `gateFindings` (equal to `failures` + `errors` under `--all`
    # or whenever no rule has more than CASES_PER_RULE of them).
    passed = section.passed_by_rule()
    shown: Counter[tuple[str, str]] = Counter()
    rest: dict[tuple[str, str], list[Finding]] = {}
    gate_findings = 0
    for finding in section.findings:
        if finding.status is Status.PASS:
            continue
        outcome = _outcome(report, finding)
        if outcome in ("failure", "error"):
            gate_findings += 1
        key = (finding.rule_id, outcome)
        if (
            everything
            or finding.status not in (Status.FAIL, Status.UNKNOWN)
            or (shown[key] < CASES_PER_RULE)
        ):
            shown[key] += 1
            cases.append(_case(report, section, finding))
        else:
            rest.setdefault(key, []).append(finding)
    for (rule_id, outcome), findings in rest.items():
        cases.append(_rest_case(report, rule_id, outcome, findings))
    for rule_id, count in passed.items():
        cases.append(_passed_case(report, rule_id, count))
    outcomes = [case[0].tag if len(case) else "" for case in cases]
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(outcomes.count("failure")))
    suite.set("errors", str(outcomes.count("error")))
    suite.set("skipped", str(outcomes.count("skipped")))
    ET.SubElement(properties, "property", name="gateFindings", value=str(gate_findings))
    suite.extend(cases)
    return suite


def _outcome(report: ReadinessReport, finding: Finding) -> str:
    """What a failing or unknown finding is in JUnit: failure, error, suppressed or below."""
    if report.suppression_of(finding) is not None:
        return "suppressed"
    if finding.status in (Status.FAIL, Status.UNKNOWN) and not report.fails_gate(finding):
        return "below"
    return {Status.FAIL: "failure", Status.UNKNOWN: "error"}.get(finding.status, "skipped")


def _rest_case(
    report: ReadinessReport, rule_id: str, outcome: str, findings: list[Finding]
) -> ET.Element:
    """The failing (or unknown) subjects of a rule past the first CASES_PER_RULE with one
    outcome, as one case with that outcome (a suppressed or below-threshold rest is skipped)."""
    worst = max(findings, key=lambda finding: finding.severity.rank)
    case = ET.Element(
        "testcase",
        name=_xml(f"{rule_id}: {len(findings)} more subject(s)"),
        classname=f"greenscreen.{rule_id}",
    )
    names = ", ".join(finding.subject.display_name for finding in findings[:20])
    more = f" and {len(findings) - 20} more" if len(findings) > 20 else ""
    statuses = "/".join(sorted({finding.status.value for finding in findings}))
    text = f"{len(findings)} more {statuses} subject(s): {names}{more}"
    every = "\nevery one: greenscreen check --all --format junit"
    if outcome == "suppressed":
        reasons = sorted(
            {s.reason for f in findings if (s := report.suppression_of(f)) is not None}
        )
        element = ET.SubElement(
            case, "skipped", message=_xml(f"suppressed: {'; '.join(reasons)}; {text}"[:500])
        )
    elif outcome == "below":
        element = ET.SubElement(
            case, "skipped", message=_xml(f"below --fail-on {report.fail_on.value}: {text}"[:500])
        )
    else:
        element = ET.SubElement(case, outcome, message=_xml(text[:500]), type=worst.severity.value)
    element.text = _xml(text + every)
    return case


def _passed_case(report: ReadinessReport, rule_id: str, count: int) -> ET.Element:
    metadata = report.rules.get(rule_id)
    title = metadata.title if metadata else rule_id
    case = ET.Element(
        "testcase", name=_xml(f"{rule_id}: {title}"), classname=f"greenscreen.{rule_id}"
    )
    output = ET.SubElement(case, "system-out")
    output.text = f"{count} subject(s) pass"
    return case


def _case(report: ReadinessReport, section: Section, finding: Finding) -> ET.Element:
    metadata = report.rules.get(finding.rule_id)
    title = metadata.title if metadata else finding.rule_id
    case = ET.Element(
        "testcase",
        name=_xml(f"{finding.rule_id} {finding.subject.display_name}: {title}"),
        classname=f"greenscreen.{finding.rule_id}",
    )
    body = _details(report, finding)
    suppression = report.suppression_of(finding)
    if suppression is not None:
        until = suppression.expires.date().isoformat()
        element = ET.SubElement(
            case,
            "skipped",
            message=_xml(
                f"suppressed: {suppression.reason} ({suppression.owner}, until {until}); "
                f"{finding.status.value}: {finding.message}"
            ),
        )
        element.text = body
    elif finding.status in (Status.FAIL, Status.UNKNOWN) and not report.fails_gate(finding):
        element = ET.SubElement(
            case,
            "skipped",
            message=_xml(
                f"below --fail-on {report.fail_on.value}: {finding.status.value} "
                f"{finding.severity.value}: {finding.message}"
            ),
        )
        element.text = body
    elif finding.status is Status.FAIL:
        element = ET.SubElement(
            case, "failure", message=_xml(finding.message), type=finding.severity.value
        )
        element.text = body
    elif finding.status is Status.UNKNOWN:
        element = ET.SubElement(
            case, "error", message=_xml(f"unknown: {finding.message}"), type=finding.severity.value
        )
        element.text = body
    elif finding.status is Status.NOT_APPLICABLE:
        ET.SubElement(case, "skipped", message=_xml(finding.message))
    elif finding.status is Status.MANUAL:
        element = ET.SubElement(case, "skipped", message=_xml(f"manual check: {finding.message}"))
        element.text = body
    else:
        output = ET.SubElement(case, "system-out")
        output.text = _xml(finding.message)
    return case


def _details(report: ReadinessReport, finding: Finding) -> str:
    lines = [
        f"{finding.subject.type} '{finding.subject.display_name}' ({finding.subject.id})",
        f"severity: {finding.severity.value}",
    ]
    lines += [f"- {reason}" for reason in finding.reasons]
    if finding.related:
        lines.append("objects: " + ", ".join(r.display_name for r in finding.related))
    if finding.devices:
        lines.append("devices: " + report.device_sample(finding.devices))
    if finding.remediation:
        lines.append(f"fix: {finding.remediation}")
    return _xml("\n".join(lines))


# --- what-if ------------------------------------------------------------------------------------


def render_what_if_junit(result: WhatIfResult) -> str:
    """One suite: a test case per verdict the change turns. Newly failing at or above
    `--fail-on` is a `<failure>` (newly unknown an `<error>`), below it `<skipped>`; a resolved
    verdict passes. `failures` + `errors` is what makes the what-if exit 1."""
    suites = ET.Element("testsuites", name=f"greenscreen what-if {result.tenant_id}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml(f"what-if: {result.description or result.source}"),
        timestamp=result.captured_at,
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="tenantId", value=result.tenant_id)
    ET.SubElement(properties, "property", name="changeFile", value=_xml(result.source))
    ET.SubElement(properties, "property", name="unchanged", value=str(result.unchanged))
    cases = [_what_if_case(result, change, newly=True) for change in result.newly_failing]
    cases += [_what_if_case(result, change, newly=False) for change in result.resolved]
    outcomes = [case[0].tag if len(case) else "" for case in cases]
    counts = {
        "tests": len(cases),
        "failures": outcomes.count("failure"),
        "errors": outcomes.count("error"),
        "skipped": outcomes.count("skipped"),
    }
    for name, value in counts.items():
        suite.set(name, str(value))
        suites.set(name, str(value))
    suite.extend(cases)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _what_if_case(result: WhatIfResult, change: WhatIfChange, *, newly: bool) -> ET.Element:
    finding = change.finding
    metadata = result.rules.get(change.rule_id)
    title = metadata.title if metadata else change.rule_id
    profile = f" [{change.profile_name}]" if change.profile_name else ""
    case = ET.Element(
        "testcase",
        name=_xml(f"{change.rule_id} {finding.subject.display_name}{profile}: {title}"),
        classname=f"greenscreen.whatif.{change.rule_id}",
    )
    transition = f"{change.before_label} -> {change.after_label}"
    lines = [f"{finding.subject.type} '{finding.subject.display_name}' ({finding.subject.id})"]
    lines += [f"- {reason}" for reason in finding.reasons]
    if finding.remediation:
        lines.append(f"fix: {finding.remediation}")
    body = _xml("\n".join(lines))
    if not newly:
        output = ET.SubElement(case, "system-out")
        output.text = _xml(f"resolved: {transition}: {finding.message}")
        return case
    after = change.after
    suppression = result.suppression_of(change)
    if suppression is not None:
        until = suppression.expires.date().isoformat()
        element = ET.SubElement(
            case,
            "skipped",
            message=_xml(
                f"suppressed: {suppression.reason} ({suppression.owner}, until {until}); "
                f"{transition}: {finding.message}"
            ),
        )
    elif not result.fails_gate(change) or after is None:
        element = ET.SubElement(
            case,
            "skipped",
            message=_xml(
                f"below --fail-on {result.fail_on.value}: {transition}: {finding.message}"
            ),
        )
    elif after.status is Status.UNKNOWN:
        element = ET.SubElement(
            case,
            "error",
            message=_xml(f"{transition}: unknown: {finding.message}"),
            type=after.severity.value,
        )
    else:
        element = ET.SubElement(
            case,
            "failure",
            message=_xml(f"{transition}: {finding.message}"),
            type=after.severity.value,
        )
    element.text = body
    return case
