"""The dashboard's views over Azurite-backed stores, its access model, and its routes through
real `azure.functions.HttpRequest` objects and the loopback server.

The data is made by the real rules, store and mirror (tests/dashboard_data.py): the Contoso
sample before and after an admin paused the Autopilot group, and a tenant full of markup.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import pytest
from azure.data.tables import TableServiceClient

from monitors.alerts.links import HistoryLinks
from monitors.cli import main as greenscreen
from monitors.dashboard import access
from monitors.dashboard.access import LOCAL_PRINCIPAL, AccessDenied, Principal
from monitors.dashboard.pages import (
    MAX_TIMELINE_PAGE_SIZE,
    PAGE_COLOURS,
    STATUS_COLOURS,
    PageResponse,
    respond,
)
from monitors.dashboard.server import NotLoopbackError, check_loopback, serving
from monitors.dashboard.views import Dashboard
from monitors.store.verdict_store import VerdictStore
from rules.device_readiness import Readiness
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, rule_metadata, run_info
from tests.dashboard_data import (
    ACTOR,
    AUTOPILOT_GROUP_ID,
    HOSTILE_ACTOR,
    HOSTILE_NAME,
    HOSTILE_URL,
    seed_hostile_tenant,
    seed_sample_tenant,
)
from tests.test_http_api import user_function

ROOT = Path(__file__).resolve().parent.parent
T1, T2 = "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z"


@pytest.fixture(scope="module")
def sample_tenant(table_service: TableServiceClient) -> str:
    tenant = str(uuid.uuid4())
    seed_sample_tenant(table_service, tenant)
    return tenant


@pytest.fixture(scope="module")
def hostile_tenant(table_service: TableServiceClient) -> str:
    tenant = str(uuid.uuid4())
    seed_hostile_tenant(table_service, tenant)
    return tenant


@pytest.fixture
def board(table_service: TableServiceClient) -> Dashboard:
    return Dashboard.over(table_service)


def page(
    board: Dashboard, view: str, principal: Principal = LOCAL_PRINCIPAL, **params: str
) -> PageResponse:
    return respond(board, principal, view, params, base="/api/dashboard")


def text_of(html: str) -> str:
    """The page's visible text (tags dropped, entities decoded)."""

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.skip += tag in ("script", "style")

        def handle_endtag(self, tag: str) -> None:
            self.skip -= tag in ("script", "style")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def record_simple(store: VerdictStore, tenant: str, statuses: list[Status]) -> None:
    store.record_evaluation(
        tenant,
        evaluation(tenant, T1, [finding(f"app-{i}", Status.PASS) for i in range(len(statuses))]),
        run_info(),
    )
    store.record_evaluation(
        tenant,
        evaluation(tenant, T2, [finding(f"app-{i}", s) for i, s in enumerate(statuses)]),
        run_info(),
    )


# -- the tenant view ----------------------------------------------------------------------------


def test_tenant_view_shows_red_profiles_reasons_remediation_and_devices_at_risk(
    board: Dashboard, sample_tenant: str
) -> None:
    summary, devices = board.with_devices_at_risk(board.summary(sample_tenant))
    assert summary.readiness is Readiness.RED
    assert devices.error is None
    assert summary.profiles
    assert all(p.devices_at_risk is not None for p in summary.profiles)
    assert any(p.readiness is Readiness.RED and p.devices_at_risk for p in summary.profiles)
    paused = [f for f in summary.findings if f.rule_id == "GRP-002"]
    assert paused, [f.rule_id for f in summary.findings]
    assert paused[0].subject_id == AUTOPILOT_GROUP_ID
    assert paused[0].blocking
    assert paused[0].remediation  # the rule's Intune admin center path
    assert AUTOPILOT_GROUP_ID in paused[0].admin_url
    # Blocking findings come first, failures before unknowns.
    blocking = [f.blocking for f in summary.findings]
    assert blocking == sorted(blocking, reverse=True)

    response = page(board, "tenant", tenant=sample_tenant)
    assert response.status == 200
    shown = text_of(response.body)
    assert "Pre-provisioning profiles" in shown
    assert "Devices at risk" in shown
    assert paused[0].remediation.split()[0] in shown
    assert f'href="{paused[0].admin_url}"' in response.body.replace("&amp;", "&")
    assert 'id="chart"' in response.body
    assert "<polyline" in response.body


