"""Tenant text is data: whoever names an object cannot steer a terminal, a spreadsheet, a report
or a Teams card, and cannot make a configured URL reach an internal address.

The fuzz test at the end feeds generated hostile text (terminal escapes, bidi controls,
Markdown, HTML, CSV formulas, very long strings, lone surrogates) through every renderer.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors.alerts.alert import Alert, AlertKind
from monitors.alerts.cards import CardContext, alert_card, cause_text, compose_messages, digest_card
from monitors.alerts.links import HistoryLinks
from monitors.alerts.routing import AlertSettingsError, WebhookUrl
from monitors.cli import main
from monitors.guardrail.settings import SettingsError, read_settings
from monitors.history_command import CHANGE_COLUMNS, TRANSITION_COLUMNS, _render
from monitors.reports.html_report import render_html
from monitors.reports.json_findings import render_report_json
from monitors.reports.junit import render_junit
from monitors.reports.markdown import render_markdown
from monitors.reports.sarif import render_sarif
from monitors.reports.terminal import render_terminal
from monitors.store.records import (
    ChangeEvent,
    ModifiedProperty,
    StoredStatus,
    Transition,
    VerdictRecord,
)
from monitors.store.verdict_store import VerdictStore
from rules.findings import Severity, Status, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS
from tests.conftest import Azurite
from tests.tenant_builder import AP_GROUP_ID, PROFILE_ID, healthy_tenant
from tests.test_alert_cards import card_schema, schema_errors
from tests.test_history_command import run as run_history
from tests.test_reports import fake_rule, report_for

# Anything a terminal, a bidi-aware viewer or a UTF-8 encoder acts on instead of showing.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
    "\ud800-\udfff]"
)
ESCAPES = "\x1b[2K\r\x1b[1A\x1b[2Koverall \x1b[42m GREEN \x1b[0m  0 failing\x1b]8;;https://evil\x07"
CONTEXT = CardContext(HistoryLinks("https://greenscreen.example.org"))
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


# -- terminal -------------------------------------------------------------------------------------


def test_a_profile_name_with_terminal_escapes_cannot_repaint_a_red_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, displayName=f"Contoso{ESCAPES}")
    snapshot = tenant.snapshot()
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(tenant.document()), encoding="utf-8")
    failing = [fake_rule("TST-002", Status.FAIL, per_profile=True)]
    assert main(["check", "--snapshot", str(path)], rules=failing) == 1
    out = capsys.readouterr().out
    assert not UNSAFE.search(out)
    assert "\x1b" not in out
    assert "\r" not in out
    assert re.search(r"^overall\s+RED\s+1 failing", out, re.M)
    # With colour on, the only escapes are the report's own colours (SGR).
    coloured = render_terminal(report_for(snapshot, failing), color=True)
    assert re.findall(r"\x1b(?!\[[0-9;]*m)", coloured) == []


# -- CSV ----------------------------------------------------------------------------------------


@pytest.fixture
def hostile_changes(
    azurite: Azurite, store: VerdictStore, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    store.record_change_events(
        tenant_id,
        [
            ChangeEvent(
                event_id="evil-1",
                at=datetime.now(UTC),
                actor_type="user",
                actor_id="u-1",
                actor_name='=HYPERLINK("https://evil","x")',
                activity=f"Update group{ESCAPES}",
                resource_type="+cmd|' /C calc'!A0",
                resource_id="-2+3",
                source="@SUM(1)",
            )
        ],
    )
    return tenant_id


def test_history_changes_as_csv_prints_no_escape_and_no_formula(
    hostile_changes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_history(["history", "--tenant", hostile_changes, "--changes", "--format", "csv"]) == 0
    )
    out = capsys.readouterr().out
    assert not UNSAFE.search(out)
    (row,) = list(csv.DictReader(io.StringIO(out)))
    for column in ("actor", "resource_type", "resource", "source"):
        assert row[column].startswith("'"), (column, row[column])
    assert row["activity"].startswith("Update group?[2K")


# -- Teams cards ----------------------------------------------------------------------------------

LINK = "[Click here to fix](https://evil.example/steal)"


def _hostile_alert(name: str, *, kind: AlertKind = AlertKind.NEW_FAILURE) -> Alert:
    status = StoredStatus.FAIL if kind is AlertKind.NEW_FAILURE else StoredStatus.UNKNOWN
    record = VerdictRecord(
        rule_id="GRP-002",
        rule_version=1,
        scope_id="p-1",
        scope_name=name,
        subject_type="group",
        subject_id="g-1",
        subject_name=name,
        status=status,
        severity="error",
        message=f"dynamic membership processing of '{name}' is paused",
        reasons=(f"group '{name}' is paused", name),
        first_seen=AT,
        last_changed=AT,
    )
    event = ChangeEvent(
        event_id="e-1",
        at=AT,
        actor_type="user",
        actor_id="u-1",
        actor_name=name,
        activity=name,
        resource_type="Group",
        resource_id="g-1",
        source="entra-directory-audit",
        modified_properties=(ModifiedProperty(name, json.dumps(name), json.dumps(name + "!")),),
    )
    transition = Transition("t-1", AT, "run-1", 1, StoredStatus.PASS, status, record, ("e-1",))
    alert = Alert.for_transition(transition, causes=(event,), tenant_name=name)
    assert alert is not None
    return alert


def _texts(node: Any) -> list[str]:
    """Every text a card renders as Markdown: TextBlocks and facts."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            found.extend(f"{fact['title']} {fact['value']}" for fact in node["facts"])
        for value in node.values():
            found.extend(_texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_texts(item))
    return found


