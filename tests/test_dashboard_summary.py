"""The readiness summary: written by the real evaluation paths, read by the dashboard's pages.

The guardrail's `process_change` (a full read, then changes) over Azurite and the simulator and
`greenscreen check --store` write it; the pages read it and neither scan the state partition
nor load the mirror; a stale writer cannot overwrite a newer summary; a summary behind the
committed evaluation, or none at all, makes the pages fall back to the state scan.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any, NoReturn

import pytest
from azure.data.tables import TableServiceClient

from monitors.cli import main as greenscreen
from monitors.dashboard import summary as summaries
from monitors.dashboard.access import LOCAL_PRINCIPAL
from monitors.dashboard.pages import PageResponse, respond
from monitors.dashboard.views import Dashboard, DeviceIndex, TenantSummary
from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.queues import ChangeMessage
from monitors.snapshot_file import load_snapshot, write_snapshot
from monitors.store.keys import format_time, parse_time, tenant_key
from monitors.store.verdict_store import VerdictStore
from rules import tenant_collections as tc
from rules.applicability import Certainty
from rules.device_readiness import DeviceBlocker, DeviceReadiness, Readiness
from rules.findings import Finding, Scope, Severity, Status, Subject
from tests.azurite import Azurite
from tests.conftest import evaluation, finding, rule_metadata, run_info
from tests.dashboard_data import seed_sample_tenant
from tests.graphsim import GraphSimulator
from tests.test_dashboard import text_of
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    empty_queues,  # noqa: F401 - fixture
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
SCRIPT = "8a9c5f52-f48d-5528-a3b6-fb3a21252bde"  # "Regional settings"
T1, T2, T3 = "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z"
PAUSE = {
    "format": "greenscreen.tenant-changes/1",
    "changes": [
        {"op": "setGroupRule", "id": ALL_DEVICES_GROUP, "membershipRuleProcessingState": "Paused"}
    ],
}


def _never(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError("the page read the whole state partition or the mirror")


def summary_only(service: TableServiceClient, tenant: str) -> Dashboard:
    """A dashboard whose state scan and mirror load fail the test if a page uses them."""
    board = Dashboard.over(service, guarded_tenants=[tenant])
    board.store.current_state = _never  # type: ignore[method-assign]
    board.mirror.load = _never  # type: ignore[method-assign]
    return board


def page(board: Dashboard, view: str, **params: str) -> PageResponse:
    response = respond(board, LOCAL_PRINCIPAL, view, params, base="")
    assert response.status == 200, response.body[-400:]
    return response


def comparable(summary: TenantSummary) -> dict[str, Any]:
    """What the pages show of a tenant summary, whichever way it was made."""
    return {
        "readiness": summary.readiness,
        "failing": summary.failing,
        "unknown": summary.unknown,
        "blocking": summary.blocking,
        "tenant_wide": summary.tenant_wide,
        "profiles": sorted(
            (p.profile_id, p.readiness, p.failing, p.unknown) for p in summary.profiles
        ),
        "findings": sorted(
            (f.rule_id, f.scope_id, f.subject_id, f.status, f.severity, f.message, f.reasons)
            for f in summary.findings
        ),
    }


def scanned(service: TableServiceClient, tenant: str) -> TenantSummary:
    """Today's path: the tenant's state partition scanned."""
    return Dashboard.over(service)._summary(tenant_key(tenant))


def process(services: Services, message: ChangeMessage) -> None:  # noqa: F811
    process_change_text(services, message.to_text())


def service_of(azurite: Azurite) -> TableServiceClient:
    return TableServiceClient.from_connection_string(azurite.table_connection)


def stored_rule_times(service: TableServiceClient, tenant: str) -> dict[str, str]:
    table = service.get_table_client(summaries.SUMMARY_TABLE)
    return {
        str(e["Rule"]): str(e["EvaluatedAt"])
        for e in table.query_entities(
            "PartitionKey eq @pk and RowKey ge 'rule|' and RowKey lt 'rule}'",
            parameters={"pk": tenant_key(tenant)},
            select=["Rule", "EvaluatedAt"],
        )
    }


# -- written by the guardrail, read by the pages ----------------------------------------------


def test_guardrail_full_read_writes_the_summary_the_pages_read_alone(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    service = service_of(azurite)
    board = summary_only(service, tenant)
    summary = board.summary(tenant)
    assert summary.source == "summary"
    assert comparable(summary) == comparable(scanned(service, tenant))
    assert summary.readiness is Readiness.RED  # the sample has deliberate problems
    tenant_page = page(board, "tenant", tenant=tenant)
    assert 'id="source-scan"' not in tenant_page.body
    assert 'id="devices"' in tenant_page.body  # devices at risk from the stored pages
    index = board.devices(tenant)
    assert index.stored is not None
    red = next(d for d in board.at_risk_page(index, None, 1).items if d.serial_number)
    device_page = page(board, "device", tenant=tenant, serial=red.serial_number or "")
    assert red.blockers[0].message in text_of(device_page.body)
    overview = page(board, "")
    assert f'data-tenant="{tenant_key(tenant)}"' in overview.body


def test_a_change_replaces_its_rules_only_and_the_pages_still_match_the_state(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    service = service_of(azurite)
    baseline = stored_rule_times(service, tenant)
    simulator.apply_changes(PAUSE)
    process(services, ChangeMessage.create(tenant, "delta", "group", {"id": ALL_DEVICES_GROUP}))
    after = stored_rule_times(service, tenant)
    moved = {rule for rule in after if after[rule] != baseline[rule]}
    assert "GRP-002" in moved
    assert moved < set(after)  # the rules that do not read groups keep the baseline's entity
    board = summary_only(service, tenant)
    summary = board.summary(tenant)
    assert summary.source == "summary"
    assert comparable(summary) == comparable(scanned(service, tenant))
    assert ("GRP-002", ALL_DEVICES_GROUP) in {(f.rule_id, f.subject_id) for f in summary.findings}
    # Targeting changed (a group): the stored per-device readiness no longer stands for it, and
    # the device view computes it from the mirror instead (never an out-of-date green).
    fallback = Dashboard.over(service, guarded_tenants=[tenant])
    assert fallback.devices(tenant).stored is None
    assert fallback.devices(tenant).devices  # from the mirror and the rules


def test_a_change_no_device_verdict_depends_on_keeps_the_stored_devices_current(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    service = service_of(azurite)
    before = stored_rule_times(service, tenant)
    message = ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.PLATFORM_SCRIPTS, "id": SCRIPT}
    )
    process(services, message)
    after = stored_rule_times(service, tenant)
    assert any(after[rule] != before[rule] for rule in after)  # the script's rules re-evaluated
    board = summary_only(service, tenant)
    assert board.devices(tenant).stored is not None
    assert 'id="devices"' in page(board, "tenant", tenant=tenant).body


# -- written by `greenscreen check --store` ---------------------------------------------------


def test_check_store_writes_the_summary_and_the_device_readiness(
    azurite: Azurite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    document = load_snapshot(SAMPLE)
    tenant = str(uuid.uuid4())
    document["tenantId"] = tenant
    path = tmp_path / "snapshot.json"
    write_snapshot(path, document)
    out = tmp_path / "findings.json"
    assert greenscreen(["check", "--snapshot", str(path), "--store", "--out", str(out)]) == 1
    assert "recorded:" in capsys.readouterr().err
    service = service_of(azurite)
    board = summary_only(service, tenant)
    summary = board.summary(tenant)
    assert summary.source == "summary"
    assert comparable(summary) == comparable(scanned(service, tenant))
    assert board.devices(tenant).stored is not None


# -- stale writers, stale summaries, no summary -----------------------------------------------


def test_a_stale_writer_cannot_overwrite_a_newer_summary(table_service: TableServiceClient) -> None:
    tenant = str(uuid.uuid4())
    newer = evaluation(tenant, T2, [finding("app-1", Status.FAIL)])
    older = evaluation(tenant, T1, [finding("app-1", Status.PASS)])
    assert summaries.write_summary(table_service, newer, "run-2").written
    stale = summaries.write_summary(table_service, older, "run-1")
    assert stale.refused
    assert not stale.written
    found = summaries.read_summary(table_service, tenant, {rule_metadata().id: T2})
    assert found is not None
    assert found.counts["profile-1"] == {"fail": 1, "blocking_fail": 1}


def test_racing_writers_leave_the_newest_evaluation(table_service: TableServiceClient) -> None:
    tenant = str(uuid.uuid4())
    times = [f"2026-11-2{day}T10:00:00Z" for day in range(8)]
    barrier = threading.Barrier(len(times))

    def write(at: str) -> None:
        barrier.wait()
        summaries.write_summary(
            table_service, evaluation(tenant, at, [finding("a", Status.FAIL)]), at
        )

    threads = [threading.Thread(target=write, args=(at,)) for at in times]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = stored_rule_times(table_service, tenant)
    assert {rule: parse_time(at) for rule, at in stored.items()} == {
        rule_metadata().id: parse_time(times[-1])
    }


def test_a_summary_behind_the_committed_evaluation_is_not_read(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    store = VerdictStore(table_service)
    failing = evaluation(tenant, T1, [finding("app-1", Status.FAIL)])
    result = store.record_evaluation(tenant, failing, run_info())
    summaries.summarize_recorded(store, failing, result)
    board = Dashboard.over(table_service, guarded_tenants=[tenant])
    assert board.summary(tenant).readiness is Readiness.RED
    # Recorded by a writer that wrote no summary (an older version, or one that died after
    # committing): the summary no longer matches the head, and the pages scan instead.
    store.record_evaluation(
        tenant, evaluation(tenant, T2, [finding("app-1", Status.PASS)]), run_info()
    )
    summary = board.summary(tenant)
    assert summary.source == "scan"
    assert summary.readiness is Readiness.GREEN
    assert 'id="source-scan"' in page(board, "tenant", tenant=tenant).body


def test_without_a_summary_the_pages_fall_back_to_the_state_and_show_the_same(
    table_service: TableServiceClient,
) -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    seed_sample_tenant(table_service, old, summarize=False)
    seed_sample_tenant(table_service, new)
    board = Dashboard.over(table_service, guarded_tenants=[old, new])
    fallback, summarized = board.summary(old), board.summary(new)
    assert (fallback.source, summarized.source) == ("scan", "summary")
    assert comparable(fallback) == comparable(summarized)
    body = page(board, "tenant", tenant=old).body
    assert 'id="source-scan"' in body
    assert 'id="findings"' in body
    assert board.devices(old).stored is None
    assert board.devices(old).devices  # the mirror loaded and the rules run, as before


def test_a_summary_of_another_format_is_not_read(table_service: TableServiceClient) -> None:
    tenant = str(uuid.uuid4())
    store = VerdictStore(table_service)
    failing = evaluation(tenant, T1, [finding("app-1", Status.FAIL)])
    summaries.summarize_recorded(
        store, failing, store.record_evaluation(tenant, failing, run_info())
    )
    table = table_service.get_table_client(summaries.SUMMARY_TABLE)
    entity = table.get_entity(tenant_key(tenant), "rule|" + rule_metadata().id)
    table.update_entity({**entity, "Counts": "not json"})
    assert summaries.read_summary(table_service, tenant, {rule_metadata().id: T1}) is None
    assert Dashboard.over(table_service).summary(tenant).source == "scan"


# -- bounded: table limits, pages --------------------------------------------------------------


def test_thousands_of_long_findings_fit_the_entity_and_property_limits(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    meta = rule_metadata()
    findings = [
        Finding(
            rule_id=meta.id,
            status=Status.FAIL if i % 3 else Status.UNKNOWN,
            severity=Severity.ERROR,
            subject=Subject("mobileApp", f"app-{i}", "é" * 300),
            message="m" * 1_900,
            reasons=tuple("r" * 1_900 for _ in range(10)),
            scope=Scope(f"profile-{i % 40}", f"Profile {i % 40}"),
        )
        for i in range(3_000)
    ]
    written = summaries.write_summary(table_service, evaluation(tenant, T1, findings, (meta,)), "r")
    assert written.written == (meta.id,)
    entity = table_service.get_table_client(summaries.SUMMARY_TABLE).get_entity(
        tenant_key(tenant), "rule|" + meta.id
    )
    assert max(len(v) for v in entity.values() if isinstance(v, str)) <= 32_768
    found = summaries.read_summary(table_service, tenant, {meta.id: T1})
    assert found is not None
    assert sum(c.get("fail", 0) + c.get("unknown", 0) for c in found.counts.values()) == 3_000
    assert 0 < len(found.findings) < 3_000
    per_scope: dict[str, int] = {}
    for kept in found.findings:
        per_scope[kept.scope_id] = per_scope.get(kept.scope_id, 0) + 1
    assert max(per_scope.values()) <= summaries.PER_SCOPE
    assert len(per_scope) == 40  # every profile keeps some: none crowded out


def _device(number: int, readiness: Readiness, profile: str) -> DeviceReadiness:
    return DeviceReadiness(
        device_id=f"device-{number}",
        serial_number=f"SN{number:05d}",
        display_name=f"PC-{number}",
        group_tag=None,
        profile_id=profile,
        profile_name=profile.title(),
        profile_certainty=Certainty.CERTAIN,
        competing_profiles=(),
        profile_reasons=(),
        assignment_status="assignedInSync",
        assigned_profile_name=profile.title(),
        groups=(),
        blockers=(
            ()
            if readiness is Readiness.GREEN
            else (DeviceBlocker(Status.FAIL, Severity.ERROR, f"blocker of {number}", "GRP-002"),)
        ),
        readiness=readiness,
    )


def test_stored_devices_page_across_chunks_and_answer_by_serial(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    devices = [
        _device(i, Readiness.GREEN if i % 4 == 0 else Readiness.RED, f"p{i % 2}")
        for i in range(1_400)
    ]
    meta = rule_metadata()
    assert summaries.write_devices(
        table_service, tenant, devices, evaluation(tenant, T1, [], (meta,)), "run"
    )
    head = summaries.read_devices_head(table_service, tenant, {meta.id: T1})
    assert head is not None
    assert summaries.read_devices_head(table_service, tenant, {meta.id: T2}) is None  # stale
    board = Dashboard.over(table_service)
    index = DeviceIndex(stored=head)
    expected = sorted(
        (d for d in devices if d.readiness is not Readiness.GREEN),
        key=lambda d: d.serial_number or "",
    )
    for page_number in (10, 11, 21):  # the chunk of 500 ends inside page 11
        shown = board.at_risk_page(index, None, page_number)
        start = (page_number - 1) * 50
        assert [d.serial_number for d in shown.items] == [
            d.serial_number for d in expected[start : start + 50]
        ]
        assert shown.total == len(expected)
    of_p1 = board.at_risk_page(index, "p1", 1)
    assert of_p1.total == sum(1 for d in expected if d.profile_id == "p1")
    assert {d.profile_id for d in of_p1.items} == {"p1"}
    found = summaries.read_device(table_service, head, " sn00007 ")
    assert found is not None
    assert (found.device_id, found.readiness, found.blockers[0].message) == (
        "device-7",
        Readiness.RED,
        "blocker of 7",
    )
    assert summaries.read_device(table_service, head, "SN99999") is None


def test_a_newer_device_readiness_replaces_the_pages_of_the_older(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    meta = rule_metadata()
    first = [_device(i, Readiness.RED, "p") for i in range(10)]
    second = [_device(i, Readiness.GREEN, "p") for i in range(10)]
    summaries.write_devices(table_service, tenant, first, evaluation(tenant, T2, [], (meta,)), "a")
    old_head = summaries.read_devices_head(table_service, tenant, {meta.id: T2})
    assert old_head is not None
    assert not summaries.write_devices(
        table_service, tenant, second, evaluation(tenant, T1, [], (meta,)), "b"
    )  # older: refused
    summaries.write_devices(table_service, tenant, second, evaluation(tenant, T3, [], (meta,)), "c")
    head = summaries.read_devices_head(table_service, tenant, {meta.id: T3})
    assert head is not None
    assert head.at_risk.get("*", 0) == 0
    table = table_service.get_table_client(summaries.SUMMARY_TABLE)
    generations = {
        str(e["RowKey"]).split("|")[1]
        for e in table.query_entities(
            "PartitionKey eq @pk and RowKey ge 'devices|' and RowKey lt 'devices}'",
            parameters={"pk": tenant_key(tenant)},
            select=["RowKey"],
        )
        if str(e["RowKey"]) != summaries.DEVICES_HEAD
    }
    assert generations == {head.generation}  # the older generations are gone
    with pytest.raises(summaries.GenerationGone):  # a reader holding the old head reads again
        summaries.read_device(table_service, old_head, "SN00001")
    found = summaries.read_device(table_service, head, "SN00001")
    assert found is not None
    assert found.readiness is Readiness.GREEN
    stamp = json.loads(table.get_entity(tenant_key(tenant), summaries.DEVICES_HEAD)["Stamp"])
    assert stamp == {meta.id: format_time(parse_time(T3))}


def test_rules_recorded_without_a_summary_are_rebuilt_at_the_next_evaluation(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    store = VerdictStore(table_service)
    first, second = rule_metadata("PRF-001"), rule_metadata("GRP-002")
    both = evaluation(
        tenant,
        T1,
        [finding("app-1", Status.FAIL, "PRF-001"), finding("group-1", Status.UNKNOWN, "GRP-002")],
        (first, second),
    )
    store.record_evaluation(tenant, both, run_info())  # by a version that wrote no summary
    board = Dashboard.over(table_service)
    assert board.summary(tenant).source == "scan"
    one = evaluation(tenant, T2, [finding("app-1", Status.PASS, "PRF-001")], (first,))
    written = summaries.summarize_recorded(
        store, one, store.record_evaluation(tenant, one, run_info())
    )
    assert written is not None
    assert written.repaired == ("GRP-002",)
    summary = board.summary(tenant)
    assert summary.source == "summary"
    assert comparable(summary) == comparable(scanned(table_service, tenant))
    assert (summary.readiness, summary.unknown, summary.failing) == (Readiness.UNKNOWN, 1, 0)


def test_a_rule_that_could_not_read_is_summarized_as_the_store_keeps_it_unknown(
    table_service: TableServiceClient,
) -> None:
    tenant = str(uuid.uuid4())
    store = VerdictStore(table_service)
    groups, devices = (
        rule_metadata("GRP-002", reads=("groups",)),
        rule_metadata("DEV-001", reads=("devices",)),
    )

    def record(at: str, findings: list[Finding], unreadable: tuple[str, ...] = ()) -> None:
        done = evaluation(tenant, at, findings, (groups, devices), unreadable)
        summaries.summarize_recorded(store, done, store.record_evaluation(tenant, done, run_info()))

    device_passes = finding("device-1", Status.PASS, "DEV-001")
    record(T1, [finding("group-1", Status.FAIL, "GRP-002"), device_passes])
    # Groups unreadable now: the rule says nothing about group-1; the store keeps it, unknown.
    record(T2, [device_passes], unreadable=("groups",))
    board = Dashboard.over(table_service)
    summary = board.summary(tenant)
    assert summary.source == "summary"
    assert summary.readiness is Readiness.UNKNOWN  # never green for what could not be read
    assert comparable(summary) == comparable(scanned(table_service, tenant))