def test_tenant_view_narrows_to_one_profile_and_pages_findings(
    board: Dashboard, sample_tenant: str
) -> None:
    summary = board.summary(sample_tenant)
    profile = next(p for p in summary.profiles if p.readiness is Readiness.RED)
    response = page(board, "tenant", tenant=sample_tenant, profile=profile.profile_id)
    assert response.status == 200
    assert f"profile {profile.name}" in text_of(response.body)
    listed = re.findall(r'<tr class="finding" data-rule="([^"]+)"', response.body)
    expected = [f for f in summary.findings if f.scope_id in ("", profile.profile_id)]
    assert len(listed) == min(len(expected), 50)
    far = page(board, "tenant", tenant=sample_tenant, page="999")
    assert far.status == 200  # clamped to the last page
    assert page(board, "tenant", tenant=sample_tenant, page="abc").status == 400


def test_a_tenant_never_evaluated_is_unknown_never_green(board: Dashboard) -> None:
    tenant = str(uuid.uuid4())
    summary = board.summary(tenant)
    assert summary.readiness is Readiness.UNKNOWN
    assert summary.verdicts == 0
    response = page(board, "tenant", tenant=tenant)
    assert response.status == 200
    assert "nothing has been recorded yet, so readiness is unknown" in text_of(response.body)


def test_overview_lists_every_tenant_worst_first(
    table_service: TableServiceClient, store: VerdictStore, sample_tenant: str
) -> None:
    green, unknown, red_small = (str(uuid.uuid4()) for _ in range(3))
    record_simple(store, green, [Status.PASS, Status.PASS])
    record_simple(store, unknown, [Status.UNKNOWN, Status.PASS])
    record_simple(store, red_small, [Status.FAIL, Status.PASS])
    never = str(uuid.uuid4())
    tenants = [green, never, unknown, red_small, sample_tenant]
    board = Dashboard.over(table_service, guarded_tenants=tenants)
    order = [s.tenant_id for s in board.overview(board.tenants())]
    # Red first (most blocking first), then unknown (the never-evaluated one too), then green.
    assert order[:2] == [sample_tenant, red_small]
    assert set(order[2:4]) == {unknown, never}
    assert order[4] == green
    response = page(board, "")
    rows = re.findall(r'<tr data-tenant="([^"]+)"', response.body)
    assert rows == order


# -- the timeline -------------------------------------------------------------------------------


def test_timeline_shows_the_transition_with_who_caused_it_and_what_changed(
    board: Dashboard, sample_tenant: str
) -> None:
    response = page(board, "timeline", tenant=sample_tenant, rule="GRP-002")
    assert response.status == 200
    shown = text_of(response.body)
    assert f"{ACTOR}: Update group" in shown
    assert 'MembershipRuleProcessingState: "On" → "Paused"' in shown
    assert "pass → fail" in shown
    rules = set(re.findall(r'<tr class="transition" data-rule="([^"]+)"', response.body))
    assert rules == {"GRP-002"}