def assert_inert_card(card: dict[str, Any]) -> None:
    for text in _texts(card):
        assert not UNSAFE.search(text.replace("\r", "")), text
        # A Markdown link needs "](": tenant brackets and parentheses are both escaped.
        assert "](" not in text, text
        assert not re.search(r"(?<!\\)<", text), text  # no autolink, no HTML
        assert "{{" not in text, text  # no Teams {{DATE()}} function
    for action in card.get("actions", []):
        # Button titles are plain text (no Markdown); links come from our own table only.
        assert not UNSAFE.search(action["title"]), action
        assert action["url"].startswith("https://"), action


def test_tenant_text_cannot_put_a_clickable_link_in_a_card() -> None:
    card = alert_card(_hostile_alert(LINK), CONTEXT)
    assert_inert_card(card)
    shown = "\n".join(_texts(card))
    assert "\\[Click here to fix\\]\\(https://evil.example/steal\\)" in shown
    # The actor is bold by our Markdown; the actor's own asterisks are escaped.
    assert cause_text(_hostile_alert("**x**").causes).startswith("**\\*\\*x\\*\\***")


# -- URLs the HTTP client normalises ------------------------------------------------------------

FULL_WIDTH = (
    "https://169。254。169。254/metadata/instance",
    "https://169．254．169．254/",
    "https://169｡254｡169｡254/",
    "https://168。63。129。16/",
)


@pytest.mark.parametrize("url", FULL_WIDTH)
def test_full_width_dots_cannot_reach_metadata_through_a_webhook(url: str) -> None:
    with pytest.raises(AlertSettingsError, match="link-local, metadata"):
        WebhookUrl(url)


@pytest.mark.parametrize("url", FULL_WIDTH)
def test_full_width_dots_cannot_reach_metadata_as_the_graph_url(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError, match=r"GREENSCREEN_GRAPH_URL: .*link-local"):
        read_settings({"GREENSCREEN_GRAPH_URL": url})
    with pytest.raises(SettingsError, match=r"TENANTS\[0\]\.graphUrl"):
        read_settings({"TENANTS": json.dumps([{"tenantId": "contoso.com", "graphUrl": url}])})
    assert main(["export", "--tenant", "contoso.com", "--graph-url", url, "--out", "x.json"]) == 2
    assert "link-local" in capsys.readouterr().err


# -- every renderer, fuzzed -----------------------------------------------------------------------

HOSTILE_PIECES = [
    "\x1b[2J",
    "\x1b]8;;https://evil\x07x\x1b]8;;\x07",
    "\r",
    "\x9b31m",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u2028",
    "[x](https://evil)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "{{DATE(2017-02-14T06:08:39Z, SHORT)}}",
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(A1)",
    "| a | b |",
    "# heading",
    "\ud800",
    "\udfff",
    "&lt;",
    "\"'",
]
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_PIECES),
        st.text(alphabet=string.printable, max_size=20),
        st.text(max_size=10),
    ),
    min_size=1,
    max_size=8,
).map("".join) | st.just("A" * 5000 + "\x1b[2J")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.tags[f"{tag}@{name}"] += 1
            assert not (value or "").lower().startswith("javascript:")


