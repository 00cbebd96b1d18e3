"""One self-contained HTML file an admin can mail to the OEM: inline CSS and script, no assets.

A header with the tenant, capture time and overall verdict; one panel per pre-provisioning
profile, green or red like the ESP's own screen, with its findings (details expandable) and the
devices that will get that profile. Unknown is shown amber and says it is not green. Every piece
of tenant-provided text is escaped: a display name is untrusted input.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from monitors.reports.model import ReadinessReport, Section, breaches
from monitors.reports.safe_text import printable
from monitors.reports.terminal import device_profile_label, expired_note, suppression_note
from rules.device_readiness import DeviceReadiness, Readiness
from rules.findings import Finding, Status

_PANEL_TEXT = {
    Readiness.GREEN: "Ready: nothing at or above the threshold stands in the way",
    Readiness.RED: "Not ready: the technician flow is expected to end on a red screen",
    Readiness.UNKNOWN: "Not known to be ready: some checks could not be evaluated (not green)",
}

_STYLE = """
:root { --green:#107c10; --red:#c50f1f; --amber:#8a6100; --ink:#1b1b1b; --muted:#5c5c5c; }
* { box-sizing: border-box; }
body { font: 15px/1.45 "Segoe UI", system-ui, sans-serif; color: var(--ink); margin: 0;
  background: #f3f3f3; }
header { padding: 24px 32px; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 2px 0; }
.verdict-green { background: var(--green); }
.verdict-red { background: var(--red); }
.verdict-unknown { background: var(--amber); }
main { padding: 16px 32px 48px; max-width: 1200px; }
.panel { background: #fff; margin: 20px 0; border-radius: 6px; overflow: hidden;
  box-shadow: 0 1px 3px rgba(0,0,0,.15); }
.panel > .screen { color: #fff; padding: 18px 24px; }
.panel > .screen h2 { margin: 0; font-weight: 600; font-size: 20px; }
.panel > .screen p { margin: 4px 0 0; }
.panel > .body { padding: 8px 24px 16px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: 700;
  font-size: 12px; letter-spacing: .04em; color: #fff; }
.badge.fail, .badge.red { background: var(--red); }
.badge.unknown { background: var(--amber); }
.badge.pass, .badge.green { background: var(--green); }
.badge.not_applicable { background: #767676; }
.badge.manual { background: #1f5fa8; }
.badge.below { background: #a19f9d; }
details { margin: 8px 0; border: 1px solid #e1e1e1; border-radius: 4px; padding: 6px 10px; }
details.unknown { border-left: 5px solid var(--amber); }
details.fail { border-left: 5px solid var(--red); }
summary { cursor: pointer; }
.muted { color: var(--muted); }
.fix { background: #f3f9f1; padding: 6px 10px; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e1e1e1;
  vertical-align: top; }
th { background: #fafafa; }
button { font: inherit; margin: 0 8px 0 0; }
@media print { details { break-inside: avoid; } }
"""

# Opens or closes every <details> at once; the report works without it.
_SCRIPT = """
function setAll(open) {
  document.querySelectorAll("details").forEach(function (d) { d.open = open; });
}
"""


def e(text: object) -> str:
    return html.escape(printable(str(text)), quote=True)


def render_html(report: ReadinessReport) -> str:
    counts = report.counts()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Pre-provisioning readiness: {e(report.tenant_id)}</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{_SCRIPT}</script>",
        "</head><body>",
        f'<header class="verdict-{report.readiness.value}">',
        f"<h1>Pre-provisioning readiness: {report.readiness.value.upper()}</h1>",
        f"<p>Tenant <strong>{e(report.tenant_id)}</strong>, captured {e(report.captured_at)}</p>",
        f"<p>{counts[Status.FAIL]} failing, {counts[Status.UNKNOWN]} unknown, "
        f"{counts[Status.PASS]} passing, {counts[Status.NOT_APPLICABLE]} not applicable, "
        f"{counts[Status.MANUAL]} to check by hand "
        f"({len(report.rules)} rules; red at {e(report.fail_on.value)} and above)</p>",
        "</header><main>",
        '<p><button type="button" onclick="setAll(true)">Expand all</button>'
        '<button type="button" onclick="setAll(false)">Collapse all</button></p>',
    ]
    if report.unreadable:
        parts.append(
            '<p class="muted">Could not be read (the rules that need it are unknown, never '
            "green): " + ", ".join(f"<code>{e(path)}</code>" for path in report.unreadable) + "</p>"
        )
    parts += [
        f"<p>Expired suppression, not applied: {e(expired_note(expired))}</p>"
        for expired in report.expired_suppressions
    ]
    for section in report.profiles:
        parts.append(_panel(report, section))
    parts.append(_panel(report, report.tenant_wide))
    parts.append(_manual(report))
    parts.append(_network(report))
    parts.append(_devices_without_profile(report))
    parts.append(_rules_list(report))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _panel(report: ReadinessReport, section: Section) -> str:
    if section.profile_id is None:
        heading = "Tenant-wide checks"
        detail = "Tenant-wide findings count towards every profile's verdict."
    else:
        heading = e(section.title)
        groups = ", ".join(e(group.display_name) for group in section.groups) or "none"
        detail = (
            f"Autopilot device groups: {groups}. "
            f"Registered devices targeted: {section.targeted_devices}."
        )
    parts = [
        f'<section class="panel" data-verdict="{section.readiness.value}">',
        f'<div class="screen verdict-{section.readiness.value}">',
        f"<h2>{section.readiness.value.upper()} · {heading}</h2>",
        f"<p>{_PANEL_TEXT[section.readiness]}</p></div>",
        f'<div class="body"><p class="muted">{detail}</p>',
    ]
    parts += [_finding(report, f) for f in section.with_status(Status.FAIL, Status.UNKNOWN)]
    parts.append(_quiet_findings(report, section))
    if section.profile_id is not None:
        parts.append(
            _device_table(
                report, section.devices, f"Devices that get this profile ({len(section.devices)})"
            )
        )
    parts.append("</div></section>")
    return "\n".join(parts)


def _finding(report: ReadinessReport, finding: Finding) -> str:
    metadata = report.rules.get(finding.rule_id)
    title = e(metadata.title) if metadata else ""
    status = finding.status.value
    label = "FAIL" if finding.status is Status.FAIL else "UNKNOWN (not green)"
    below = (
        ""
        if breaches(finding, report.fail_on)
        else ' <span class="badge below">below threshold</span>'
    )
    suppression = report.suppression_of(finding)
    if suppression is not None:
        below = (
            ' <span class="badge below">suppressed</span> '
            f'<span class="muted">{e(suppression_note(suppression))}</span>'
        )
    parts = [
        f'<details class="finding {status}">',
        f'<summary><span class="badge {status}">{label}</span> '
        f"<strong>{e(finding.severity.value.upper())} {e(finding.rule_id)}</strong> {title}"
        f" — {e(finding.subject.display_name)}{below}</summary>",
        f"<p>{e(finding.subject.type)} <strong>{e(finding.subject.display_name)}</strong> "
        f'<span class="muted">({e(finding.subject.id)})</span>: {e(finding.message)}</p>',
    ]
    if finding.reasons:
        parts.append("<p>Why:</p><ul>" + _items(finding.reasons) + "</ul>")
    if finding.related:
        parts.append(
            "<p>Objects: "
            + ", ".join(
                f"{e(r.type)} <strong>{e(r.display_name)}</strong>" for r in finding.related
            )
            + "</p>"
        )
    if finding.devices:
        parts.append(
            f"<p>Devices ({len(finding.devices)}): "
            + ", ".join(e(report.device_label(d)) for d in finding.devices)
            + "</p>"
        )
    if finding.remediation:
        parts.append(f'<p class="fix"><strong>Fix:</strong> {e(finding.remediation)}</p>')
    if metadata and metadata.references:
        parts.append(
            '<p class="muted">References: '
            # Plain text, not links: the file makes no reference a mail client might fetch.
            + ", ".join(f"<code>{e(url)}</code>" for url in metadata.references)
            + "</p>"
        )
    parts.append("</details>")
    return "\n".join(parts)


def _quiet_findings(report: ReadinessReport, section: Section) -> str:
    quiet = section.with_status(Status.PASS, Status.NOT_APPLICABLE)
    if not quiet:
        return ""
    rows = "".join(
        f'<tr><td><span class="badge {f.status.value}">{e(f.status.value.replace("_", " "))}'
        f"</span></td><td>{e(f.rule_id)}</td><td>{e(f.subject.display_name)}</td>"
        f"<td>{e(f.message)}</td></tr>"
        for f in quiet
    )
    return (
        f"<details><summary>{len(section.with_status(Status.PASS))} passing, "
        f"{len(section.with_status(Status.NOT_APPLICABLE))} not applicable</summary>"
        "<table><tr><th>verdict</th><th>rule</th><th>subject</th><th>message</th></tr>"
        f"{rows}</table></details>"
    )


def _device_table(report: ReadinessReport, devices: Sequence[DeviceReadiness], caption: str) -> str:
    if report.devices is None:
        return ""
    if not devices:
        return f'<p class="muted">{e(caption)}: none.</p>'
    rows = "".join(_device_row(device) for device in devices)
    return (
        f"<details open><summary>{e(caption)}</summary><table>"
        "<tr><th>verdict</th><th>serial</th><th>name</th><th>group tag</th><th>profile</th>"
        "<th>assignment</th><th>groups</th><th>blockers</th></tr>"
        f"{rows}</table></details>"
    )


def _device_row(device: DeviceReadiness) -> str:
    groups = ", ".join(
        e(g.display_name) + ("" if g.certain else " (maybe)") + (" (paused)" if g.paused else "")
        for g in device.groups
    )
    blockers = "<br>".join(
        f"{e(b.rule_id) + ': ' if b.rule_id else ''}{e(b.message)}"
        + ("" if b.status is Status.FAIL else " (unknown)")
        for b in device.blockers
    )
    certainty = "" if device.profile_certainty.value == "certain" else " (uncertain)"
    return (
        f'<tr><td><span class="badge {device.readiness.value}">'
        f"{device.readiness.value.upper()}</span></td>"
        f"<td>{e(device.serial_number or '')}</td><td>{e(device.display_name)}</td>"
        f"<td>{e(device.group_tag or '')}</td>"
        f"<td>{e(device_profile_label(device))}{certainty}</td>"
        f"<td>{e(device.assignment_status or '')}</td><td>{groups}</td><td>{blockers}</td></tr>"
    )


def _manual(report: ReadinessReport) -> str:
    """Manual items: neither green nor failing; a person checks them."""
    manual = report.manual()
    if not manual:
        return ""
    parts = [
        '<section class="panel"><div class="body">',
        f"<h2>To check by hand ({len(manual)})</h2>",
        '<p class="muted">Tenant data cannot decide these: they are not green and do not '
        "change the verdict.</p>",
    ]
    for finding in manual:
        metadata = report.rules.get(finding.rule_id)
        title = e(metadata.title) if metadata else ""
        parts.append(
            '<details class="finding manual" open>'
            f'<summary><span class="badge manual">MANUAL</span> '
            f"<strong>{e(finding.rule_id)}</strong> {title}</summary>"
        )
        if finding.subject.type != "tenant":
            parts.append(
                f"<p>{e(finding.subject.type)} <strong>{e(finding.subject.display_name)}"
                f"</strong>: {e(finding.message)}</p>"
            )
        parts.append("<ul>" + _items(finding.reasons) + "</ul>")
        if finding.remediation:
            parts.append(f'<p class="fix"><strong>Where:</strong> {e(finding.remediation)}</p>')
        parts.append("</details>")
    parts.append("</div></section>")
    return "\n".join(parts)


def _network(report: ReadinessReport) -> str:
    if not report.network:
        return ""
    rows = "".join(
        f"<tr><td><code>{e(endpoint.host)}</code></td><td>{e(endpoint.protocol)}</td>"
        f"<td>{e(', '.join(str(port) for port in endpoint.ports))}</td>"
        f"<td>{e(endpoint.service)}</td><td>{e(endpoint.note)}</td>"
        f"<td><code>{e(endpoint.source)}</code></td></tr>"
        for endpoint in report.network
    )
    return (
        '<section class="panel"><div class="body"><details><summary>Network the '
        f"technician's bench must reach ({len(report.network)} endpoints)</summary>"
        "<table><tr><th>host</th><th>protocol</th><th>ports</th><th>service</th>"
        f"<th>only for</th><th>source</th></tr>{rows}</table></details></div></section>"
    )


def _devices_without_profile(report: ReadinessReport) -> str:
    if report.devices is None:
        return ""
    devices = report.devices_without_profile
    return (
        '<section class="panel"><div class="body">'
        "<h2>Devices without a pre-provisioning profile</h2>"
        '<p class="muted">No profile targets them, the profile they get does not allow '
        "pre-provisioning, or which profile they get cannot be told.</p>"
        + _device_table(report, devices, f"Devices ({len(devices)})")
        + "</div></section>"
    )


def _rules_list(report: ReadinessReport) -> str:
    rows = "".join(
        f"<tr><td>{e(m.id)}</td><td>{e(m.severity.value)}</td><td>{e(m.title)}</td></tr>"
        for m in report.rules.values()
    )
    return (
        '<section class="panel"><div class="body"><details><summary>Rules evaluated '
        f"({len(report.rules)})</summary><table><tr><th>rule</th><th>severity</th>"
        f"<th>compliant state</th></tr>{rows}</table></details></div></section>"
    )


def _items(lines: Iterable[str]) -> str:
    return "".join(f"<li>{e(line)}</li>" for line in lines)