def test_timeline_filters_on_the_server_by_rule_subject_status_actor_and_time(
    board: Dashboard, store: VerdictStore, tenant_id: str, sample_tenant: str
) -> None:
    record_simple(store, tenant_id, [Status.FAIL, Status.UNKNOWN, Status.PASS])
    T3 = "2026-11-22T10:00:00Z"
    rules = (rule_metadata(), rule_metadata("APP-001"))
    for at, app9 in ((T3, Status.PASS), ("2026-11-23T10:00:00Z", Status.FAIL)):
        later = [
            finding("app-0", Status.PASS),
            finding("app-1", Status.UNKNOWN),
            finding("app-2", Status.PASS),
            finding("app-9", app9, "APP-001"),
        ]
        store.record_evaluation(tenant_id, evaluation(tenant_id, at, later, rules), run_info())

    def rows(**params: str) -> list[tuple[str, str]]:
        response = page(board, "timeline", tenant=tenant_id, **params)
        assert response.status == 200
        return re.findall(
            r'<tr class="transition" data-rule="([^"]+)" data-subject="([^"]+)"', response.body
        )

    everything = rows(since="2026-11-01T00:00:00Z")
    assert sorted(everything) == sorted(
        [("PRF-001", "app-0"), ("PRF-001", "app-1"), ("PRF-001", "app-0"), ("APP-001", "app-9")]
    )
    assert rows(since="2026-11-01T00:00:00Z", rule="APP-001") == [("APP-001", "app-9")]
    assert rows(since="2026-11-01T00:00:00Z", subject="app-0") == [("PRF-001", "app-0")] * 2
    assert rows(since="2026-11-01T00:00:00Z", status="unknown") == [("PRF-001", "app-1")]
    assert sorted(rows(since="2026-11-22T00:00:00Z")) == [
        ("APP-001", "app-9"),
        ("PRF-001", "app-0"),
    ]
    assert sorted(rows(since="2026-11-01T00:00:00Z", until="2026-11-21T23:00:00Z")) == [
        ("PRF-001", "app-0"),
        ("PRF-001", "app-1"),
    ]
    # Empty form fields are no filter.
    assert len(rows(since="2026-11-01T00:00:00Z", rule="", actor="")) == 4
    by_actor = page(board, "timeline", tenant=sample_tenant, actor=ACTOR, rule="GRP-002")
    shown = text_of(by_actor.body)
    assert f"Changes by {ACTOR}" in shown
    assert "GRP-002" in shown
    nobody = page(board, "timeline", tenant=sample_tenant, actor="nobody@example.com")
    assert "No change by this actor matches." in text_of(nobody.body)


def test_timeline_pages_with_the_store_continuation(
    board: Dashboard, store: VerdictStore, tenant_id: str
) -> None:
    record_simple(store, tenant_id, [Status.FAIL] * 5)
    seen: list[str] = []
    params = {"tenant": tenant_id, "pageSize": "2"}
    for _ in range(5):
        response = respond(board, LOCAL_PRINCIPAL, "timeline", params, base="/api/dashboard")
        seen += re.findall(r'data-subject="([^"]+)"', response.body)
        older = re.search(r'id="older" href="([^"]+)"', response.body)
        if older is None:
            break
        params = dict(parse_qsl(urlsplit(older.group(1).replace("&amp;", "&")).query))
    assert sorted(seen) == [f"app-{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("view", "params", "reason"),
    [
        ("tenant", {}, "tenant is required"),
        ("tenant", {"tenant": "not a tenant"}, "tenant must be"),
        ("timeline", {"tenant": "contoso.com", "rule": "nope"}, "rule must be"),
        (
            "timeline",
            {"tenant": "contoso.com", "pageSize": str(MAX_TIMELINE_PAGE_SIZE + 1)},
            "pageSize",
        ),
        ("timeline", {"tenant": "contoso.com", "since": "yesterday"}, "since must be"),
        (
            "timeline",
            {"tenant": "contoso.com", "since": T2, "until": T1},
            "since must not be after",
        ),
        ("timeline", {"tenant": "contoso.com", "continuation": "forged"}, "continuation"),
        ("timeline", {"tenant": "contoso.com", "color": "red"}, "unknown parameter"),
        ("device", {"tenant": "contoso.com", "serial": "a\x00b"}, "control characters"),
        ("tenant", {"tenant": "contoso.com", "page": "-1"}, "page must be"),
    ],
)
def test_bad_input_is_a_400_page_with_one_line(
    board: Dashboard, view: str, params: dict[str, str], reason: str
) -> None:
    response = respond(board, LOCAL_PRINCIPAL, view, params, base="")
    assert response.status == 400
    message = re.search(r'<p id="error">(.*?)</p>', response.body, re.S)
    assert message is not None
    assert reason in message.group(1)
    assert "\n" not in message.group(1)
    assert "Traceback" not in response.body