def _tags(document: str) -> Counter[str]:
    parser = _Tags()
    parser.feed(document)
    return parser.tags


def _report(name: str) -> Any:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, displayName=name)
    tenant = tenant.patch(GROUPS, AP_GROUP_ID, displayName=name)
    subject = Subject("group", AP_GROUP_ID, name)
    rules = [
        fake_rule("TST-002", Status.FAIL, per_profile=True, subject=subject, message=name),
        fake_rule("TST-003", Status.UNKNOWN, Severity.BLOCKER, message=name),
    ]
    return report_for(tenant.snapshot(), rules)


BENIGN = _report("benign name")
# The official Adaptive Card schema (the fixture's function, called once for the module).
SCHEMA: jsonschema.Draft6Validator = card_schema.__wrapped__()  # type: ignore[attr-defined]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(name=hostile_text)
def test_fuzzed_tenant_text_leaves_nothing_executable_in_any_renderer(name: str) -> None:
    report = _report(name)
    # Terminal (with and without colour): only the report's own SGR colours.
    plain = render_terminal(report, color=False)
    assert not UNSAFE.search(plain), repr(plain)
    coloured = render_terminal(report, color=True)
    assert not UNSAFE.search(re.sub(r"\x1b\[[0-9;]*m", "", coloured))
    # Markdown: no control characters, no raw HTML tag, no live link from tenant text.
    markdown = render_markdown(report, show_devices=True)
    assert not UNSAFE.search(markdown)
    assert "<script" not in markdown
    assert "<img" not in markdown
    assert "](https://evil" not in markdown
    # HTML: the same elements and attributes as for a benign name; no control characters.
    page = render_html(report)
    assert not UNSAFE.search(page)
    assert _tags(page) == _tags(render_html(BENIGN))
    # JUnit parses; SARIF and JSON are JSON with every unsafe character escaped.
    ET.fromstring(render_junit(report))  # noqa: S314 - our own output
    for text in (render_sarif(report), render_report_json(report)):
        assert not UNSAFE.search(text.replace("\n", ""))
        json.loads(text)
    # CSV (history): no control characters, no formula.
    transition = _hostile_alert(name).transition
    rows = [
        {
            "at": "2026-11-24T10:00:00Z",
            "rule": "GRP-002",
            "profile": name,
            "subject_type": "group",
            "subject": transition.record.subject_id,
            "name": name,
            "from": "pass",
            "to": "fail",
            "severity": "error",
            "run": "run-1",
        }
    ]
    text = _render("csv", TRANSITION_COLUMNS, rows, [], None)
    assert not UNSAFE.search(text.replace("\n", ""))
    for row in csv.DictReader(io.StringIO(text)):
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    change = dict.fromkeys(CHANGE_COLUMNS, name)
    assert not UNSAFE.search(_render("csv", CHANGE_COLUMNS, [change], [], None).replace("\n", ""))
    assert not UNSAFE.search(_render("table", CHANGE_COLUMNS, [change], [], None).replace("\n", ""))
    # Teams: every card kind valid against the Adaptive Card schema, and inert.
    failure = _hostile_alert(name)
    blind = _hostile_alert(name, kind=AlertKind.BLIND)
    cards = [
        alert_card(failure, CONTEXT),
        alert_card(blind, CONTEXT),
        digest_card([failure, blind], CONTEXT),
    ]
    for message in compose_messages([failure, blind], CONTEXT):
        cards.append(message.body["attachments"][0]["content"])
        # What the poster sends (UTF-8, not ASCII-escaped): always encodable.
        json.dumps(message.body, ensure_ascii=False).encode("utf-8")
    for card in cards:
        assert schema_errors(SCHEMA, card) == []
        assert_inert_card(card)
        assert len(json.dumps(card, ensure_ascii=False).encode("utf-8", "replace")) < 28_000
    (payload,) = compose_messages([failure], CONTEXT, digest_above=5, payload_format=_json())
    json.dumps(payload.body, ensure_ascii=False).encode("utf-8")  # no lone surrogate left


def _json() -> Any:
    from monitors.alerts.cards import PayloadFormat

    return PayloadFormat.JSON
