"""The dashboard in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol (tests/dashboard_browser.py) against `greenscreen serve`'s loopback server.

Content, navigation by clicking the rendered links, the timeline's filter form (typed into and
submitted, with its progressive-enhancement script), hostile text, and one screenshot per main
view, kept in docs/img/ for docs/dashboard.md. Chromium is installed on demand by the fixture
of tests/test_alert_rendering.py; a failed install fails the test, it is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.data.tables import TableServiceClient

from monitors.dashboard.server import serving
from monitors.dashboard.views import Dashboard
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import evaluation, finding, run_info
from tests.dashboard_browser import Browser
from tests.dashboard_data import (
    ACTOR,
    AUTOPILOT_GROUP_ID,
    HOSTILE_ACTOR,
    HOSTILE_NAME,
    seed_hostile_tenant,
    seed_sample_tenant,
)
from tests.test_alert_rendering import chromium  # noqa: F401 - the install-on-demand fixture

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTED = ROOT / "docs" / "img"
# Every run writes its screenshots under out/; GREENSCREEN_REGENERATE_SCREENSHOTS=1 refreshes the
# ones docs/dashboard.md shows.
SCREENSHOTS = (
    DOCUMENTED
    if os.environ.get("GREENSCREEN_REGENERATE_SCREENSHOTS") == "1"
    else ROOT / "out" / "dashboard-screenshots"
)
VIEWS = ("overview", "tenant", "timeline", "device")
# Names, not GUIDs, so the screenshots read well; used by no other test (Azurite is shared by
# the whole session, and other tests count on tenants nothing was recorded for).
TENANT_NAMES = {
    "sample": "contoso-eu.onmicrosoft.com",
    "green": "fabrikam-nl.onmicrosoft.com",
    "unknown": "tailspin-us.onmicrosoft.com",
    "hostile": "hostile-names.example.net",
}


@pytest.fixture(scope="module")
def tenants(table_service: TableServiceClient) -> dict[str, str]:
    store = VerdictStore(table_service)
    names = dict(TENANT_NAMES)
    seed_sample_tenant(table_service, names["sample"])
    seed_hostile_tenant(table_service, names["hostile"])
    for kind, status in (("green", Status.PASS), ("unknown", Status.UNKNOWN)):
        tenant = names[kind]
        store.record_evaluation(
            tenant,
            evaluation(tenant, "2026-11-21T10:00:00Z", [finding("app-0", status)]),
            run_info(),
        )
    return names


@pytest.fixture(scope="module")
def site(table_service: TableServiceClient, tenants: dict[str, str]) -> Iterator[str]:
    board = Dashboard.over(table_service, guarded_tenants=list(tenants.values()))
    with serving(board) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def browser(
    chromium: str,  # noqa: F811 - the fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Browser]:
    with Browser(chromium, tmp_path_factory.mktemp("dashboard-profile")) as opened:
        yield opened


def test_overview_lists_tenants_worst_first_and_opens_a_tenant(
    browser: Browser, site: str, tenants: dict[str, str]
) -> None:
    browser.open(f"{site}/")
    rows = browser.evaluate(
        "[...document.querySelectorAll('#tenants tbody tr')].map(r => r.dataset.tenant)"
    )
    assert rows[0] in (tenants["sample"], tenants["hostile"])  # the red ones first
    assert rows[-1] == tenants["green"]
    assert rows.index(tenants["unknown"]) < rows.index(tenants["green"])
    browser.screenshot(SCREENSHOTS / "dashboard-overview.png")
    browser.click(f"tr[data-tenant='{tenants['sample']}'] a")
    browser.wait_for(url_prefix=f"{site}/tenant")
    assert f"Tenant {tenants['sample']}" in browser.text("h1")


def test_tenant_view_shows_profiles_findings_fixes_devices_and_chart(
    browser: Browser, site: str, tenants: dict[str, str]
) -> None:
    browser.open(f"{site}/tenant?tenant={tenants['sample']}")
    assert browser.text("#readiness").strip() == "red"
    profiles = browser.text("#profiles")
    assert "red" in profiles
    findings = browser.text("#findings")
    assert "GRP-002" in findings
    assert "Open in the Intune admin center" in findings
    assert browser.evaluate("document.querySelectorAll('#devices tbody tr').length") > 0
    points = browser.evaluate("document.querySelector('#chart polyline').points.length")
    assert points >= 4
    browser.screenshot(SCREENSHOTS / "dashboard-tenant.png")
    # The finding's history link opens the timeline filtered to that rule and subject.
    browser.click("tr.finding[data-rule='GRP-002'] a[href*='timeline']")
    browser.wait_for(url_prefix=f"{site}/timeline")
    query = parse_qs(urlsplit(browser.evaluate("location.href")).query)
    assert query["rule"] == ["GRP-002"]
    assert query["subject"] == [AUTOPILOT_GROUP_ID]
    assert f"{ACTOR}: Update group" in browser.text("#transitions")


def test_timeline_filter_form_filters_on_the_server(
    browser: Browser, site: str, tenants: dict[str, str]
) -> None:
    browser.open(f"{site}/timeline?tenant={tenants['sample']}")
    browser.screenshot(SCREENSHOTS / "dashboard-timeline.png")
    browser.evaluate("document.querySelector('#f-actor').value = 'nobody@example.com'")
    browser.click("form.filters button[type=submit]")
    browser.wait_for(url_prefix=f"{site}/timeline?")
    browser.wait_for(url_prefix=f"{site}/timeline?tenant={tenants['sample']}&actor=")
    url = browser.evaluate("location.href")
    # The script leaves unfilled fields out of the URL.
    assert set(parse_qs(urlsplit(url).query, keep_blank_values=True)) == {"tenant", "actor"}
    assert "No change by this actor matches." in browser.text()
    browser.evaluate("document.querySelector('#f-actor').value = ''")
    browser.evaluate("document.querySelector('#f-rule').value = 'GRP-002'")
    browser.click("form.filters button[type=submit]")
    browser.wait_for(url_prefix=f"{site}/timeline?tenant={tenants['sample']}&rule=GRP-002")
    rules = browser.evaluate(
        "[...document.querySelectorAll('tr.transition')].map(r => r.dataset.rule)"
    )
    assert rules == ["GRP-002"]
    # The actor link opens that actor's changes and the transitions each caused.
    browser.click("a.actor")
    browser.wait_for(url_prefix=f"{site}/timeline?tenant={tenants['sample']}&actor=")
    assert f"Changes by {ACTOR}" in browser.text("h2#transitions-heading")
    assert "GRP-002" in browser.text("#changes")


def test_device_view_answers_a_serial_number_typed_in(
    browser: Browser, site: str, tenants: dict[str, str]
) -> None:
    browser.open(f"{site}/tenant?tenant={tenants['sample']}")
    serial = browser.text("#devices tbody tr td a").strip()
    assert serial
    browser.open(f"{site}/device?tenant={tenants['sample']}")
    browser.evaluate(f"document.querySelector('#serial').value = {serial!r}")
    browser.click("form.filters button[type=submit]")
    browser.wait_for(url_prefix=f"{site}/device?tenant={tenants['sample']}&serial=")
    verdict = browser.text("#verdict")
    assert verdict.startswith("red")
    assert "No: the blockers below stop it." in verdict
    assert browser.evaluate("document.querySelectorAll('#blockers li').length") > 0
    browser.screenshot(SCREENSHOTS / "dashboard-device.png")


def test_hostile_text_renders_as_text_and_runs_nothing(
    browser: Browser, site: str, tenants: dict[str, str]
) -> None:
    for path in (
        f"/timeline?tenant={tenants['hostile']}",
        f"/tenant?tenant={tenants['hostile']}",
        "/",
    ):
        browser.open(site + path)
        assert browser.evaluate("document.title") != "pwned"
        assert browser.evaluate("document.querySelectorAll('main script, main img').length") == 0
        links = browser.evaluate("[...document.querySelectorAll('a')].map(a => a.protocol)")
        assert set(links) <= {"http:", "https:"}
    browser.open(f"{site}/timeline?tenant={tenants['hostile']}")
    shown = browser.text()
    assert HOSTILE_NAME in shown
    assert HOSTILE_ACTOR in shown


def test_every_main_view_has_its_screenshot_in_the_docs() -> None:
    guide = (ROOT / "docs" / "dashboard.md").read_text(encoding="utf-8")
    for view in VIEWS:
        image = DOCUMENTED / f"dashboard-{view}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
        assert f"(img/dashboard-{view}.png)" in guide