def test_unknown_page_is_404(board: Dashboard) -> None:
    assert page(board, "admin").status == 404


# -- devices ------------------------------------------------------------------------------------


def test_device_view_says_whether_a_serial_number_goes_green_and_why(
    board: Dashboard, sample_tenant: str
) -> None:
    index = board.devices(sample_tenant)
    assert index.error is None
    assert index.count
    at_risk = board.at_risk_page(index, None, 1).items
    red = next(d for d in at_risk if d.readiness is Readiness.RED and d.serial_number)
    response = page(board, "device", tenant=sample_tenant, serial=red.serial_number or "")
    shown = text_of(response.body)
    assert "No: the blockers below stop it." in shown
    assert red.blockers[0].message in shown
    missing = page(board, "device", tenant=sample_tenant, serial="NOT-A-SERIAL")
    assert "No registered Autopilot device has this serial number" in text_of(missing.body)


def test_device_view_without_a_mirror_is_unknown_not_green(
    board: Dashboard, store: VerdictStore, tenant_id: str
) -> None:
    record_simple(store, tenant_id, [Status.PASS])
    response = page(board, "device", tenant=tenant_id, serial="ABC123")
    assert "Not known: no mirror of this tenant yet" in text_of(response.body)
    assert 'class="badge s-unknown"' in response.body


# -- hostile tenant text ------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["tenant", "timeline", "device"])
def test_hostile_tenant_text_renders_as_text(
    table_service: TableServiceClient, hostile_tenant: str, view: str
) -> None:
    board = Dashboard.over(table_service, guarded_tenants=[hostile_tenant])
    params = {"tenant": hostile_tenant} if view else {}
    if view == "device":
        params["serial"] = HOSTILE_NAME
    response = respond(board, LOCAL_PRINCIPAL, view, params, base="")
    assert response.status == 200
    body = response.body
    assert len(re.findall(r"<script", body, re.I)) == 1  # only the page's own, nonce'd script
    assert "<img" not in body
    assert "onerror=alert" not in body.replace("onerror=alert(1)&gt;", "")
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", body, re.I)
    if view in ("tenant", "timeline"):
        shown = text_of(body)
        assert HOSTILE_NAME in shown
        assert HOSTILE_URL in shown
    if view == "timeline":
        assert HOSTILE_ACTOR in text_of(body)


def test_pages_carry_a_strict_content_security_policy(board: Dashboard) -> None:
    response = page(board, "")
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in response.body
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "http://" not in response.body
    assert "https://" not in response.body


# -- who sees what ------------------------------------------------------------------------------


def principal_header(roles: list[str], name: str = "jane@contoso.com") -> str:
    claims = [{"typ": "roles", "val": role} for role in roles] + [{"typ": "name", "val": name}]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(document).encode()).decode()


EASY_AUTH = {access.AUTH_ENABLED_SETTING: "True"}


def test_principal_header_is_never_trusted_without_easy_auth() -> None:
    forged = {"X-MS-CLIENT-PRINCIPAL": principal_header([access.ALL_TENANTS_ROLE])}
    with pytest.raises(AccessDenied) as denied:
        access.principal_from_headers(forged, {})
    assert denied.value.status == 403
    with pytest.raises(AccessDenied) as missing:
        access.principal_from_headers({}, EASY_AUTH)
    assert missing.value.status == 401
    for garbage in ("not base64!", base64.b64encode(b"[1,2]").decode(), "e30="):
        with pytest.raises(AccessDenied):
            access.principal_from_headers({"x-ms-client-principal": garbage}, EASY_AUTH)


