"""One self-contained HTML file an admin can mail to the OEM: inline CSS and script, no assets.

A header with the tenant, capture time and overall verdict; one panel per pre-provisioning
profile, green or red like the ESP's own screen, with its findings (details expandable) and the
devices that will get that profile. Unknown is shown amber and says it is not green. Every piece
of tenant-provided text is escaped: a display name is untrusted input.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Iterator

from monitors.reports.model import (
    BlockerCounter,
    ReadinessReport,
    RuleGroup,
    Section,
    breaches,
)
from monitors.reports.safe_text import printable
from monitors.reports.terminal import device_profile_label, expired_note, suppression_note
from rules.device_readiness import Readiness
from rules.findings import Finding, Status

_PANEL_TEXT = {
    Readiness.GREEN: "Ready: nothing at or above the threshold stands in the way",
    Readiness.RED: "Not ready: the technician flow is expected to end on a red screen",
    Readiness.UNKNOWN: "Not known to be ready: some checks could not be evaluated (not green)",
}

_NOT_USED_TEXT = "Not judged: the profile does not allow pre-provisioning"


def _section_badge(section: Section) -> str:
    if not section.judged:
        return '<span class="badge not_applicable">NOT USED</span>'
    value = section.readiness.value
    return f'<span class="badge {value}">{value.upper()}</span>'


def _note(section: Section, limit: int, style: str = "muted") -> str:
    note = section.verdict_note(limit=limit)
    return f' <span class="{style}">({e(note)})</span>' if note else ""


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
.verdict-not-used { background: #767676; }
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

# Small inline script, no external assets; the report reads without it except the device
# tables, which it pages and searches (the devices are data in the page, not 20,000 rows).
_SCRIPT = """
function setAll(open) {
  document.querySelectorAll("details").forEach(function (d) { d.open = open; });
}
function filterRows(input) {
  var q = input.value.toLowerCase();
  var table = document.getElementById(input.getAttribute("data-target"));
  Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
    row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) < 0;
  });
}
var deviceData = null;
var VERDICTS = ["red", "unknown", "green"];
function deviceTable(box) {
  if (deviceData === null) {
    deviceData = JSON.parse(document.getElementById("device-data").textContent);
  }
  var texts = deviceData.texts, section = Number(box.getAttribute("data-section"));
  var all = deviceData.rows.filter(function (r) { return r[4] === section; });
  var state = { page: 0, rows: all };
  var input = box.querySelector("input"), pager = box.querySelector(".pager");
  var body = box.querySelector("tbody"), size = 50;
  function cell(tr, text, badge) {
    var td = document.createElement("td");
    if (badge) {
      var span = document.createElement("span");
      span.className = "badge " + badge; span.textContent = text; td.appendChild(span);
    } else { td.textContent = text; }
    tr.appendChild(td);
  }
  function draw() {
    body.textContent = "";
    var start = state.page * size, rows = state.rows.slice(start, start + size);
    rows.forEach(function (r) {
      var tr = document.createElement("tr"), v = VERDICTS[r[0]];
      cell(tr, v.toUpperCase(), v); cell(tr, r[1]); cell(tr, r[2]); cell(tr, r[3]);
      cell(tr, texts[r[5]]); cell(tr, texts[r[6]]); cell(tr, texts[r[7]]); cell(tr, texts[r[8]]);
      body.appendChild(tr);
    });
    var last = Math.min(start + size, state.rows.length);
    pager.querySelector("span").textContent = state.rows.length
      ? (start + 1) + "-" + last + " of " + state.rows.length : "none";
  }
  input.addEventListener("input", function () {
    var q = input.value.toLowerCase();
    state.rows = q === "" ? all : all.filter(function (r) {
      return [r[1], r[2], r[3], texts[r[5]], texts[r[7]], texts[r[8]]].join(" ")
        .toLowerCase().indexOf(q) >= 0;
    });
    state.page = 0; draw();
  });
  pager.querySelector(".prev").addEventListener("click", function () {
    if (state.page > 0) { state.page -= 1; draw(); }
  });
  pager.querySelector(".next").addEventListener("click", function () {
    if ((state.page + 1) * size < state.rows.length) { state.page += 1; draw(); }
  });
  draw();
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".devices").forEach(deviceTable);
  // When the page was ready to read, for the benchmark (ms since navigation started).
  document.documentElement.setAttribute("data-drawn-ms", String(Math.round(performance.now())));
});
"""


def e(text: object) -> str:
    return html.escape(printable(str(text)), quote=True)


def render_html(report: ReadinessReport, *, everything: bool = False) -> str:
    return "".join(iter_html(report, everything=everything))


def iter_html(report: ReadinessReport, *, everything: bool = False) -> Iterator[str]:
    """The page in pieces, written as it is produced. Bounded by default: each rule shows its
    first findings per profile; `everything` (`--all`) shows every one."""
    counts = report.counts()
    yield "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Pre-provisioning readiness: {e(report.tenant_id)}</title>",
            f"<style>{_STYLE}</style>",
            f"<script>{_SCRIPT}</script>",
            "</head><body>",
            f'<header class="verdict-{report.readiness.value}">',
            f"<h1>Pre-provisioning readiness: {report.readiness.value.upper()}</h1>",
            f"<p>Tenant <strong>{e(report.tenant_id)}</strong>, captured "
            f"{e(report.captured_at)}</p>",
            f"<p>{counts[Status.FAIL]} failing, {counts[Status.UNKNOWN]} unknown, "
            f"{counts[Status.PASS]} passing, {counts[Status.NOT_APPLICABLE]} not applicable, "
            f"{counts[Status.MANUAL]} to check by hand "
            f"({len(report.rules)} rules; red at {e(report.fail_on.value)} and above)</p>",
            "</header><main>",
            '<p><button type="button" onclick="setAll(true)">Expand all</button>'
            '<button type="button" onclick="setAll(false)">Collapse all</button></p>',
        ]
    )
    if report.unreadable:
        yield (
            '<p class="muted">Could not be read (the rules that need it are unknown, never '
            "green): " + ", ".join(f"<code>{e(path)}</code>" for path in report.unreadable) + "</p>"
        )
    yield "".join(
        f"<p>Expired suppression, not applied: {e(expired_note(expired))}</p>"
        for expired in report.expired_suppressions
    )
    yield _summary(report)
    sections = {section.profile_id: index for index, section in enumerate(report.profiles)}
    for index, section in enumerate(report.profiles):
        yield _panel(report, section, index, everything)
    yield _panel(report, report.tenant_wide, -1, everything)
    yield _manual(report)
    yield _network(report)
    yield _devices_without_profile(report)
    yield _rules_list(report)
    if report.devices is not None:
        yield from _device_data(report, sections)
    yield "</main></body></html>\n"


def _summary(report: ReadinessReport) -> str:
    """Summary first: each profile's verdict, then the failing and unknown rules."""
    rows = "".join(
        f"<tr><td>{_section_badge(s)}</td>"
        f"<td>{e(s.title)}{_note(s, 3)}</td><td>{s.targeted_devices}</td>"
        f"<td>{c[Status.FAIL]}</td><td>{c[Status.UNKNOWN]}</td></tr>"
        for s in (*report.profiles, report.tenant_wide)
        for c in (s.counts(),)
    )
    groups = report.rule_groups()
    rule_rows = "".join(
        f'<tr><td><span class="badge {g.worst.status.value}">'
        f"{e(g.worst.status.value.upper())}</span></td>"
        f"<td>{e(g.worst.severity.value)}</td><td>{e(g.rule_id)}</td>"
        f"<td>{e(report.rules[g.rule_id].title if g.rule_id in report.rules else '')}</td>"
        f"<td>{len(g.findings)}</td><td>{g.profiles}</td><td>{g.devices}</td></tr>"
        for g in groups
    )
    return (
        '<section class="panel"><div class="body"><h2>Summary</h2>'
        "<table><thead><tr><th>verdict</th><th>profile</th><th>devices targeted</th>"
        f"<th>failing</th><th>unknown</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<h3>Failing and unknown, by rule ({len(groups)})</h3>"
        "<table><thead><tr><th>worst</th><th>severity</th><th>rule</th><th>compliant state</th>"
        "<th>findings</th><th>scopes</th><th>devices</th></tr></thead>"
        f"<tbody>{rule_rows}</tbody></table></div></section>"
    )


