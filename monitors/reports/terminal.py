"""The terminal rendering: a verdict line per profile, like the ESP's own screen, then why.

Tenant-provided text goes into `rich.text.Text` objects, never into markup strings, so a display
name like `[bold]x[/]` prints as itself; the console (`InertConsole`) turns control characters
into `?`, so a name carrying terminal escape sequences cannot repaint the verdict.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from monitors.reports.model import (
    NOT_USED,
    ReadinessReport,
    RuleGroup,
    Section,
    breaches,
)
from monitors.reports.safe_text import printable
from monitors.suppressions import Suppression
from monitors.what_if import WhatIfChange, WhatIfResult
from rules.device_readiness import DeviceReadiness, Readiness
from rules.findings import Finding, Status

_BADGE_STYLE = {
    Readiness.GREEN: "bold white on green",
    Readiness.RED: "bold white on red",
    Readiness.UNKNOWN: "bold black on yellow",
}
_SEVERITY_STYLE = {"blocker": "bold red", "error": "red", "warning": "yellow", "info": "cyan"}
_MAX_DEVICES_NAMED = 5
_MAX_REASONS = 8
# The default report is one screen: this many profiles and rules, a few examples each.
_SUMMARY_PROFILES = 8
_SUMMARY_RULES = 8
_SUMMARY_EXAMPLES = 1
_SUMMARY_DEVICES = 50


class InertConsole(Console):
    """A console that prints tenant text as text: every control character, bidi override and
    lone surrogate in what it is given becomes `?` (one for one, so styles keep their place).
    A display name can neither move the cursor nor rewrite a line already printed."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_inert(item) for item in objects), **kwargs)


def _inert(item: Any) -> Any:
    if isinstance(item, Text):
        shown = item.copy()
        shown.plain = printable(shown.plain)
        return shown
    if isinstance(item, str):
        return printable(item)
    return item


def console_for(stream: IO[str], *, color: bool, width: int | None) -> Console:
    return InertConsole(
        file=stream,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        # Long lines are left to the terminal (or the pager) to wrap: copy-paste stays intact.
        soft_wrap=True,
    )


def render_terminal(
    report: ReadinessReport,
    *,
    color: bool = False,
    width: int = 140,
    show_devices: bool = False,
    everything: bool = False,
) -> str:
    """One screen of summary; `everything` (`--all`) lists every failing and unknown finding."""
    buffer = io.StringIO()
    console = console_for(buffer, color=color, width=width)
    _header(console, report)
    if everything:
        for section in report.sections:
            if section.profile_id is None and not section.findings:
                continue
            _section(console, report, section)
        _manual(console, report)
    else:
        _summary(console, report)
        _manual_summary(console, report)
    _network(console, report)
    if show_devices and report.devices is not None:
        _devices(console, report, None if everything else _SUMMARY_DEVICES)
    if not everything:
        console.print(
            Text(
                "every finding: --all; the report to share: --format html --out FILE; "
                "for a pipeline: --format json",
                style="dim",
            )
        )
    return buffer.getvalue()


