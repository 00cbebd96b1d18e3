"""JUnit XML: one test suite per pre-provisioning profile (and one tenant-wide), one test case
per finding. The counts agree with the gate: `failures` + `errors` is the number of findings that
make `check` exit 1.

- failing at or above `--fail-on`: `<failure>`; unknown at or above it: `<error>` (a CI view never
  shows it as passed);
- failing or unknown below `--fail-on`: `<skipped>` with a message starting "below --fail-on";
- suppressed (`--suppressions`): `<skipped>` with a message starting "suppressed:" and the reason;
- not applicable: `<skipped>`; a manual item (a check a person makes): `<skipped>` with a message
  starting "manual check:" and its steps: not a pass, and must not fail a pipeline every run;
- passing: a plain test case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from monitors.reports.model import ReadinessReport, Section
from monitors.reports.safe_text import printable
from monitors.what_if import WhatIfChange, WhatIfResult
from rules.findings import Finding, Status

# Characters XML 1.0 cannot carry at all, even escaped; tenant text could contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAX_DEVICES_NAMED = 50


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", printable(text))


def render_junit(report: ReadinessReport) -> str:
    suites = ET.Element("testsuites", name=f"greenscreen {report.tenant_id}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for section in report.sections:
        if section.profile_id is None and not section.findings:
            continue
        suite = _suite(report, section)
        suites.append(suite)
        for name in totals:
            totals[name] += int(suite.get(name, "0"))
    for name, value in totals.items():
        suites.set(name, str(value))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(report: ReadinessReport, section: Section) -> ET.Element:
    cases = [_case(report, section, finding) for finding in section.findings]
    outcomes = [case[0].tag if len(case) else "" for case in cases]
    suite = ET.Element(
        "testsuite",
        name=_xml(section.title if section.profile_id is None else f"profile: {section.title}"),
        tests=str(len(cases)),
        failures=str(outcomes.count("failure")),
        errors=str(outcomes.count("error")),
        skipped=str(outcomes.count("skipped")),
        timestamp=report.captured_at,
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="tenantId", value=report.tenant_id)
    ET.SubElement(properties, "property", name="verdict", value=section.readiness.value)
    if section.profile_id is not None:
        ET.SubElement(properties, "property", name="profileId", value=section.profile_id)
    suite.extend(cases)
    return suite


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
        # Bounded: a finding of a large tenant can concern thousands of devices.
        named = [report.device_label(d) for d in finding.devices[:_MAX_DEVICES_NAMED]]
        more = len(finding.devices) - len(named)
        lines.append(
            f"devices ({len(finding.devices)}): "
            + ", ".join(named)
            + (f" and {more} more" if more else "")
        )
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