def _panel(report: ReadinessReport, section: Section, index: int, everything: bool) -> str:
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
    verdict = section.readiness.value if section.judged else "not-used"
    panel_text = _PANEL_TEXT[section.readiness] if section.judged else _NOT_USED_TEXT
    parts = [
        f'<section class="panel" data-verdict="{verdict}">',
        f'<div class="screen verdict-{verdict}">',
        f"<h2>{verdict.replace('-', ' ').upper()} · {heading}</h2>",
        f"<p>{panel_text}{_note(section, len(section.red_by), 'note')}</p></div>",
        f'<div class="body"><p class="muted">{detail}</p>',
    ]
    parts += [
        _rule_group(report, group, f"g{index + 1}-{position}", everything)
        for position, group in enumerate(section.rule_groups())
    ]
    parts.append(_quiet_findings(section))
    if section.profile_id is not None:
        parts.append(
            _device_table(report, index, f"Devices that get this profile ({len(section.devices)})")
        )
    parts.append("</div></section>")
    return "\n".join(parts)


def _rule_group(report: ReadinessReport, group: RuleGroup, anchor: str, everything: bool) -> str:
    worst = group.worst
    metadata = report.rules.get(group.rule_id)
    title = e(metadata.title) if metadata else ""
    status = worst.status.value
    label = "FAIL" if worst.status is Status.FAIL else "UNKNOWN (not green)"
    below = ""
    suppressed = sum(1 for f in group.findings if report.suppression_of(f) is not None)
    if suppressed == len(group.findings):
        below = ' <span class="badge below">suppressed</span>'
    elif not any(report.fails_gate(f) for f in group.findings):
        below = ' <span class="badge below">below threshold</span>'
    elif suppressed:
        below = f' <span class="badge below">{suppressed} suppressed</span>'
    shown = report.shown_findings(group.findings, everything)
    parts = [
        f'<details class="finding {status}">',
        f'<summary><span class="badge {status}">{label}</span> '
        f"<strong>{e(worst.severity.value.upper())} {e(group.rule_id)}</strong> {title}"
        f" — {len(group.findings)} finding(s), {group.devices} device(s){below}</summary>",
    ]
    if worst.remediation:
        parts.append(f'<p class="fix"><strong>Fix:</strong> {e(worst.remediation)}</p>')
    if metadata and metadata.references:
        parts.append(
            '<p class="muted">References: '
            # Plain text, not links: the file makes no reference a mail client might fetch.
            + ", ".join(f"<code>{e(url)}</code>" for url in metadata.references)
            + "</p>"
        )
    if len(shown) > 10:
        parts.append(
            f'<p><input type="search" placeholder="Filter these findings" '
            f'data-target="{anchor}" oninput="filterRows(this)"></p>'
        )
    rows = "".join(_finding_row(report, finding) for finding in shown)
    parts.append(
        f'<table id="{anchor}"><thead><tr><th>verdict</th><th>subject</th><th>what and why</th>'
        f"<th>devices</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    if len(shown) < len(group.findings):
        parts.append(
            f'<p class="muted">{len(group.findings) - len(shown)} more finding(s) of this rule '
            "here: <code>greenscreen check --all --format html</code> shows every one, "
            "<code>--format json</code> lists them for a pipeline.</p>"
        )
    parts.append("</details>")
    return "\n".join(parts)


def _finding_row(report: ReadinessReport, finding: Finding) -> str:
    status = finding.status.value
    below = "" if breaches(finding, report.fail_on) else " (below threshold)"
    suppression = report.suppression_of(finding)
    if suppression is not None:
        below = (
            ' <span class="badge below">suppressed</span> '
            f'<span class="muted">{e(suppression_note(suppression))}</span>'
        )
    cells = [
        f'<span class="badge {status}">{e(status.upper())}</span> '
        f"{e(finding.severity.value)}{below}",
        f"{e(finding.subject.type)} <strong>{e(finding.subject.display_name)}</strong> "
        f'<span class="muted">({e(finding.subject.id)})</span>',
    ]
    what = [e(finding.message)]
    if finding.reasons:
        reasons = finding.reasons[:_MAX_REASONS]
        more = len(finding.reasons) - len(reasons)
        what.append(
            "<ul>" + _items(reasons) + (f"<li>... {more} more</li>" if more else "") + "</ul>"
        )
    if finding.related:
        related = finding.related[:_MAX_RELATED]
        more = len(finding.related) - len(related)
        what.append(
            "Objects: "
            + ", ".join(f"{e(r.type)} <strong>{e(r.display_name)}</strong>" for r in related)
            + (f" and {more} more" if more else "")
        )
    cells.append("<br>".join(what))
    cells.append(e(report.device_sample(finding.devices)) if finding.devices else "")
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


_MAX_REASONS = 8
_MAX_RELATED = 10


def _quiet_findings(section: Section) -> str:
    """What passes is a count per rule; not-applicable verdicts are counted beside it."""
    passed = section.passed_by_rule()
    not_applicable = section.with_status(Status.NOT_APPLICABLE)
    if not passed and not not_applicable:
        return ""
    rows = "".join(
        f'<tr><td><span class="badge pass">pass</span></td><td>{e(rule_id)}</td>'
        f"<td>{count}</td><td></td></tr>"
        for rule_id, count in passed.items()
    ) + "".join(
        f'<tr><td><span class="badge not_applicable">not applicable</span></td>'
        f"<td>{e(f.rule_id)}</td><td>1</td><td>{e(f.message)}</td></tr>"
        for f in not_applicable
    )
    return (
        f"<details><summary>{sum(passed.values())} passing, "
        f"{len(not_applicable)} not applicable</summary>"
        "<table><tr><th>verdict</th><th>rule</th><th>subjects</th><th>message</th></tr>"
        f"{rows}</table></details>"
    )


def _device_table(report: ReadinessReport, section_index: int, caption: str) -> str:
    """A paged, searchable device table, drawn by the page's script from its device data."""
    if report.devices is None:
        return ""
    return (
        f'<details open><summary>{e(caption)}</summary><div class="devices" '
        f'data-section="{section_index}"><p><input type="search" placeholder="Search serial, '
        'name, tag, profile, blockers"> <span class="pager"><button type="button" '
        'class="prev">&lt; previous</button><span></span> <button type="button" class="next">'
        "next &gt;</button></span></p><table><thead><tr><th>verdict</th><th>serial</th>"
        "<th>name</th><th>group tag</th><th>profile</th><th>assignment</th><th>groups</th>"
        "<th>blockers</th></tr></thead><tbody></tbody></table><noscript>The device list needs "
        "JavaScript; <code>greenscreen check --devices-out FILE</code> writes it as JSON."
        "</noscript></div></details>"
    )


_VERDICT_CODE = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}