def _summary(console: Console, report: ReadinessReport) -> None:
    """Profiles worst first, then the failing and unknown rules with an example or two."""
    order = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}
    profiles = sorted(report.profiles, key=lambda s: (not s.judged, order[s.readiness]))
    tally = Counter(section.readiness for section in profiles if section.judged)
    not_used = sum(1 for section in profiles if not section.judged)
    console.print(
        Text(
            f"Profiles ({len(profiles)}): {tally[Readiness.RED]} red, "
            f"{tally[Readiness.UNKNOWN]} unknown, {tally[Readiness.GREEN]} green"
            + (f", {not_used} {NOT_USED}" if not_used else ""),
            style="bold",
        )
    )
    for section in profiles[:_SUMMARY_PROFILES]:
        _profile_line(console, section)
    if len(profiles) > _SUMMARY_PROFILES:
        console.print(
            Text(f"  ... and {len(profiles) - _SUMMARY_PROFILES} more profiles (--all)", "dim")
        )
    if report.tenant_wide.findings:
        _profile_line(console, report.tenant_wide)
    console.print()
    groups = report.rule_groups()
    findings = sum(len(group.findings) for group in groups)
    console.print(
        Text(
            f"Failing and unknown: {findings} finding(s) of {len(groups)} rule(s), worst first",
            style="bold",
        )
    )
    for group in groups[:_SUMMARY_RULES]:
        _rule_group(console, report, group)
    if len(groups) > _SUMMARY_RULES:
        rest = groups[_SUMMARY_RULES:]
        console.print(
            Text(
                f"  ... and {len(rest)} more rule(s): "
                + ", ".join(group.rule_id for group in rest[:12])
                + (", ..." if len(rest) > 12 else "")
                + " (--all)",
                style="dim",
            )
        )
    counts = report.counts()
    passing = Text("  ✓ ", style="green")
    passing.append(
        f"{counts[Status.PASS]} passing verdicts of "
        f"{len({f.rule_id for f in report.findings if f.status is Status.PASS})} rules, "
        f"{counts[Status.NOT_APPLICABLE]} not applicable"
    )
    console.print(passing)
    console.print()


def _profile_line(console: Console, section: Section) -> None:
    line = Text("  ")
    line.append_text(section_badge(section))
    line.append(" ")
    if section.profile_id is None:
        line.append("Tenant-wide", style="bold")
    else:
        line.append(section.title, style="bold")
        names = [group.display_name for group in section.groups[:3]]
        more = len(section.groups) - len(names)
        groups = ", ".join(names) + (f" and {more} more" if more else "") or "no groups"
        line.append(f"  (groups: {groups}; {section.targeted_devices} registered device(s))")
    counts = section.counts()
    line.append(f"  {counts[Status.FAIL]} failing, {counts[Status.UNKNOWN]} unknown", "dim")
    note = section.verdict_note()
    if note:
        line.append(f"  ({note})")
    console.print(line)


def _rule_group(console: Console, report: ReadinessReport, group: RuleGroup) -> None:
    worst = group.worst
    mark = "✗" if worst.status is Status.FAIL else "?"
    head = Text(f"  {mark} ")
    label = "FAIL" if worst.status is Status.FAIL else "UNKNOWN"
    head.append(f"{label} {worst.severity.value.upper()}", _SEVERITY_STYLE[worst.severity])
    head.append(f" {group.rule_id} ", style="bold")
    metadata = report.rules.get(group.rule_id)
    if metadata is not None:
        head.append(metadata.title)
    suppressed = [f for f in group.findings if report.suppression_of(f) is not None]
    if len(suppressed) == len(group.findings):
        head.append(" (suppressed)", style="dim")
    elif not any(report.fails_gate(f) for f in group.findings):
        head.append(f" (below --fail-on {report.fail_on.value})", style="dim")
    head.append(
        f"  [{len(group.findings)} finding(s), {group.profiles} scope(s), "
        f"{group.devices} device(s)"
        + (f", {len(suppressed)} suppressed" if suppressed else "")
        + "]",
        style="dim",
    )
    console.print(head)
    examples = list(group.findings[:_SUMMARY_EXAMPLES])
    if suppressed and not any(f in examples for f in suppressed[:1]):
        examples.append(suppressed[0])  # a suppressed verdict stays visible in the summary
    for finding in examples:
        subject = finding.subject
        where = f" [{finding.scope.profile_name}]" if finding.scope else ""
        line = Text(f"      {subject.type} '{subject.display_name}'{where}: {finding.message}")
        suppression = report.suppression_of(finding)
        if suppression is not None:
            line.append(f" (suppressed: {suppression_note(suppression)})", style="dim")
        console.print(line)
    if worst.remediation:
        fix = Text("      fix: ", style="bold")
        fix.append(worst.remediation, style="")
        console.print(fix)


