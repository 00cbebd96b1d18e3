"""Bucket entities against Azurite: the previous layout's rows migrate, layouts change safely."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from azure.data.tables import TableServiceClient, UpdateMode

from monitors.store import buckets, keys
from monitors.store.diff import finding_row_key, record_of
from monitors.store.keys import parse_time
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore
from rules.findings import Finding, Status
from tests.conftest import evaluation, finding, rule_metadata, run_info
from tests.test_store_concurrency import (
    MANY,
    SMALL,
    CutConnection,
    FailingTables,
    by_rule,
    fail_midway,
    rule_findings,
)

T0, T1, T2, T3, T4 = (
    "2026-11-19T10:00:00Z",
    "2026-11-20T10:00:00Z",
    "2026-11-21T10:00:00Z",
    "2026-11-22T10:00:00Z",
    "2026-11-23T10:00:00Z",
)
APP, PRF = rule_metadata("APP-001"), rule_metadata("PRF-001")


def entity_keys(service: TableServiceClient, tenant: str, prefix: str) -> list[str]:
    table = service.get_table_client(keys.STATE_TABLE)
    return [
        str(entity["RowKey"])
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": f"{prefix}|", "high": f"{prefix}}}"},
        )
    ]


def statuses(store: VerdictStore, tenant: str) -> dict[str, StoredStatus]:
    return {v.record.subject_id: v.record.status for v in store.current_state(tenant).verdicts}


def write_head(service: TableServiceClient, tenant: str, **columns: Any) -> None:
    service.get_table_client(keys.STATE_TABLE).upsert_entity(
        {
            "PartitionKey": tenant,
            "RowKey": keys.HEAD_ROW_KEY,
            "CommittedRun": "old-run",
            "CapturedAt": T0,
            "RuleVersions": json.dumps({"PRF-001": 1}),
            "RuleEvaluated": json.dumps({"PRF-001": T0}),
            "Pending": "",
            **columns,
        },
        mode=UpdateMode.REPLACE,
    )


def write_row(
    service: TableServiceClient,
    tenant: str,
    found: Finding,
    seq: int,
    *,
    exists: bool = True,
    previous: Finding | None = None,
    tseq: int = 0,
    tfrom: str = "",
) -> None:
    """A state row as the previous layout wrote it: one (rule, scope, subject) per entity."""
    at = parse_time(T0)
    prev = record_of(previous, 1, at, 0).as_columns() if previous else None
    service.get_table_client(keys.STATE_TABLE).upsert_entity(
        {
            "PartitionKey": tenant,
            "RowKey": finding_row_key(found),
            "Exists": exists,
            "Seq": seq,
            "TSeq": tseq,
            "TFrom": tfrom,
            "Prev": json.dumps(prev),
            **record_of(found, 1, at, 0).as_columns(),
        },
        mode=UpdateMode.REPLACE,
    )


def test_rows_of_the_previous_layout_read_as_before_and_move_into_buckets_on_write(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    # Committed 3; a writer claimed 4, wrote two rows and died (its claim names the rule).
    write_head(
        table_service,
        tenant_id,
        Committed=3,
        NextSeq=5,
        Dirty=json.dumps(["PRF-001"]),
        DirtyFor=5,
        PassingParts=1,
        Passing0=json.dumps({"PRF-001": {"profile-1": [3, 0, "Profile 1"]}}),
    )
    write_row(table_service, tenant_id, finding("a", Status.FAIL), 2)
    write_row(
        table_service, tenant_id, finding("b", Status.UNKNOWN), 3, tseq=3, tfrom="fail"
    )  # a transition already finalized
    write_row(table_service, tenant_id, finding("c", Status.PASS), 3)  # a tombstone
    write_row(  # a forgotten record: committed, no longer exists
        table_service, tenant_id, finding("d", Status.FAIL), 3, exists=False
    )
    write_row(  # the dead writer's change: still failing for every reader
        table_service, tenant_id, finding("e", Status.PASS), 4, previous=finding("e", Status.FAIL)
    )
    write_row(table_service, tenant_id, finding("f", Status.FAIL), 4)  # the dead writer's new row
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL, "b": StoredStatus.UNKNOWN} | {
        "e": StoredStatus.FAIL
    }
    assert sum(count.passing for count in store.current_state(tenant_id).passing) == 3

    now = [
        finding("a", Status.FAIL),
        finding("b", Status.PASS),
        finding("c", Status.PASS),
        finding("e", Status.FAIL),
        finding("f", Status.FAIL),
        finding("g", Status.PASS),
    ]
    result = store.record_evaluation(tenant_id, evaluation(tenant_id, T1, now), run_info())
    assert sorted(
        (t.record.subject_id, t.from_status, t.to_status) for t in result.transitions
    ) == [
        ("b", StoredStatus.UNKNOWN, StoredStatus.PASS),
        ("f", StoredStatus.PASS, StoredStatus.FAIL),
    ]
    # Every row went; the records live in the (rule, scope)'s bucket now.
    assert entity_keys(table_service, tenant_id, "s") == []
    assert entity_keys(table_service, tenant_id, "b") == ["b|PRF-001|profile-1|"]
    assert statuses(store, tenant_id) == {
        "a": StoredStatus.FAIL,
        "e": StoredStatus.FAIL,
        "f": StoredStatus.FAIL,
    }
    # The next evaluation forgets b's tombstone; the one after writes nothing but the head.
    forgets = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, now), run_info())
    assert forgets.transitions == ()
    quiet = store.record_evaluation(tenant_id, evaluation(tenant_id, T3, now), run_info())
    assert (quiet.transitions, quiet.entities_written) == ((), 3)


@pytest.mark.parametrize("cut_at", [2, 3])
def test_migration_cut_midway_loses_and_doubles_no_record(
    cut_at: int, table_service: TableServiceClient, tenant_id: str
) -> None:
    """150 rows move into ~114 buckets (two transactions), then the rows are deleted (one
    more): a writer cut after the buckets' first transaction or during the deletes."""
    write_head(table_service, tenant_id, Committed=1, NextSeq=2)
    old = [finding(f"app-{index:03d}", Status.FAIL) for index in range(MANY)]
    for found in old:
        write_row(table_service, tenant_id, found, 1)
    mixed = [finding(f"app-{i:03d}", Status.PASS if i % 2 else Status.FAIL) for i in range(MANY)]
    broken = VerdictStore(
        FailingTables(table_service, keys.STATE_TABLE, fail_on_call=cut_at),  # type: ignore[arg-type]
        bucket_records=SMALL,
    )
    with pytest.raises(CutConnection):
        broken.record_evaluation(tenant_id, evaluation(tenant_id, T1, mixed), run_info())
    store = VerdictStore(table_service, bucket_records=SMALL)
    verdicts = store.current_state(tenant_id).verdicts
    assert Counter(v.record.status for v in verdicts) == {StoredStatus.FAIL: MANY}
    assert len({v.record.subject_id for v in verdicts}) == MANY

    result = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, mixed), run_info())
    assert Counter((t.from_status, t.to_status) for t in result.transitions) == {
        (StoredStatus.FAIL, StoredStatus.PASS): MANY // 2
    }
    assert entity_keys(table_service, tenant_id, "s") == []
    assert statuses(store, tenant_id) == {
        f.subject.id: StoredStatus.FAIL for f in mixed if f.status == Status.FAIL
    }
    assert len(store.history(tenant_id, page_size=1000).items) == MANY // 2