def test_app_roles_decide_which_tenants_a_user_sees(
    table_service: TableServiceClient, sample_tenant: str, hostile_tenant: str
) -> None:
    board = Dashboard.over(table_service, guarded_tenants=[sample_tenant, hostile_tenant])
    one = access.principal_from_headers(
        {
            "X-MS-CLIENT-PRINCIPAL": principal_header(
                [f"Greenscreen.Reader.{sample_tenant.upper()}"]
            )
        },
        EASY_AUTH,
    )
    assert one.name == "jane@contoso.com"
    assert not one.all_tenants
    overview = page(board, "", one)
    assert re.findall(r'<tr data-tenant="([^"]+)"', overview.body) == [sample_tenant]
    assert page(board, "tenant", one, tenant=sample_tenant).status == 200
    for view in ("tenant", "timeline", "device"):
        refused = page(board, view, one, tenant=hostile_tenant)
        assert refused.status == 403
        assert HOSTILE_NAME not in refused.body
    msp = access.principal_from_headers(
        {"X-MS-CLIENT-PRINCIPAL": principal_header([access.ALL_TENANTS_ROLE])}, EASY_AUTH
    )
    listed = re.findall(r'<tr data-tenant="([^"]+)"', page(board, "", msp).body)
    assert set(listed) == {sample_tenant, hostile_tenant}
    nobody = access.principal_from_headers(
        {"X-MS-CLIENT-PRINCIPAL": principal_header(["Some.Other.Role"])}, EASY_AUTH
    )
    assert 'id="no-tenants"' in page(board, "", nobody).body


# -- through the Functions programming model ----------------------------------------------------


@pytest.fixture
def dashboard_app(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, sample_tenant: str
) -> Iterator[None]:
    import function_app

    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("TENANTS", json.dumps([{"tenantId": sample_tenant}]))
    monkeypatch.setenv(access.AUTH_ENABLED_SETTING, "True")
    function_app._dashboard.cache_clear()
    yield
    function_app._dashboard.cache_clear()