def _manual_summary(console: Console, report: ReadinessReport) -> None:
    """Manual items, one line per catalog entry; `--all` lists their steps."""
    manual = report.manual()
    if not manual:
        return
    console.print(
        Text(
            f"To check by hand ({len(manual)}): Greenscreen cannot see these; "
            "--all lists the steps",
            style="bold",
        )
    )
    per_rule = Counter(finding.rule_id for finding in manual)
    # One screen: the first few, the rest named by id.
    items = list(per_rule.items())
    for rule_id, count in items[:_SUMMARY_RULES]:
        head = Text("  ☐ MANUAL ", style="bold blue")
        head.append(f"{rule_id} ", style="bold")
        metadata = report.rules.get(rule_id)
        head.append(metadata.title if metadata else "")
        if count > 1:
            head.append(f" (×{count})")
        console.print(head)
    if len(items) > _SUMMARY_RULES:
        rest = [rule_id for rule_id, _ in items[_SUMMARY_RULES:]]
        console.print(Text(f"  ... and {len(rest)} more: {', '.join(rest)} (--all)", "dim"))
    console.print()


def verdict_badge(readiness: Readiness) -> Text:
    return Text(f" {readiness.value.upper():^7} ", style=_BADGE_STYLE[readiness])


def section_badge(section: Section) -> Text:
    """The section's verdict, or a plain 'UNUSED' for a profile not used for pre-provisioning."""
    if not section.judged:
        return Text(f" {'UNUSED':^7} ", style="dim")
    return verdict_badge(section.readiness)


def _header(console: Console, report: ReadinessReport) -> None:
    counts = report.counts()
    title = Text("Greenscreen pre-provisioning readiness", style="bold")
    console.print(title)
    console.print(Text(f"tenant {report.tenant_id}, captured {report.captured_at}"))
    line = Text("overall ")
    line.append_text(verdict_badge(report.readiness))
    line.append(
        f"  {counts[Status.FAIL]} failing, {counts[Status.UNKNOWN]} unknown, "
        f"{counts[Status.PASS]} passing, {counts[Status.NOT_APPLICABLE]} not applicable, "
        f"{counts[Status.MANUAL]} to check by hand "
        f"({len(report.rules)} rules; red at {report.fail_on.value} and above)"
    )
    console.print(line)
    if report.unreadable:
        console.print(
            Text(
                "could not be read (dependent rules are unknown): " + ", ".join(report.unreadable),
                style="yellow",
            )
        )
    if report.suppressed:
        console.print(Text(f"suppressed (shown, not counted): {len(report.suppressed)} verdict(s)"))
    for expired in report.expired_suppressions:
        console.print(Text(f"expired suppression, not applied: {expired_note(expired)}", "yellow"))
    console.print()


def _section(console: Console, report: ReadinessReport, section: Section) -> None:
    line = section_badge(section)
    line.append(" ")
    if section.profile_id is None:
        line.append("Tenant-wide", style="bold")
    else:
        line.append(section.title, style="bold")
        groups = ", ".join(group.display_name for group in section.groups) or "no groups"
        line.append(f"  (groups: {groups}; {section.targeted_devices} registered device(s))")
    note = section.verdict_note(limit=len(section.red_by))
    if note:
        line.append(f"  ({note})")
    console.print(line)
    for finding in section.with_status(Status.FAIL, Status.UNKNOWN):
        _finding(console, report, finding)
    _passed_summary(console, section)
    console.print()


def _finding(console: Console, report: ReadinessReport, finding: Finding) -> None:
    mark = "✗" if finding.status is Status.FAIL else "?"
    head = Text(f"  {mark} ")
    label = finding.status.value.upper() if finding.status is Status.UNKNOWN else "FAIL"
    head.append(f"{label} {finding.severity.value.upper()}", _SEVERITY_STYLE[finding.severity])
    head.append(f" {finding.rule_id} ", style="bold")
    metadata = report.rules.get(finding.rule_id)
    if metadata is not None:
        head.append(metadata.title)
    suppression = report.suppression_of(finding)
    if suppression is not None:
        head.append(f" (suppressed: {suppression_note(suppression)})", style="dim")
    elif not breaches(finding, report.fail_on):
        head.append(f" (below --fail-on {report.fail_on.value})", style="dim")
    console.print(head)
    subject = finding.subject
    console.print(Text(f"      {subject.type} '{subject.display_name}': {finding.message}"))
    for reason in finding.reasons[:_MAX_REASONS]:
        console.print(Text(f"      - {reason}", style="dim"))
    if len(finding.reasons) > _MAX_REASONS:
        console.print(Text(f"      - ... {len(finding.reasons) - _MAX_REASONS} more", style="dim"))
    if finding.related:
        related = ", ".join(f"{r.type} '{r.display_name}'" for r in finding.related)
        console.print(Text(f"      objects: {related}"))
    if finding.devices:
        console.print(Text(f"      devices: {_device_list(report, finding.devices)}"))
    if finding.remediation:
        fix = Text("      fix: ", style="bold")
        fix.append(finding.remediation, style="")
        console.print(fix)


