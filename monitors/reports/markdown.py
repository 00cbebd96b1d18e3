"""Markdown: for a ticket, a pull request or a wiki page.

Tenant-provided text is escaped: Markdown renderers pass HTML through, and a `|` would break a
table.
"""

from __future__ import annotations

import html
import re

from monitors.reports.model import (
    BlockerCounter,
    ReadinessReport,
    RuleGroup,
    Section,
    breaches,
)
from monitors.reports.safe_text import one_line
from monitors.reports.terminal import (
    device_profile_label,
    expired_note,
    short_blocker,
    suppression_note,
)
from monitors.what_if import WhatIfChange, WhatIfResult
from rules.device_readiness import DeviceReadiness, Readiness
from rules.findings import Finding, Status

_BADGE = {Readiness.GREEN: "🟩 GREEN", Readiness.RED: "🟥 RED", Readiness.UNKNOWN: "🟨 UNKNOWN"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_MAX_DEVICES_NAMED = 10
_MAX_REASONS = 8
_MAX_RELATED = 10
_MAX_DEVICE_ROWS = 100


def md(text: str) -> str:
    """Tenant text as inert Markdown: HTML escaped, Markdown punctuation backslashed."""
    flat = one_line(text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def render_markdown(
    report: ReadinessReport, *, show_devices: bool = False, everything: bool = False
) -> str:
    """Bounded by default (the first findings of each rule per profile, the first devices);
    `everything` (`--all`) lists every one."""
    counts = report.counts()
    lines = [
        "# Pre-provisioning readiness",
        "",
        f"Tenant `{md(report.tenant_id)}`, captured {md(report.captured_at)}. "
        f"Overall: **{_BADGE[report.readiness]}** (red at {report.fail_on.value} and above).",
        "",
        f"{counts[Status.FAIL]} failing, {counts[Status.UNKNOWN]} unknown, "
        f"{counts[Status.PASS]} passing, {counts[Status.NOT_APPLICABLE]} not applicable, "
        f"{counts[Status.MANUAL]} to check by hand; "
        f"{len(report.rules)} rules.",
        "",
    ]
    if report.unreadable:
        lines += [
            "Could not be read (dependent rules are unknown, never green): "
            + ", ".join(f"`{md(path)}`" for path in report.unreadable),
            "",
        ]
    if report.suppressed:
        lines += [f"Suppressed (shown, not counted): {len(report.suppressed)} verdict(s).", ""]
    lines += [
        f"Expired suppression, not applied: {md(expired_note(expired))}.\n"
        for expired in report.expired_suppressions
    ]
    for section in report.sections:
        if section.profile_id is None and not section.findings:
            continue
        lines += _section(report, section, everything)
    lines += _manual(report)
    lines += _network(report)
    if show_devices and report.devices is not None:
        lines += _devices(report, everything)
    return "\n".join(lines).rstrip() + "\n"


def _section(report: ReadinessReport, section: Section, everything: bool) -> list[str]:
    title = "Tenant-wide" if section.profile_id is None else f"Profile: {md(section.title)}"
    badge = _BADGE[section.readiness] if section.judged else "⬜ NOT USED"
    lines = [f"## {badge} {title}", ""]
    note = section.verdict_note(limit=len(section.red_by))
    if note:
        lines += [f"Verdict: {md(note)}.", ""]
    if section.profile_id is not None:
        groups = ", ".join(md(group.display_name) for group in section.groups) or "none"
        lines += [
            f"Groups: {groups}. Registered devices targeted: {section.targeted_devices}.",
            "",
        ]
    for group in section.rule_groups():
        lines += _rule_group(report, group, everything)
    passed = section.passed_by_rule()
    not_applicable = len(section.with_status(Status.NOT_APPLICABLE))
    if passed or not_applicable:
        rules = ", ".join(f"{rule_id} ×{count}" for rule_id, count in passed.items())
        lines += [
            f"✓ {sum(passed.values())} passing"
            + (f" ({rules})" if rules else "")
            + f", {not_applicable} not applicable.",
            "",
        ]
    return lines


def _rule_group(report: ReadinessReport, group: RuleGroup, everything: bool) -> list[str]:
    worst = group.worst
    metadata = report.rules.get(group.rule_id)
    status = "FAIL" if worst.status is Status.FAIL else "UNKNOWN"
    suppressed = [f for f in group.findings if report.suppression_of(f) is not None]
    if len(suppressed) == len(group.findings):
        below = " (suppressed)"
    elif not any(report.fails_gate(f) for f in group.findings):
        below = " (below the threshold)"
    else:
        below = ""
    title = md(metadata.title) if metadata else ""
    lines = [
        f"### {status} {worst.severity.value.upper()} {group.rule_id}: {title}{below}",
        "",
        f"{len(group.findings)} finding(s), {group.devices} device(s)"
        + (f", {len(suppressed)} suppressed (shown, not counted)." if suppressed else "."),
        "",
    ]
    shown = report.shown_findings(group.findings, everything)
    for finding in shown:
        lines += _finding(report, finding)
    if len(shown) < len(group.findings):
        lines += [
            f"… and {len(group.findings) - len(shown)} more (`greenscreen check --all`).",
            "",
        ]
    if worst.remediation:
        lines += [f"**Fix:** {md(worst.remediation)}", ""]
    return lines


def _finding(report: ReadinessReport, finding: Finding) -> list[str]:
    suppression = report.suppression_of(finding)
    if suppression is not None:
        note = f" (suppressed: {md(suppression_note(suppression))})"
    elif not breaches(finding, report.fail_on):
        note = " (below the threshold)"
    else:
        note = ""
    lines = [
        f"- {md(finding.subject.type)} **{md(finding.subject.display_name)}**: "
        f"{md(finding.message)}" + ("" if finding.status is Status.FAIL else " (unknown)") + note
    ]
    reasons = finding.reasons[:_MAX_REASONS]
    lines += [f"  - {md(reason)}" for reason in reasons]
    if len(finding.reasons) > len(reasons):
        lines.append(f"  - … {len(finding.reasons) - len(reasons)} more")
    if finding.related:
        related = ", ".join(
            f"{md(r.type)} {md(r.display_name)}" for r in finding.related[:_MAX_RELATED]
        )
        more = len(finding.related) - _MAX_RELATED
        lines.append(f"  - objects: {related}" + (f" and {more} more" if more > 0 else ""))
    if finding.devices:
        named = [md(report.device_label(d)) for d in finding.devices[:_MAX_DEVICES_NAMED]]
        more = len(finding.devices) - len(named)
        lines.append(
            f"  - devices ({len(finding.devices)}): "
            + ", ".join(named)
            + (f" and {more} more" if more else "")
        )
    return [*lines, ""]


def _manual(report: ReadinessReport) -> list[str]:
    """Manual items: neither green nor failing; a person checks them."""
    manual = report.manual()
    if not manual:
        return []
    lines = [f"## ☐ To check by hand ({len(manual)})", ""]
    for finding in manual:
        metadata = report.rules.get(finding.rule_id)
        title = md(metadata.title) if metadata else ""
        lines += [f"### MANUAL {finding.rule_id}: {title}", ""]
        if finding.subject.type != "tenant":
            lines += [
                f"{md(finding.subject.type)} **{md(finding.subject.display_name)}**: "
                f"{md(finding.message)}",
                "",
            ]
        lines += [f"- [ ] {md(step)}" for step in finding.reasons]
        lines.append("")
    return lines


def _network(report: ReadinessReport) -> list[str]:
    if not report.network:
        return []
    lines = [
        f"## Network the technician's bench must reach ({len(report.network)})",
        "",
        "| host | protocol | ports | service | only for | source |",
        "|---|---|---|---|---|---|",
    ]
    for endpoint in report.network:
        ports = ", ".join(str(port) for port in endpoint.ports)
        lines.append(
            f"| {md(endpoint.host)} | {endpoint.protocol} | {ports} | {md(endpoint.service)} | "
            f"{md(endpoint.note)} | {md(endpoint.source)} |"
        )
    return [*lines, ""]


def _devices(report: ReadinessReport, everything: bool) -> list[str]:
    devices = [d for section in report.profiles for d in section.devices]
    devices += report.devices_without_profile
    shown = devices if everything else devices[:_MAX_DEVICE_ROWS]
    lines = [
        f"## Devices ({len(devices)})",
        "",
        "| verdict | serial | name | group tag | profile | assignment | groups | blockers |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # A finding by its rule id (its text is in the profile's section); a device fact in full.
    count_blockers = BlockerCounter(lambda b: short_blocker(b.rule_id, b.message))
    lines += [_device_row(device, count_blockers) for device in shown]
    if len(shown) < len(devices):
        lines += ["", f"… and {len(devices) - len(shown)} more devices (`--all`, `--devices-out`)."]
    return [*lines, ""]


def _device_row(device: DeviceReadiness, count_blockers: BlockerCounter) -> str:
    groups = ", ".join(md(g.display_name) + ("" if g.certain else "?") for g in device.groups)
    named = count_blockers(device.blockers)
    blockers = "; ".join(md(n) + (f" ×{c}" if c > 1 else "") for n, c in named.items())
    cells = [
        _BADGE[device.readiness],
        md(device.serial_number or ""),
        md(device.display_name),
        md(device.group_tag or ""),
        md(device_profile_label(device)),
        md(device.assignment_status or ""),
        groups,
        blockers,
    ]
    return "| " + " | ".join(cells) + " |"


# --- what-if ------------------------------------------------------------------------------------


def render_what_if_markdown(result: WhatIfResult) -> str:
    breaking = result.breaking()
    verdict = (
        f"**🟥 breaks readiness**: {len(breaking)} verdict(s) newly failing at or above "
        f"{result.fail_on.value}"
        if breaking
        else f"**🟩 safe**: nothing newly failing at or above {result.fail_on.value}"
    )
    lines = [
        f"# What if: {md(result.description or result.source)}",
        "",
        f"{len(result.applied)} change(s) applied to tenant `{md(result.tenant_id)}` "
        f"(captured {md(result.captured_at)}). {verdict}.",
        "",
        f"## Newly failing or unknown ({len(result.newly_failing)})",
        "",
        *_what_if_rows(result.newly_failing),
        *(
            f"Suppressed: {change.rule_id} {md(change.finding.subject.display_name)}: "
            f"{md(suppression_note(suppression))}.\n"
            for change in result.newly_failing
            for suppression in (result.suppression_of(change),)
            if suppression is not None
        ),
        f"## Resolved ({len(result.resolved)})",
        "",
        *_what_if_rows(result.resolved),
        f"Unchanged verdicts: {result.unchanged}.",
    ]
    return "\n".join(lines) + "\n"


def _what_if_rows(changes: tuple[WhatIfChange, ...]) -> list[str]:
    if not changes:
        return ["None.", ""]
    lines = [
        "| rule | subject | profile | before | after | message |",
        "|---|---|---|---|---|---|",
    ]
    for change in changes:
        finding = change.finding
        lines.append(
            f"| {change.rule_id} | {md(finding.subject.display_name)} | "
            f"{md(change.profile_name or 'tenant-wide')} | {change.before_label} | "
            f"{change.after_label} | {md(finding.message)} |"
        )
    return [*lines, ""]