def _device_data(report: ReadinessReport, sections: dict[str | None, int]) -> Iterator[str]:
    """Every device once, as data: repeated texts (profile, groups, blockers) are interned."""
    texts: dict[str, int] = {}

    def text(value: str) -> int:
        return texts.setdefault(value, len(texts))

    rows = []
    # A rule once with its count (a device can fail one rule for dozens of payloads).
    count_blockers = BlockerCounter(
        lambda b: (b.rule_id or b.message) + ("" if b.status is Status.FAIL else " (unknown)")
    )
    ordered = [d for section in report.profiles for d in section.devices]
    for device in (*ordered, *report.devices_without_profile):
        groups = ", ".join(
            g.display_name + ("" if g.certain else " (maybe)") + (" (paused)" if g.paused else "")
            for g in device.groups
        )
        named = count_blockers(device.blockers)
        blockers = "; ".join(n + (f" ×{c}" if c > 1 else "") for n, c in named.items())
        certainty = "" if device.profile_certainty.value == "certain" else " (uncertain)"
        rows.append(
            [
                _VERDICT_CODE[device.readiness],
                device.serial_number or "",
                device.display_name,
                device.group_tag or "",
                sections.get(device.profile_id, -2) if device.profile_id else -2,
                text(device_profile_label(device) + certainty),
                text(device.assignment_status or ""),
                text(groups),
                text(blockers),
            ]
        )
    # `printable` on the JSON text reaches only inside its strings (json.dumps escapes C0 and
    # writes no line breaks here): tenant text is drawn with the same `?`s as the rest of the page.
    data = printable(
        json.dumps({"texts": list(texts), "rows": rows}, ensure_ascii=False, separators=(",", ":"))
    )
    # Inert inside the page: no "</script>", no markup, whatever the tenant's text says.
    safe = data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    yield f'<script type="application/json" id="device-data">{safe}</script>\n'


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
        + _device_table(report, -2, f"Devices ({len(devices)})")
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
