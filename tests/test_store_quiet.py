"""What passes is counted, not stored: state grows with what fails or is unknown (Azurite)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from azure.data.tables import TableServiceClient, UpdateMode

from monitors import http_api
from monitors.store import buckets, keys
from monitors.store.diff import finding_row_key, record_of
from monitors.store.keys import parse_time
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import evaluation, finding, run_info
from tests.test_store_concurrency import MANY, SMALL, CutConnection, FailingTables

T1, T2, T3, T4 = (
    "2026-11-20T10:00:00Z",
    "2026-11-21T10:00:00Z",
    "2026-11-22T10:00:00Z",
    "2026-11-23T10:00:00Z",
)


def state_entities(service: TableServiceClient, tenant: str) -> list[dict[str, Any]]:
    """Every state entity of the tenant: buckets (`b|…`) and rows of the previous layout."""
    table = service.get_table_client(keys.STATE_TABLE)
    return [
        dict(entity)
        for low, high in (("b|", "b}"), ("s|", "s}"))
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": low, "high": high},
        )
    ]


def state_rows(service: TableServiceClient, tenant: str) -> dict[str, dict[str, Any]]:
    """Every record the state entities hold as written (committed or not), by record key."""
    rows: dict[str, dict[str, Any]] = {}
    for entity in state_entities(service, tenant):
        if buckets.is_bucket(str(entity["RowKey"])):
            for key, item in buckets.parse_content(buckets.joined(entity, "Data")).items():
                rows[key] = item.record.as_columns()
        elif entity.get("Exists", True):
            rows[str(entity["RowKey"])] = entity
    return rows


def passing(store: VerdictStore, tenant: str) -> int:
    return sum(count.passing for count in store.current_state(tenant).passing)


def test_a_pass_only_evaluation_writes_no_state_rows(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    subjects = [finding(f"app-{i:03d}", Status.PASS) for i in range(MANY)]
    for at in (T1, T2):
        result = store.record_evaluation(tenant_id, evaluation(tenant_id, at, subjects), run_info())
        assert result.transitions == ()
    assert state_rows(table_service, tenant_id) == {}
    state = store.current_state(tenant_id)
    assert state.verdicts == ()
    assert passing(store, tenant_id) == MANY  # counted: the tenant is evaluated, not unknown
    answer = http_api.readiness({"tenant": tenant_id}, store).body
    assert (answer["summary"]["ready"], answer["summary"]["counts"]["pass"]) == (True, MANY)
    assert [p["profileId"] for p in answer["profiles"]] == ["profile-1"]


def test_not_recorded_to_pass_is_no_event_and_fail_to_pass_is_one(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("a", Status.FAIL)]), run_info()
    )
    # "a" recovers, "new" appears passing: one transition, for "a" only.
    fixed = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T2, [finding("a", Status.PASS), finding("new", Status.PASS)]),
        run_info(),
    )
    assert [(t.record.subject_id, t.from_status, t.to_status) for t in fixed.transitions] == [
        ("a", StoredStatus.FAIL, StoredStatus.PASS)
    ]
    # The committed tombstone carries the transition (a redone finalize derives it from there).
    [tombstone] = state_rows(table_service, tenant_id).values()
    assert (tombstone["SubjectId"], tombstone["Status"]) == ("a", "pass")
    # The next evaluation of the rule forgets it: nothing recorded, no second transition.
    again = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T3, [finding("a", Status.PASS), finding("new", Status.PASS)]),
        run_info(),
    )
    assert again.transitions == ()
    assert state_rows(table_service, tenant_id) == {}
    assert [(t.record.subject_id, t.to_status) for t in store.history(tenant_id).items] == [
        ("a", StoredStatus.PASS)
    ]
    # Failing again after that is one transition again, from `pass` (it had no record).
    broke = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T4, [finding("a", Status.FAIL)]), run_info()
    )
    assert [(t.from_status, t.to_status) for t in broke.transitions] == [
        (StoredStatus.PASS, StoredStatus.FAIL)
    ]


def test_writer_cut_while_forgetting_tombstones_loses_and_doubles_nothing(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)  # several transactions
    failing = [finding(f"app-{i:03d}", Status.FAIL) for i in range(MANY)]
    passing_now = [finding(f"app-{i:03d}", Status.PASS) for i in range(MANY)]
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, failing), run_info())
    store.record_evaluation(tenant_id, evaluation(tenant_id, T2, passing_now), run_info())
    # The writer that forgets the tombstones dies after its first transaction: 99 are gone,
    # uncommitted. Half of the subjects fail again in that same evaluation.
    mixed = [finding(f"app-{i:03d}", Status.FAIL if i % 2 else Status.PASS) for i in range(MANY)]
    cut = FailingTables(table_service, keys.STATE_TABLE, fail_on_call=2)
    broken = VerdictStore(cut, bucket_records=SMALL)  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(tenant_id, evaluation(tenant_id, T3, mixed), run_info())
    assert store.current_state(tenant_id).verdicts == ()
    result = store.record_evaluation(tenant_id, evaluation(tenant_id, T4, mixed), run_info())
    assert Counter(t.to_status for t in result.transitions) == {StoredStatus.FAIL: MANY // 2}
    history = store.history(tenant_id, page_size=1000).items
    assert Counter(t.to_status for t in history) == {
        StoredStatus.PASS: MANY,
        StoredStatus.FAIL: MANY // 2,
    }
    assert {row["Status"] for row in state_rows(table_service, tenant_id).values()} == {"fail"}
    assert len(state_rows(table_service, tenant_id)) == MANY // 2


def test_manual_items_are_stored_once_and_forgotten_without_a_row(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    manual = [finding("item", Status.MANUAL)]
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, manual), run_info())
    same = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, manual), run_info())
    assert same.transitions == ()
    assert [r["Status"] for r in state_rows(table_service, tenant_id).values()] == ["manual"]
    store.record_evaluation(tenant_id, evaluation(tenant_id, T3, []), run_info())
    assert store.current_state(tenant_id).verdicts == ()
    store.record_evaluation(tenant_id, evaluation(tenant_id, T4, []), run_info())
    assert state_entities(table_service, tenant_id) == []  # the forgotten bucket is gone too


def test_state_written_in_the_old_format_still_reads_and_is_migrated_on_write(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    """A partition from before passes were counted: a pass row per subject, no counts."""
    table = table_service.get_table_client(keys.STATE_TABLE)
    table.create_entity(
        {
            "PartitionKey": tenant_id,
            "RowKey": keys.HEAD_ROW_KEY,
            "Committed": 1,
            "NextSeq": 2,
            "CommittedRun": "old-run",
            "CapturedAt": T1,
            "RuleVersions": json.dumps({"PRF-001": 1}),
            "RuleEvaluated": json.dumps({"PRF-001": T1}),
            "Pending": "",
        }
    )
    old_findings = [finding("a", Status.FAIL)] + [
        finding(f"ok-{i:02d}", Status.PASS) for i in range(5)
    ]
    for old in old_findings:
        record = record_of(old, 1, parse_time(T1), 0)
        table.upsert_entity(
            {
                "PartitionKey": tenant_id,
                "RowKey": finding_row_key(old),
                "Exists": True,
                "Seq": 1,
                "TSeq": 0,
                "TFrom": "",
                "Prev": "null",
                **record.as_columns(),
            },
            mode=UpdateMode.REPLACE,
        )
    # Reads: the failure is a verdict, the pass rows are counted as passes.
    state = store.current_state(tenant_id)
    assert [v.record.subject_id for v in state.verdicts] == ["a"]
    assert passing(store, tenant_id) == 5
    # The next evaluation diffs against the old rows: "a" recovering is one transition, the
    # passes that stay passes are none, and their rows go.
    now = [finding("a", Status.PASS)] + [finding(f"ok-{i:02d}", Status.PASS) for i in range(5)]
    result = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, now), run_info())
    assert [(t.record.subject_id, t.from_status) for t in result.transitions] == [
        ("a", StoredStatus.FAIL)
    ]
    assert list(state_rows(table_service, tenant_id)) == [finding_row_key(now[0])]
    assert passing(store, tenant_id) == 6


class _PurgeFirst:
    """A state table where a purge deletes the forgotten rows just before the first write."""

    def __init__(self, client: Any, tenant: str) -> None:
        self._client = client
        self._tenant = tenant
        self.purged = 0

    def submit_transaction(self, operations: Any, **kwargs: Any) -> Any:
        if not self.purged:
            for row_key in state_rows_of(self._client, self._tenant):
                self._client.delete_entity(self._tenant, row_key)
                self.purged += 1
        return self._client.submit_transaction(operations, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _PurgingService:
    def __init__(self, service: TableServiceClient, tenant: str) -> None:
        self._service = service
        self.table = _PurgeFirst(service.get_table_client(keys.STATE_TABLE), tenant)

    def get_table_client(self, name: str) -> Any:
        return self.table if name == keys.STATE_TABLE else self._service.get_table_client(name)


def state_rows_of(table: Any, tenant: str) -> list[str]:
    return [
        str(entity["RowKey"])
        for low, high in (("b|", "b}"), ("s|", "s}"))
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": low, "high": high},
        )
    ]


def test_a_row_to_delete_that_a_purge_removed_first_makes_the_writer_start_again(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("item", Status.MANUAL)]), run_info()
    )
    store.record_evaluation(tenant_id, evaluation(tenant_id, T2, []), run_info())  # forgotten
    service = _PurgingService(table_service, tenant_id)
    racing = VerdictStore(service)  # type: ignore[arg-type]
    # "new" is in another scope, so another bucket: the forgotten one is to be deleted.
    elsewhere = finding("new", Status.FAIL, profile="profile-2")
    result = racing.record_evaluation(tenant_id, evaluation(tenant_id, T3, [elsewhere]), run_info())
    assert service.table.purged == 1
    assert (result.outcome, result.attempts) == ("committed", 2)
    assert [(t.record.subject_id, t.to_status) for t in result.transitions] == [
        ("new", StoredStatus.FAIL)
    ]


def test_a_pass_that_rests_on_an_attestation_keeps_its_record_without_an_event(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    attested = finding(
        "scope", Status.PASS, reasons=("the operator attests MDM scope All (by ops, expires …)",)
    )
    for at in (T1, T2):
        result = store.record_evaluation(
            tenant_id,
            evaluation(tenant_id, at, [attested, finding("read", Status.PASS)]),
            run_info(),
        )
        assert result.transitions == ()
    # Readers can still say it was attested, not read: it is a verdict, not a count.
    [verdict] = store.current_state(tenant_id).verdicts
    assert (verdict.record.subject_id, verdict.record.status) == ("scope", StoredStatus.PASS)
    assert passing(store, tenant_id) == 1
    assert len(state_rows(table_service, tenant_id)) == 1