def prefix_lengths(service: TableServiceClient, tenant: str) -> set[int]:
    return {buckets.prefix_length(key) for key in entity_keys(service, tenant, "b")}


def test_a_scope_that_grows_or_shrinks_changes_its_bucket_layout_without_losing_records(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    def failing(count: int, of: int = 300) -> list[Finding]:
        return [
            finding(f"app-{i:03d}", Status.FAIL if i < count else Status.PASS) for i in range(of)
        ]

    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, failing(10)), run_info())
    assert prefix_lengths(table_service, tenant_id) == {0}  # one bucket
    grown = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, failing(300)), run_info())
    assert len(grown.transitions) == 290
    assert prefix_lengths(table_service, tenant_id) == {1}  # 16 buckets, the old one gone
    assert len(statuses(store, tenant_id)) == 300
    # A moderate shrink keeps the layout (no rewrite of every bucket)...
    kept = store.record_evaluation(tenant_id, evaluation(tenant_id, T3, failing(100)), run_info())
    assert len(kept.transitions) == 200
    assert prefix_lengths(table_service, tenant_id) == {1}
    # ...a steep one goes back to one bucket, after the tombstones are forgotten.
    store.record_evaluation(tenant_id, evaluation(tenant_id, T4, failing(5)), run_info())
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, "2026-11-24T10:00:00Z", failing(5)), run_info()
    )
    assert prefix_lengths(table_service, tenant_id) == {0}
    assert statuses(store, tenant_id) == {f"app-{i:03d}": StoredStatus.FAIL for i in range(5)}
    history = store.history(tenant_id, page_size=1000).items
    assert Counter(t.to_status for t in history) == {
        StoredStatus.FAIL: 290,
        StoredStatus.PASS: 295,
    }


def test_a_layout_change_cut_midway_is_repaired_and_redone(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)
    ten = (
        rule_findings("APP-001", Status.FAIL, 10) + rule_findings("APP-001", Status.PASS, MANY)[10:]
    )
    prf = rule_findings("PRF-001", Status.UNKNOWN, 3)
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, ten + prf, (APP, PRF)), run_info())
    assert prefix_lengths(table_service, tenant_id) == {1}
    # 150 records need a longer prefix (~114 buckets, two transactions): cut after the first.
    fail_midway(table_service, tenant_id, T2, rule_findings("APP-001", Status.FAIL), APP)
    assert by_rule(store, tenant_id)["APP-001"] == Counter({StoredStatus.FAIL: 10})
    # A writer of another rule repairs the new buckets; the old layout still holds the ten.
    store.record_evaluation(tenant_id, evaluation(tenant_id, T3, prf, (PRF,)), run_info())
    assert by_rule(store, tenant_id)["APP-001"] == Counter({StoredStatus.FAIL: 10})
    grown = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T4, rule_findings("APP-001", Status.FAIL), (APP,)),
        run_info(),
    )
    assert len(grown.transitions) == MANY - 10
    assert by_rule(store, tenant_id)["APP-001"] == Counter({StoredStatus.FAIL: MANY})
    app_buckets = [k for k in entity_keys(table_service, tenant_id, "b") if "APP-001" in k]
    assert {buckets.prefix_length(key) for key in app_buckets} == {2}