def get(url: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """Route a dashboard URL as the Functions host would (`dashboard/{*view}`)."""
    split = urlsplit(url)
    view = split.path.removeprefix("/api/dashboard").strip("/")
    request = func.HttpRequest(
        method="GET",
        url=url,
        params=dict(parse_qsl(split.query)),
        headers=headers or {},
        route_params={"view": view} if view else {},
        body=b"",
    )
    name = "dashboard_view" if view else "dashboard"
    response: func.HttpResponse = user_function(name)(request)
    return response


def test_functions_serve_the_dashboard_only_to_a_signed_in_user_with_a_role(
    dashboard_app: None, sample_tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_in = {"X-MS-CLIENT-PRINCIPAL": principal_header([access.ALL_TENANTS_ROLE])}
    overview = get("/api/dashboard", signed_in)
    assert overview.status_code == 200
    assert overview.mimetype == "text/html"
    assert sample_tenant in overview.get_body().decode()
    assert "Content-Security-Policy" in overview.headers
    assert get("/api/dashboard/tenant?tenant=" + sample_tenant).status_code == 401
    monkeypatch.delenv(access.AUTH_ENABLED_SETTING)
    forged = get("/api/dashboard/tenant?tenant=" + sample_tenant, signed_in)
    assert forged.status_code == 403
    assert sample_tenant not in forged.get_body().decode().split("<main>")[1]


def test_the_cards_history_button_opens_the_matching_timeline(
    dashboard_app: None, sample_tenant: str
) -> None:
    links = HistoryLinks("https://greenscreen-contoso.azurewebsites.net")
    url = links.history_url(sample_tenant, "GRP-002", AUTOPILOT_GROUP_ID)
    split = urlsplit(url)
    assert split.path == "/api/dashboard/timeline"
    signed_in = {"X-MS-CLIENT-PRINCIPAL": principal_header([f"Greenscreen.Reader.{sample_tenant}"])}
    response = get(f"{split.path}?{split.query}", signed_in)
    assert response.status_code == 200
    body = response.get_body().decode()
    assert set(re.findall(r'data-subject="([^"]+)"', body)) == {AUTOPILOT_GROUP_ID}
    assert f"{ACTOR}: Update group" in text_of(body)
    tenant_page = urlsplit(links.tenant_url(sample_tenant))
    assert get(f"{tenant_page.path}?{tenant_page.query}", signed_in).status_code == 200


def test_functions_answer_503_naming_the_missing_storage_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import function_app

    monkeypatch.delenv("GREENSCREEN_STORAGE_CONNECTION", raising=False)
    monkeypatch.delenv("GREENSCREEN_STORAGE_TABLE_URL", raising=False)
    monkeypatch.setenv(access.AUTH_ENABLED_SETTING, "True")
    function_app._dashboard.cache_clear()
    try:
        response = get("/api/dashboard", {"X-MS-CLIENT-PRINCIPAL": principal_header([])})
    finally:
        function_app._dashboard.cache_clear()
    assert response.status_code == 503
    assert "GREENSCREEN_STORAGE_CONNECTION" in response.get_body().decode()


# -- the loopback server ------------------------------------------------------------------------


def test_serve_binds_loopback_only() -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):  # noqa: S104 - refused
        with pytest.raises(NotLoopbackError):
            check_loopback(host)


def test_serve_command_refuses_a_network_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert greenscreen(["serve", "--host", "0.0.0.0"]) == 2  # noqa: S104 - refused
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "loopback" in error


def test_loopback_server_serves_pages_and_refuses_other_host_names(
    board: Dashboard, sample_tenant: str
) -> None:
    with serving(board) as url:
        host, port = urlsplit(url).hostname or "", urlsplit(url).port or 0

        def fetch(path: str, host_header: str) -> tuple[int, str]:
            connection = http.client.HTTPConnection(host, port, timeout=30)
            connection.request("GET", path, headers={"Host": host_header})
            answer = connection.getresponse()
            body = answer.read().decode()
            connection.close()
            return answer.status, body

        status, body = fetch(f"/tenant?tenant={sample_tenant}", f"127.0.0.1:{port}")
        assert status == 200
        assert f"Tenant {sample_tenant}" in body
        assert fetch("/", f"localhost:{port}")[0] == 200
        # DNS rebinding: a name that resolves to loopback is still not a loopback name.
        assert fetch("/", f"attacker.example:{port}")[0] == 421


# -- accessibility basics -----------------------------------------------------------------------


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, two: str) -> float:
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_status_colours_meet_wcag_aa_contrast(board: Dashboard, sample_tenant: str) -> None:
    body = page(board, "tenant", tenant=sample_tenant).body
    for name, (background, foreground) in STATUS_COLOURS.items():
        assert contrast(background, foreground) >= 4.5, name
        assert f".s-{name} {{ background: {background}; color: {foreground}; }}" in body
    assert contrast(PAGE_COLOURS["text"], PAGE_COLOURS["background"]) >= 7
    assert contrast(PAGE_COLOURS["muted"], PAGE_COLOURS["background"]) >= 4.5
    # The red line of the chart against the page (non-text contrast: 3:1).
    assert contrast(STATUS_COLOURS["red"][0], PAGE_COLOURS["background"]) >= 3


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.fields: list[dict[str, str | None]] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag in ("input", "select") and attributes.get("type") != "hidden":
            self.fields.append(attributes)
        if tag == "label" and attributes.get("for"):
            self.labels.add(str(attributes["for"]))


@pytest.mark.parametrize(
    ("view", "params"),
    [("", {}), ("tenant", {}), ("timeline", {}), ("device", {"serial": "NOPE"})],
)
def test_headings_are_in_order_and_every_field_has_a_label(
    table_service: TableServiceClient, sample_tenant: str, view: str, params: dict[str, str]
) -> None:
    board = Dashboard.over(table_service, guarded_tenants=[sample_tenant])
    query: dict[str, Any] = {"tenant": sample_tenant, **params} if view else {}
    outline = _Outline()
    outline.feed(respond(board, LOCAL_PRINCIPAL, view, query, base="").body)
    assert outline.headings[0] == 1
    assert outline.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(outline.headings, outline.headings[1:], strict=False))
    for field in outline.fields:
        assert field.get("id") in outline.labels, field


