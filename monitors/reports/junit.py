"""JUnit XML: one test suite per pre-provisioning profile (and one tenant-wide), one test case
per finding. A failing finding is a `<failure>`, an unknown one an `<error>` (so a CI view never
shows it as passed), a not-applicable one `<skipped>`. A manual item (a check a person makes)
is `<skipped>` too, with a message starting "manual check:" and its steps: it is not a pass and
must not fail a pipeline every run.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter

from monitors.reports.model import ReadinessReport, Section
from rules.findings import Finding, Status

# Characters XML 1.0 cannot carry at all, even escaped; tenant text could contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


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
    counts = section.counts()
    suite = ET.Element(
        "testsuite",
        name=_xml(section.title if section.profile_id is None else f"profile: {section.title}"),
        tests=str(len(section.findings)),
        failures=str(counts[Status.FAIL]),
        errors=str(counts[Status.UNKNOWN]),
        skipped=str(counts[Status.NOT_APPLICABLE] + counts[Status.MANUAL]),
        timestamp=report.captured_at,
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="tenantId", value=report.tenant_id)
    ET.SubElement(properties, "property", name="verdict", value=section.readiness.value)
    if section.profile_id is not None:
        ET.SubElement(properties, "property", name="profileId", value=section.profile_id)
    # What passes is a count: one test case per rule, not one per passing subject. Failing and
    # unknown subjects: the first CASES_PER_RULE of each rule, then one case for the rest.
    passed = section.passed_by_rule()
    shown: Counter[tuple[str, Status]] = Counter()
    rest: dict[tuple[str, Status], list[Finding]] = {}
    for finding in section.findings:
        if finding.status is Status.PASS:
            continue
        key = (finding.rule_id, finding.status)
        if (
            everything
            or finding.status not in (Status.FAIL, Status.UNKNOWN)
            or (shown[key] < CASES_PER_RULE)
        ):
            shown[key] += 1
            suite.append(_case(report, section, finding))
        else:
            rest.setdefault(key, []).append(finding)
    for (rule_id, status), findings in rest.items():
        suite.append(_rest_case(rule_id, status, findings))
    for rule_id, count in passed.items():
        suite.append(_passed_case(report, rule_id, count))
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for case in cases if case.find("failure") is not None)))
    suite.set("errors", str(sum(1 for case in cases if case.find("error") is not None)))
    return suite


def _rest_case(rule_id: str, status: Status, findings: list[Finding]) -> ET.Element:
    """The failing (or unknown) subjects of a rule past the first CASES_PER_RULE, as one case."""
    worst = max(findings, key=lambda finding: finding.severity.rank)
    case = ET.Element(
        "testcase",
        name=_xml(f"{rule_id}: {len(findings)} more subject(s)"),
        classname=f"greenscreen.{rule_id}",
    )
    names = ", ".join(finding.subject.display_name for finding in findings[:20])
    more = f" and {len(findings) - 20} more" if len(findings) > 20 else ""
    text = f"{len(findings)} more {status.value} subject(s): {names}{more}"
    tag = "failure" if status is Status.FAIL else "error"
    element = ET.SubElement(case, tag, message=_xml(text[:500]), type=worst.severity.value)
    element.text = _xml(text + "\nevery one: greenscreen check --all --format junit")
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
    if finding.status is Status.FAIL:
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