def _manual(console: Console, report: ReadinessReport) -> None:
    """Manual items: what tenant data cannot decide. Not green, not failing: a person checks."""
    manual = report.manual()
    if not manual:
        return
    console.print(
        Text(f"To check by hand ({len(manual)}): Greenscreen cannot see these", style="bold")
    )
    for finding in manual:
        head = Text("  ☐ MANUAL ", style="bold blue")
        head.append(f"{finding.rule_id} ", style="bold")
        metadata = report.rules.get(finding.rule_id)
        head.append(metadata.title if metadata else finding.message)
        console.print(head)
        subject = finding.subject
        if subject.type != "tenant":
            console.print(Text(f"      {subject.type} '{subject.display_name}': {finding.message}"))
        for step in finding.reasons[:_MAX_REASONS]:
            console.print(Text(f"      - {step}", style="dim"))
    console.print()


def _network(console: Console, report: ReadinessReport) -> None:
    if not report.network:
        return
    line = Text("Network: ", style="bold")
    line.append(
        f"the technician's bench must reach {len(report.network)} endpoints "
        "(`greenscreen network` lists them for an allow-list)"
    )
    console.print(line)
    for endpoint in report.tenant_endpoints():
        ports = ", ".join(str(port) for port in endpoint.ports)
        console.print(Text(f"  + {endpoint.host} {endpoint.protocol} {ports}: {endpoint.service}"))
    console.print()


def _device_list(report: ReadinessReport, device_ids: Sequence[str]) -> str:
    named = [report.device_label(device_id) for device_id in device_ids[:_MAX_DEVICES_NAMED]]
    more = len(device_ids) - len(named)
    return f"{len(device_ids)}: " + ", ".join(named) + (f" and {more} more" if more else "")


def _passed_summary(console: Console, section: Section) -> None:
    passed = Counter(f.rule_id for f in section.with_status(Status.PASS))
    not_applicable = len(section.with_status(Status.NOT_APPLICABLE))
    if not passed and not not_applicable:
        return
    rules = ", ".join(
        f"{rule_id}" + (f" x{count}" if count > 1 else "")
        for rule_id, count in sorted(passed.items())
    )
    text = Text("  ✓ ", style="green")
    text.append(f"{sum(passed.values())} passing" + (f" ({rules})" if rules else ""))
    if not_applicable:
        text.append(f"; {not_applicable} not applicable")
    console.print(text)


def _devices(console: Console, report: ReadinessReport, limit: int | None) -> None:
    devices = report.devices or ()
    console.print(Text(f"Devices ({len(devices)} registered)", style="bold"))
    ordered = _ordered(report)
    shown = ordered if limit is None else ordered[:limit]
    # Lines, not a table: eight columns of tenant text do not fit a terminal.
    for device in shown:
        line = Text("  ")
        line.append_text(verdict_badge(device.readiness))
        line.append(f" {device.serial_number or '(no serial)'}", style="bold")
        if device.display_name:
            line.append(f"  {device.display_name}")
        if device.group_tag:
            line.append(f"  tag {device.group_tag}")
        line.append(f"  profile: {device_profile_label(device)}")
        if device.profile_certainty.value != "certain":
            line.append(f" ({device.profile_certainty.value})")
        line.append(f"  assignment: {device.assignment_status or 'absent'}")
        groups = ", ".join(g.display_name + ("" if g.certain else "?") for g in device.groups)
        line.append(f"  groups: {groups or 'none'}", style="dim")
        console.print(line)
        if device.blockers:
            blockers = "; ".join(short_blocker(b.rule_id, b.message) for b in device.blockers)
            console.print(Text(f"            blockers: {blockers}", style="red"))
    if len(shown) < len(ordered):
        console.print(
            Text(
                f"  ... and {len(ordered) - len(shown)} more devices (--all, --devices-out)", "dim"
            )
        )
    console.print(
        Text("blockers name rules (see the findings above) and device facts", style="dim")
    )