def test_greenscreen_serve_serves_the_store_until_sigterm(
    azurite: Azurite, sample_tenant: str, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "GREENSCREEN_STORAGE_CONNECTION": azurite.table_connection,
        "TENANTS": json.dumps([{"tenantId": sample_tenant}]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "monitors.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", announced)
        assert url is not None, announced + (process.stderr.read() if process.stderr else "")
        with urllib.request.urlopen(f"{url.group(1)}tenant?tenant={sample_tenant}") as answer:
            assert answer.status == 200
            assert f"Tenant {sample_tenant}" in answer.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serve_with_a_missing_azurite_directory_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert greenscreen(["serve", "--azurite", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "not a directory" in error


def test_a_new_evaluation_replaces_the_cached_summary(
    board: Dashboard, store: VerdictStore, tenant_id: str
) -> None:
    record_simple(store, tenant_id, [Status.FAIL, Status.PASS])
    assert board.summary(tenant_id).readiness is Readiness.RED
    assert board.summary(tenant_id).readiness is Readiness.RED  # served from the cache
    fixed = [finding("app-0", Status.PASS), finding("app-1", Status.PASS)]
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, "2026-11-22T10:00:00Z", fixed), run_info()
    )
    assert board.summary(tenant_id).readiness is Readiness.GREEN
    shown = text_of(page(board, "tenant", tenant=tenant_id).body)
    assert "Nothing fails and nothing is unknown" in shown


def test_the_demo_ends_with_the_dashboard_of_the_sample_tenant_and_its_url(
    azurite: Azurite, sample_tenant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from samples.demo_dashboard import show_dashboard

    assert show_dashboard(azurite.table_connection, sample_tenant) == 0
    output = capsys.readouterr().out
    assert f"Dashboard: tenant {sample_tenant} is red with" in output
    (line,) = [line for line in output.splitlines() if "GRP-002" in line]
    assert line.endswith(f"pass → fail, caused by {ACTOR}")
    lines = output.rstrip().splitlines()
    assert lines[-2].strip().startswith("$ greenscreen serve --azurite out/demo-storage")
    assert lines[-1].strip() == f"http://127.0.0.1:8765/tenant?tenant={sample_tenant}"


def test_storage_out_of_reach_is_a_503_page_naming_no_account() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    service = TableServiceClient.from_connection_string(connection, retry_total=0)
    board = Dashboard.over(service, guarded_tenants=["contoso.com"])
    for view, params in (("", {}), ("tenant", {"tenant": "contoso.com"})):
        response = respond(board, LOCAL_PRINCIPAL, view, params, base="")
        assert response.status == 503
        assert "storage is unavailable; retry later" in response.body
        assert str(port) not in response.body


def serve_in_a_process(arguments: list[str], environment: dict[str, str], cwd: Path) -> Any:
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "monitors.cli", "serve", "--port", "0", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=cwd,
    )


def test_serve_azurite_brings_back_the_storage_a_demo_left(tmp_path: Path) -> None:
    from tests.azurite import persistent_azurite

    storage = tmp_path / "demo-storage"
    tenant = str(uuid.uuid4())
    with persistent_azurite(storage) as azurite:
        service = TableServiceClient.from_connection_string(azurite.ports.table_connection)
        left = VerdictStore(service)
        left.ensure_tables()
        record_simple(left, tenant, [Status.FAIL])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GREENSCREEN_")}
    environment.pop("TENANTS", None)
    process = serve_in_a_process(["--azurite", str(storage)], environment, ROOT)
    try:
        announced = process.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", announced)
        assert url is not None, announced + process.stderr.read()
        assert "(1 tenants;" in announced
        with urllib.request.urlopen(url.group(1)) as answer:
            assert f'data-tenant="{tenant}"' in answer.read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    # Its Azurite stopped with it: no process runs on the directory any more.
    assert not [
        path
        for path in Path("/proc").glob("[0-9]*/cmdline")
        if str(storage).encode() in _read_or_empty(path)
    ]


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended while we looked
        return b""
