"""The verdict store against Azurite: state, transitions, resolution rules, limits and keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from monitors.store import keys
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import evaluation, finding, rule_metadata, run_info

T1, T2, T3, T4 = (
    "2026-11-20T10:00:00Z",
    "2026-11-21T10:00:00Z",
    "2026-11-22T10:00:00Z",
    "2026-11-23T10:00:00Z",
)


def statuses(store: VerdictStore, tenant: str) -> dict[str, StoredStatus]:
    return {v.record.subject_id: v.record.status for v in store.current_state(tenant).verdicts}


def test_first_evaluation_is_a_baseline_without_transitions(
    store: VerdictStore, tenant_id: str
) -> None:
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, [finding("a", Status.FAIL), finding("b", Status.PASS)]),
        run_info(),
    )
    assert result.outcome == "committed"
    assert result.transitions == ()
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL, "b": StoredStatus.PASS}
    assert store.history(tenant_id).items == ()


def test_status_change_is_one_transition_with_run_and_causes(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("a", Status.PASS)]), run_info()
    )
    second = run_info()
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T2, [finding("a", Status.FAIL)]),
        second,
        cause_event_ids=("audit-1", "audit-1", "audit-2"),
    )
    assert [(t.from_status, t.to_status) for t in result.transitions] == [
        (StoredStatus.PASS, StoredStatus.FAIL)
    ]
    [stored] = store.history(tenant_id).items
    assert (stored.from_status, stored.to_status, stored.run_id) == (
        StoredStatus.PASS,
        StoredStatus.FAIL,
        second.run_id,
    )
    assert stored.cause_event_ids == ("audit-1", "audit-2")
    [verdict] = store.current_state(tenant_id).verdicts
    assert verdict.record.first_seen == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert verdict.record.last_changed == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert verdict.last_evaluated == datetime(2026, 11, 21, 10, tzinfo=UTC)


def test_history_is_newest_first_and_filters_by_rule_subject_and_status(
    store: VerdictStore, tenant_id: str
) -> None:
    rules = (rule_metadata("PRF-001"), rule_metadata("APP-001"))
    sequence = [
        (T1, Status.PASS, Status.PASS),
        (T2, Status.FAIL, Status.PASS),
        (T3, Status.PASS, Status.FAIL),
    ]
    for at, first, second in sequence:
        findings = [finding("a", first, "PRF-001"), finding("b", second, "APP-001")]
        store.record_evaluation(tenant_id, evaluation(tenant_id, at, findings, rules), run_info())
    history = [(t.record.subject_id, t.to_status) for t in store.history(tenant_id).items]
    assert set(history[:2]) == {("a", StoredStatus.PASS), ("b", StoredStatus.FAIL)}
    assert history[2:] == [("a", StoredStatus.FAIL)]
    assert [t.record.subject_id for t in store.history(tenant_id, rule="APP-001").items] == ["b"]
    assert len(store.history(tenant_id, subject="a").items) == 2
    assert [t.record.subject_id for t in store.history(tenant_id, status="fail").items] == [
        "b",
        "a",
    ]
    since = datetime(2026, 11, 22, tzinfo=UTC)
    assert len(store.history(tenant_id, since=since).items) == 2


def test_unchanged_evaluation_writes_a_constant_number_of_entities(
    store: VerdictStore, tenant_id: str
) -> None:
    small = [finding(f"s{i}", Status.FAIL) for i in range(3)]
    large = [finding(f"l{i}", Status.PASS, profile=None) for i in range(250)]
    writes = []
    for findings in (small, small + large):
        other = f"{tenant_id[:-4]}{len(findings):04d}"
        store.record_evaluation(other, evaluation(other, T1, findings), run_info())
        repeat = store.record_evaluation(other, evaluation(other, T2, findings), run_info())
        writes.append(repeat.entities_written)
    assert writes[0] == writes[1]
    assert writes[0] <= 3


def test_failing_subject_that_disappears_with_readable_data_is_resolved(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, [finding("a", Status.FAIL), finding("b", Status.PASS)]),
        run_info(),
    )
    result = store.record_evaluation(tenant_id, evaluation(tenant_id, T2, []), run_info())
    assert [(t.record.subject_id, t.to_status) for t in result.transitions] == [
        ("a", StoredStatus.RESOLVED)
    ]
    assert statuses(store, tenant_id) == {"a": StoredStatus.RESOLVED}


def test_subject_that_disappears_when_the_rule_cannot_read_becomes_unknown_not_resolved(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, [finding("a", Status.FAIL), finding("b", Status.PASS)]),
        run_info(),
    )
    blind = evaluation(
        tenant_id,
        T2,
        [finding(tenant_id, Status.UNKNOWN, profile=None)],
        unreadable=("groups",),
    )
    result = store.record_evaluation(tenant_id, blind, run_info())
    moved = {t.record.subject_id: (t.from_status, t.to_status) for t in result.transitions}
    assert moved == {
        "a": (StoredStatus.FAIL, StoredStatus.UNKNOWN),
        "b": (StoredStatus.PASS, StoredStatus.UNKNOWN),
        tenant_id: (None, StoredStatus.UNKNOWN),
    }
    assert StoredStatus.RESOLVED not in statuses(store, tenant_id).values()


def test_rule_whose_version_changed_is_rebaselined_not_diffed(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, [finding("a", Status.FAIL), finding("b", Status.FAIL)]),
        run_info(),
    )
    newer = (rule_metadata(version=2),)
    result = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T2, [finding("a", Status.PASS)], newer), run_info()
    )
    assert result.transitions == ()
    assert statuses(store, tenant_id) == {"a": StoredStatus.PASS}
    [verdict] = store.current_state(tenant_id).verdicts
    assert verdict.record.rule_version == 2


def test_subject_reported_after_the_baseline_transits_from_nothing(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("a", Status.PASS)]), run_info()
    )
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T2, [finding("a", Status.PASS), finding("new", Status.FAIL)]),
        run_info(),
    )
    assert [(t.record.subject_id, t.from_status) for t in result.transitions] == [("new", None)]


def test_evaluation_of_an_older_snapshot_is_superseded_and_changes_nothing(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T2, [finding("a", Status.FAIL)]), run_info()
    )
    stale = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("a", Status.PASS)]), run_info()
    )
    assert stale.outcome == "superseded"
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL}
    outcomes = sorted(run.outcome for run in store.runs(tenant_id).items)
    assert outcomes == ["committed", "superseded"]


def test_run_record_keeps_trigger_counts_and_unreadable_collections(
    store: VerdictStore, tenant_id: str
) -> None:
    run = run_info()
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            T1,
            [finding("a", Status.FAIL), finding("b", Status.PASS)],
            unreadable=("devices",),
        ),
        run,
    )
    [record] = store.runs(tenant_id).items
    assert (record.run_id, record.trigger, record.graph_requests) == (run.run_id, "test", 3)
    assert record.counts["fail"] == 1
    assert record.counts["pass"] == 1
    assert record.unreadable == ("devices",)


@pytest.mark.parametrize(
    "subject_id",
    [
        "a/b\\c#d?e",
        "x' or PartitionKey ne '",
        "ctl\x00\x01\x1f\x7f\x9fchars",
        "ünïcødé-😀-主题",
        "very-long-" + "z" * 3_000,
        "|s|PRF-001|||",
    ],
)
def test_untrusted_subject_ids_are_stored_under_safe_keys_and_read_back_exactly(
    store: VerdictStore, tenant_id: str, subject_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding(subject_id, Status.PASS)]), run_info()
    )
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T2, [finding(subject_id, Status.FAIL)]), run_info()
    )
    assert statuses(store, tenant_id) == {subject_id: StoredStatus.FAIL}
    [transition] = store.history(tenant_id, subject=subject_id).items
    assert transition.record.subject_id == subject_id


def test_key_parts_never_contain_forbidden_characters() -> None:
    hostile = "a/b\\c#d?e|f\x00\x1f\x7f\u0085" + "é" * 500
    encoded = keys.key_part(hostile)
    assert not set(encoded) & set("/\\#?|")
    assert all(0x20 <= ord(char) < 0x7F for char in encoded)
    assert len(encoded) <= keys.MAX_PART_LENGTH
    assert keys.key_part(hostile + "x") != encoded


def test_long_reason_chains_are_truncated_with_a_marker_not_rejected(
    store: VerdictStore, tenant_id: str
) -> None:
    reasons = tuple("r" * 30_000 for _ in range(40))
    store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id, T1, [finding("a", Status.FAIL, reasons=reasons, message="m" * 100_000)]
        ),
        run_info(),
    )
    [verdict] = store.current_state(tenant_id).verdicts
    assert "truncated" in verdict.record.message
    assert "truncated" in verdict.record.reasons[0]
    assert verdict.record.reasons[-1].startswith("… [truncated")
    assert len(verdict.record.reasons) < len(reasons)


def test_invalid_tenant_ids_never_reach_a_key(store: VerdictStore) -> None:
    with pytest.raises(ValueError, match="not a tenant id"):
        store.current_state("x' or ''='")


def test_store_refuses_a_retention_below_one_day(table_service: TableServiceClient) -> None:
    with pytest.raises(ValueError, match="retention"):
        VerdictStore(table_service, retention_days=0)
