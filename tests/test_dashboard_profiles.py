"""The dashboard judges each profile exactly as `greenscreen check` reports it.

The Contoso sample plus a kiosk profile that does not allow pre-provisioning, in a tenant with
tenant-wide failures: the report shows the kiosk profile as not used for pre-provisioning (its
own findings pass) and names the rules behind every RED profile. The dashboard's tenant page,
served through the Functions route as a real `azure.functions.HttpRequest`, must show the same
per-profile verdicts: read from the readiness summary `check --store` writes, and from the
state scan when no summary matches (the mirror says which profiles allow pre-provisioning;
without a mirror that is not known, and a verdict that depends on it is unknown, not green).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from monitors.cli import main as greenscreen
from monitors.dashboard import access
from monitors.dashboard import summary as summaries
from monitors.guardrail.mirror import TenantMirror
from monitors.reports import profile_verdict
from monitors.reports.model import build_report
from monitors.snapshot_file import load_snapshot, write_snapshot
from monitors.store.records import RunInfo
from monitors.store.verdict_store import VerdictStore
from rules.catalog import all_rules
from rules.device_readiness import Readiness
from rules.engine import evaluate_snapshot
from rules.findings import Finding, Scope, Severity, Status
from rules.snapshot_model import TenantSnapshot
from tests.conftest import Azurite, evaluation, finding, rule_metadata
from tests.test_dashboard import get, principal_header

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "contoso-sample.json"
KIOSK_ID = "0d6c1f3e-5a1b-4c7e-9f0a-kiosk0000001"
KIOSK_NAME = "Contoso - Kiosk (self-deploying, no pre-provisioning)"
SIGNED_IN = {"X-MS-CLIENT-PRINCIPAL": principal_header([access.ALL_TENANTS_ROLE])}


def kiosk_tenant(tenant: str) -> dict[str, Any]:
    """The sample (tenant-wide failures included) plus a profile without pre-provisioning."""
    document = load_snapshot(SAMPLE)
    document["tenantId"] = tenant
    profiles = document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    kiosk = {**profiles[0], "id": KIOSK_ID, "displayName": KIOSK_NAME}
    kiosk.update(preprovisioningAllowed=False, enableWhiteGlove=False, assignments=[])
    profiles.append(kiosk)
    return document


class ProfileRows(HTMLParser):
    """The tenant page's profile rows: id -> (readiness, judged, the verdict note)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, bool, str]] = {}
        self._row: dict[str, str | None] | None = None
        self._note: list[str] = []
        self._in_note = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("class") == "profile":
            self._row, self._note = found, []
        elif tag == "span" and self._row is not None:
            self._in_note = "verdict-note" in (found.get("class") or "")

    def handle_data(self, data: str) -> None:
        if self._in_note:
            self._note.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._in_note = False
        elif tag == "tr" and self._row is not None:
            row = self._row
            self.rows[str(row["data-profile"])] = (
                str(row["data-readiness"]),
                row["data-judged"] == "true",
                " ".join("".join(self._note).split()),
            )
            self._row = None


def profile_rows(tenant: str) -> dict[str, tuple[str, bool, str]]:
    response = get(f"/api/dashboard/tenant?tenant={tenant}", SIGNED_IN)
    assert response.status_code == 200, response.get_body()[-400:]
    parser = ProfileRows()
    parser.feed(response.get_body().decode())
    return parser.rows