def _ordered(report: ReadinessReport) -> list[DeviceReadiness]:
    ordered = [d for section in report.profiles for d in section.devices]
    return [*ordered, *report.devices_without_profile]


def device_profile_label(device: DeviceReadiness) -> str:
    if device.profile_name is None:
        return "unknown" if device.profile_certainty.value == "unknown" else "none"
    label = device.profile_name
    if device.competing_profiles:
        label += f" (wins over {', '.join(device.competing_profiles)})"
    return label


def suppression_note(suppression: Suppression) -> str:
    return (
        f"{suppression.reason} ({suppression.owner}, until "
        f"{suppression.expires.date().isoformat()})"
    )


def expired_note(suppression: Suppression) -> str:
    return (
        f"{suppression.label()}: {suppression.reason} ({suppression.owner}, expired "
        f"{suppression.expires.date().isoformat()})"
    )


def blocker_label(rule_id: str | None, message: str) -> str:
    return f"{rule_id}: {message}" if rule_id else message


def short_blocker(rule_id: str | None, message: str) -> str:
    """A finding by its rule id (explained above the table); a device fact by its text."""
    return rule_id if rule_id else message


# --- what-if ------------------------------------------------------------------------------------


def render_what_if_terminal(result: WhatIfResult, *, color: bool = False, width: int = 140) -> str:
    buffer = io.StringIO()
    console = console_for(buffer, color=color, width=width)
    title = Text("What if: ", style="bold")
    title.append(result.description or result.source)
    console.print(title)
    console.print(
        Text(
            f"{len(result.applied)} change(s) applied to tenant {result.tenant_id} "
            f"(captured {result.captured_at}); red at {result.fail_on.value} and above"
        )
    )
    verdict = Text("verdict ")
    breaking = result.breaking()
    verdict.append_text(verdict_badge(Readiness.RED if breaking else Readiness.GREEN))
    verdict.append(
        f"  {len(breaking)} newly failing at or above {result.fail_on.value}"
        if breaking
        else "  the change breaks nothing at or above the threshold"
    )
    console.print(verdict)
    console.print()
    console.print(Text(f"Newly failing or unknown ({len(result.newly_failing)})", style="bold"))
    for change in result.newly_failing:
        _what_if_change(console, change, after=True)
        suppression = result.suppression_of(change)
        if suppression is not None:
            console.print(Text(f"      suppressed: {suppression_note(suppression)}", style="dim"))
    console.print(Text(f"Resolved ({len(result.resolved)})", style="bold"))
    for change in result.resolved:
        _what_if_change(console, change, after=False)
    console.print(Text(f"Unchanged verdicts: {result.unchanged}", style="dim"))
    return buffer.getvalue()


def _what_if_change(console: Console, change: WhatIfChange, *, after: bool) -> None:
    finding = change.after if after and change.after is not None else change.before
    line = Text("  ✗ " if after else "  ✓ ", style="red" if after else "green")
    line.append(f"{change.rule_id} ", style="bold")
    line.append(f"{change.before_label} -> {change.after_label}")
    if change.profile_name:
        line.append(f"  [{change.profile_name}]")
    console.print(line)
    if finding is not None:
        subject = finding.subject
        console.print(Text(f"      {subject.type} '{subject.display_name}': {finding.message}"))
        if after:
            for reason in finding.reasons[:_MAX_REASONS]:
                console.print(Text(f"      - {reason}", style="dim"))
            if finding.remediation:
                console.print(Text(f"      fix: {finding.remediation}"))
