"""A what-if as one self-contained HTML page: the verdict, what the change newly breaks (with why
and how to fix it) and what it resolves. Inline CSS, no script, no external assets; every piece of
tenant-provided text is escaped.
"""

from __future__ import annotations

from monitors.reports.html_report import e
from monitors.reports.terminal import suppression_note
from monitors.what_if import WhatIfChange, WhatIfResult

_STYLE = """
:root { --green:#107c10; --red:#c50f1f; --ink:#1b1b1b; --muted:#5c5c5c; }
body { font: 15px/1.45 "Segoe UI", system-ui, sans-serif; color: var(--ink); margin: 0;
  background: #f3f3f3; }
header { padding: 24px 32px; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
.verdict-red { background: var(--red); }
.verdict-green { background: var(--green); }
main { padding: 16px 32px 48px; max-width: 1200px; }
section { background: #fff; margin: 20px 0; padding: 8px 24px 16px; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e1e1e1;
  vertical-align: top; }
.muted { color: var(--muted); }
.below { color: var(--muted); font-size: 12px; }
"""


def render_what_if_html(result: WhatIfResult) -> str:
    breaking = result.breaking()
    verdict = "red" if breaking else "green"
    summary = (
        f"breaks readiness: {len(breaking)} verdict(s) newly failing at or above "
        f"{result.fail_on.value}"
        if breaking
        else f"safe: nothing newly failing at or above {result.fail_on.value}"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>What if: {e(result.description or result.source)}</title>",
        f"<style>{_STYLE}</style>",
        "</head><body>",
        f'<header class="verdict-{verdict}">',
        f"<h1>What if: {e(result.description or result.source)}</h1>",
        f"<p>{verdict.upper()}: {e(summary)}</p>",
        f"<p>{len(result.applied)} change(s) applied to tenant <strong>{e(result.tenant_id)}"
        f"</strong> (captured {e(result.captured_at)})</p>",
        "</header><main>",
        f"<section><h2>Newly failing or unknown ({len(result.newly_failing)})</h2>",
        _table(result, result.newly_failing, newly=True),
        "</section>",
        f"<section><h2>Resolved ({len(result.resolved)})</h2>",
        _table(result, result.resolved, newly=False),
        "</section>",
        f'<p class="muted">Unchanged verdicts: {result.unchanged}.</p>',
        "</main></body></html>\n",
    ]
    return "\n".join(parts)


def _table(result: WhatIfResult, changes: tuple[WhatIfChange, ...], *, newly: bool) -> str:
    if not changes:
        return "<p>None.</p>"
    rows = []
    for change in changes:
        finding = change.finding
        metadata = result.rules.get(change.rule_id)
        suppression = result.suppression_of(change) if newly else None
        below = (
            f' <span class="below">(below --fail-on {e(result.fail_on.value)})</span>'
            if newly and not change.breaches(result.fail_on)
            else ""
        )
        if suppression is not None:
            below = f' <span class="below">(suppressed: {e(suppression_note(suppression))})</span>'
        why = "".join(f"<li>{e(reason)}</li>" for reason in finding.reasons) if newly else ""
        fix = (
            f"<p><strong>Fix:</strong> {e(finding.remediation)}</p>"
            if newly and finding.remediation
            else ""
        )
        rows.append(
            f"<tr><td><strong>{e(change.rule_id)}</strong> "
            f"{e(metadata.title) if metadata else ''}{below}</td>"
            f"<td>{e(finding.subject.type)} <strong>{e(finding.subject.display_name)}</strong></td>"
            f"<td>{e(change.profile_name or 'tenant-wide')}</td>"
            f"<td>{e(change.before_label)} &rarr; {e(change.after_label)}</td>"
            f"<td>{e(finding.message)}{'<ul>' + why + '</ul>' if why else ''}{fix}</td></tr>"
        )
    return (
        "<table><tr><th>rule</th><th>subject</th><th>profile</th><th>verdict</th>"
        "<th>message</th></tr>" + "".join(rows) + "</table>"
    )