@pytest.fixture
def dashboard_for(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import function_app

    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv(access.AUTH_ENABLED_SETTING, "True")

    def serve(tenant: str) -> None:
        monkeypatch.setenv("TENANTS", json.dumps([{"tenantId": tenant}]))
        function_app._dashboard.cache_clear()

    yield serve
    function_app._dashboard.cache_clear()


def checked(tmp_path: Path, tenant: str, *, store: bool) -> tuple[dict[str, Any], Any]:
    """`greenscreen check`'s JSON report of the kiosk tenant, and the report model behind it."""
    path = tmp_path / "snapshot.json"
    write_snapshot(path, kiosk_tenant(tenant))
    out = tmp_path / "findings.json"
    arguments = ["check", "--snapshot", str(path), "--format", "json", "--out", str(out)]
    assert greenscreen([*arguments, *(["--store"] if store else [])]) == 1
    report_json = json.loads(out.read_text(encoding="utf-8"))
    snapshot = TenantSnapshot.from_document(load_snapshot(path))
    model = build_report(evaluate_snapshot(snapshot), snapshot, Severity.ERROR)
    return report_json, model


def expected_rows(report_json: dict[str, Any], model: Any) -> dict[str, tuple[str, bool, str]]:
    sections = {section.profile_id: section for section in model.profiles}
    return {
        profile["id"]: (
            profile["verdict"],
            sections[profile["id"]].judged,
            sections[profile["id"]].verdict_note(limit=len(sections[profile["id"]].red_by)),
        )
        for profile in report_json["profiles"]
    }


def _record(
    store: VerdictStore,
    snapshot: TenantSnapshot,
    rules: Any = None,
    *,
    summarize: bool = True,
    with_snapshot: bool = True,
) -> None:
    """Record an evaluation and write its summary, as the guardrail does after committing
    (`summarize=False`: as a version that wrote none)."""
    store.ensure_tables()
    done = evaluate_snapshot(snapshot, rules)
    result = store.record_evaluation(
        snapshot.tenant_id, done, RunInfo(str(uuid.uuid4()), "test", datetime.now(UTC), 1, 1)
    )
    if summarize:
        snapshot_given = snapshot if with_snapshot else None
        assert summaries.summarize_recorded(store, done, result, snapshot_given)


def test_the_report_itself_shows_the_kiosk_profile_not_used_and_names_red_rules(
    tmp_path: Path,
) -> None:
    report_json, model = checked(tmp_path, str(uuid.uuid4()), store=False)
    assert report_json["tenantWideVerdict"] == "red"  # the sample's tenant-wide failures
    expected = expected_rows(report_json, model)
    assert expected[KIOSK_ID] == ("green", False, "not used for pre-provisioning")
    red = [row for row in expected.values() if row[0] == "red"]
    assert len(red) == 3
    assert all("(tenant-wide)" in note and note.startswith("red by ") for _, _, note in red)


def test_the_tenant_page_from_the_summary_judges_profiles_as_the_report(
    tmp_path: Path,
    azurite: Azurite,
    dashboard_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    tenant = str(uuid.uuid4())
    report_json, model = checked(tmp_path, tenant, store=True)  # writes the summary
    dashboard_for(tenant)
    rows = profile_rows(tenant)
    assert rows == expected_rows(report_json, model)
    body = get(f"/api/dashboard/tenant?tenant={tenant}&profile={KIOSK_ID}", SIGNED_IN)
    text = body.get_body().decode()
    assert 'id="profile-verdict" data-readiness="green" data-judged="false"' in text
    assert "not used for pre-provisioning" in text


def test_the_state_scan_with_the_mirror_judges_profiles_as_the_report(
    tmp_path: Path, table_service: TableServiceClient, dashboard_for: Any
) -> None:
    tenant = str(uuid.uuid4())
    report_json, model = checked(tmp_path, tenant, store=False)
    document = kiosk_tenant(tenant)
    # Recorded without a summary (a version that wrote none): the page scans the state.
    _record(VerdictStore(table_service), TenantSnapshot.from_document(document), summarize=False)
    mirror = TenantMirror(table_service)
    mirror.ensure_table()
    mirror.save_snapshot(tenant, document)
    dashboard_for(tenant)
    response = get(f"/api/dashboard/tenant?tenant={tenant}", SIGNED_IN)
    assert 'id="source-scan"' in response.get_body().decode()
    assert profile_rows(tenant) == expected_rows(report_json, model)


def test_without_a_mirror_the_scan_says_unknown_where_the_verdict_depends_on_it(
    table_service: TableServiceClient, dashboard_for: Any
) -> None:
    tenant = str(uuid.uuid4())
    snapshot = TenantSnapshot.from_document(kiosk_tenant(tenant))
    _record(VerdictStore(table_service), snapshot, summarize=False)
    dashboard_for(tenant)
    rows = profile_rows(tenant)
    readiness, judged, note = rows[KIOSK_ID]
    assert (readiness, judged) == ("unknown", True)  # never green on a guess
    assert "whether it allows pre-provisioning is not known" in note
    # Failing by their own findings: red whichever way, naming their own rules only.
    others = [row for profile, row in rows.items() if profile != KIOSK_ID]
    assert others
    assert all(row[0] == "red" for row in others)
    assert all("(tenant-wide)" not in row[2] and "red by " in row[2] for row in others)


def test_a_summary_written_without_the_snapshot_does_not_guess_and_a_newer_one_decides(
    table_service: TableServiceClient, dashboard_for: Any
) -> None:
    tenant = str(uuid.uuid4())
    document = kiosk_tenant(tenant)
    document["capturedAt"] = "2026-11-20T10:00:00Z"
    store = VerdictStore(table_service)
    _record(store, TenantSnapshot.from_document(document), with_snapshot=False)
    dashboard_for(tenant)
    readiness, judged, note = profile_rows(tenant)[KIOSK_ID]
    assert (readiness, judged) == ("unknown", True)
    assert "whether it allows pre-provisioning is not known" in note
    # The next evaluation, with its snapshot: not used for pre-provisioning.
    document["capturedAt"] = "2026-11-20T12:00:00Z"
    _record(store, TenantSnapshot.from_document(document), with_snapshot=True)
    assert profile_rows(tenant)[KIOSK_ID] == ("green", False, "not used for pre-provisioning")
    # The kiosk profile now allows pre-provisioning: the profile rule re-evaluated on the
    # newer snapshot says so, and the kiosk inherits the tenant-wide failures.
    profiles = document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    profiles[-1].update(preprovisioningAllowed=True, enableWhiteGlove=True)
    document["capturedAt"] = "2026-11-21T10:00:00Z"
    prf_006 = [rule for rule in all_rules() if rule.metadata.id == "PRF-006"]
    _record(store, TenantSnapshot.from_document(document), prf_006, with_snapshot=True)
    readiness, judged, note = profile_rows(tenant)[KIOSK_ID]
    assert (readiness, judged) == ("red", True)
    assert note.startswith("red by ")
    assert "(tenant-wide)" in note


@pytest.mark.parametrize(
    ("own", "tenant_wide", "preprovisioning", "expected"),
    [
        (Readiness.GREEN, Readiness.RED, True, Readiness.RED),
        (Readiness.GREEN, Readiness.RED, False, Readiness.GREEN),
        (Readiness.GREEN, Readiness.RED, None, Readiness.UNKNOWN),
        (Readiness.GREEN, Readiness.GREEN, None, Readiness.GREEN),
        (Readiness.RED, Readiness.GREEN, None, Readiness.RED),
        (Readiness.UNKNOWN, Readiness.RED, False, Readiness.UNKNOWN),
        (Readiness.UNKNOWN, Readiness.GREEN, None, Readiness.UNKNOWN),
    ],
)
def test_the_profile_rule(
    own: Readiness, tenant_wide: Readiness, preprovisioning: bool | None, expected: Readiness
) -> None:
    assert profile_verdict.profile_readiness(own, tenant_wide, preprovisioning) is expected


def test_the_summary_takes_a_profiles_pre_provisioning_from_the_newest_evaluation(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    first, second = rule_metadata("PRF-001"), rule_metadata("PRF-002")
    document = kiosk_tenant(tenant)
    not_allowed = TenantSnapshot.from_document(document)
    profiles = document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    profiles[-1].update(preprovisioningAllowed=True, enableWhiteGlove=True)
    allowed = TenantSnapshot.from_document(document)

    def kiosk_passes(rule_id: str) -> Finding:
        return replace(finding("app-1", Status.PASS, rule_id), scope=Scope(KIOSK_ID, KIOSK_NAME))

    t1, t2 = "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z"
    newer = evaluation(tenant, t2, [kiosk_passes("PRF-001")], (first,))
    older = evaluation(tenant, t1, [kiosk_passes("PRF-001"), kiosk_passes("PRF-002")])
    older = replace(older, rules=(first, second))
    # Written newest first: the older evaluation's PRF-001 is refused, its PRF-002 written.
    summaries.write_summary(table_service, newer, "run-2", snapshot=allowed)
    assert summaries.write_summary(table_service, older, "run-1", snapshot=not_allowed).refused
    found = summaries.read_summary(table_service, tenant, {"PRF-001": t2, "PRF-002": t1})
    assert found is not None
    assert found.preprovisioning == {KIOSK_ID: True}
    # Written without a snapshot, an entity does not say it.
    summaries.write_summary(
        table_service,
        evaluation(
            tenant, "2026-11-22T10:00:00Z", [kiosk_passes("PRF-003")], (rule_metadata("PRF-003"),)
        ),
        "run-3",
    )
    alone = summaries.read_summary(table_service, tenant, {"PRF-003": "2026-11-22T10:00:00Z"})
    assert alone is not None
    assert alone.preprovisioning == {}


def _api_profiles(store: VerdictStore, tenant: str) -> dict[str, tuple[str, bool, str]]:
    """`GET /api/readiness`'s profiles as the dashboard's rows: (readiness, judged, note)."""
    from monitors import http_api

    response = http_api.readiness({"tenant": tenant}, store)
    assert response.status == 200, response.body
    return {
        p["profileId"]: (
            p["readiness"],
            profile_verdict.judged(Readiness(p["readiness"]), p["preprovisioning"]),
            p["note"],
        )
        for p in response.body["profiles"]
    }


def _gauges(store: VerdictStore, tenant: str) -> dict[str, float]:
    """The readiness gauge per profile, as the guardrail reports it after a transition."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from monitors.telemetry import names
    from monitors.telemetry.evaluation import record_readiness
    from monitors.telemetry.instruments import use_providers

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    use_providers(None, provider)
    try:
        record_readiness(tenant, store)
        data = reader.get_metrics_data()
    finally:
        use_providers(None, None)
        provider.shutdown()
    return {
        dict(point.attributes or {})[names.PROFILE_ID]: point.value
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == names.METRIC_READINESS
        for point in metric.data.data_points
        if dict(point.attributes or {})[names.TENANT_ID] == tenant
    }


def test_the_readiness_api_and_its_gauges_judge_profiles_as_the_report(
    tmp_path: Path, table_service: TableServiceClient
) -> None:
    tenant = str(uuid.uuid4())
    report_json, model = checked(tmp_path, tenant, store=False)
    document = kiosk_tenant(tenant)
    store = VerdictStore(table_service)
    _record(store, TenantSnapshot.from_document(document), summarize=False)
    mirror = TenantMirror(table_service)
    mirror.ensure_table()
    mirror.save_snapshot(tenant, document)
    expected = expected_rows(report_json, model)
    # The kiosk profile is green on its own findings: the tenant-wide failures do not reach it.
    assert _api_profiles(store, tenant) == expected
    gauges = _gauges(store, tenant)
    assert gauges[KIOSK_ID] == 1.0
    assert {p: v for p, v in gauges.items() if p} == {
        profile: 1.0 if row[0] == "green" else 0.0 for profile, row in expected.items()
    }


def test_without_a_mirror_the_readiness_api_says_unknown_where_it_depends_on_it(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    store = VerdictStore(table_service)
    _record(store, TenantSnapshot.from_document(kiosk_tenant(tenant)), summarize=False)
    TenantMirror(table_service).ensure_table()
    profiles = _api_profiles(store, tenant)
    readiness, judged, note = profiles[KIOSK_ID]
    assert (readiness, judged) == ("unknown", True)  # never green on a guess
    assert "whether it allows pre-provisioning is not known" in note
    from monitors import http_api

    body = http_api.readiness({"tenant": tenant}, store).body
    [kiosk] = [p for p in body["profiles"] if p["profileId"] == KIOSK_ID]
    assert (kiosk["ready"], kiosk["preprovisioning"]) == (None, None)
    assert KIOSK_ID not in _gauges(store, tenant)  # unknown: a 0/1 gauge does not say it
