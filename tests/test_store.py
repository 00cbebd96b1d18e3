"""The verdict store against Azurite: state, transitions, resolution rules, limits and keys."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from monitors.store import keys
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore, _rule_ranges
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
    # What passes is counted, not stored: the state holds the failure only.
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL}
    [passing] = store.current_state(tenant_id).passing
    assert (passing.rule_id, passing.scope_id, passing.passing) == ("PRF-001", "profile-1", 1)
    assert store.history(tenant_id).items == ()


def test_status_change_is_one_transition_with_run_and_causes(
    store: VerdictStore, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, [finding("a", Status.UNKNOWN)]), run_info()
    )
    second = run_info()
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T2, [finding("a", Status.FAIL)]),
        second,
        cause_event_ids=("audit-1", "audit-1", "audit-2"),
    )
    assert [(t.from_status, t.to_status) for t in result.transitions] == [
        (StoredStatus.UNKNOWN, StoredStatus.FAIL)
    ]
    [stored] = store.history(tenant_id).items
    assert (stored.from_status, stored.to_status, stored.run_id) == (
        StoredStatus.UNKNOWN,
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
    # "b" passed and has no record: the rule's own unknown finding speaks for it.
    assert moved == {
        "a": (StoredStatus.FAIL, StoredStatus.UNKNOWN),
        tenant_id: (StoredStatus.PASS, StoredStatus.UNKNOWN),
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
        tenant_id, evaluation(tenant_id, T2, [finding("a", Status.UNKNOWN)], newer), run_info()
    )
    assert result.transitions == ()
    assert statuses(store, tenant_id) == {"a": StoredStatus.UNKNOWN}
    [verdict] = store.current_state(tenant_id).verdicts
    assert verdict.record.rule_version == 2


def test_subject_without_a_record_that_fails_after_the_baseline_transits_from_pass(
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
    # Passes are not stored per subject: without a record, "new" was not failing.
    assert [(t.record.subject_id, t.from_status) for t in result.transitions] == [
        ("new", StoredStatus.PASS)
    ]


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


# -- per-rule reads --------------------------------------------------------------------------

RULES = (rule_metadata("APP-001"), rule_metadata("DEV-001"), rule_metadata("PRF-001"))


class _ObservedTable:
    def __init__(self, client: Any, reads: StateReads) -> None:
        self._client = client
        self._reads = reads

    def query_entities(self, query_filter: str, **kwargs: Any) -> Iterator[Any]:
        self._reads.queries.append((query_filter, dict(kwargs.get("parameters") or {})))
        for entity in self._client.query_entities(query_filter, **kwargs):
            self._reads.entities += 1
            yield entity

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class StateReads:
    """A table service that counts what queries of the state table return (the real Azurite)."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.entities = 0

    def get_table_client(self, name: str) -> Any:
        client = self._service.get_table_client(name)
        return _ObservedTable(client, self) if name == keys.STATE_TABLE else client

    def reset(self) -> None:
        self.queries.clear()
        self.entities = 0

    def ranges(self) -> list[tuple[str, str]]:
        """The row key range of every state query (a query without one spans the partition)."""
        return [
            (str(parameters.get("low", "")), str(parameters.get("high", "\uffff")))
            for _, parameters in self.queries
        ]


def inside(ranges: list[tuple[str, str]], rules: set[str]) -> bool:
    """Every range lies within the entities of the given rules (`b|RULE|…`, `s|RULE|…`)."""
    return all(
        any(
            low >= f"{prefix}|{rule}|" and high <= f"{prefix}|{rule}}}"
            for rule in rules
            for prefix in "bs"
        )
        for low, high in ranges
    )


def three_rules(passing: frozenset[tuple[str, str]] = frozenset()) -> list[Any]:
    """30 subjects per rule, failing unless (rule, subject) is in `passing` (failures are rows)."""
    return [
        finding(
            f"{rule.id.lower()}-{index:02d}",
            Status.PASS if (rule.id, f"{rule.id.lower()}-{index:02d}") in passing else Status.FAIL,
            rule.id,
        )
        for rule in RULES
        for index in range(30)
    ]


def state_etags(service: TableServiceClient, tenant: str, rule: str) -> dict[str, str]:
    table = service.get_table_client(keys.STATE_TABLE)
    return {
        str(entity["RowKey"]): str(entity.metadata["etag"])
        for prefix in "bs"
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": f"{prefix}|{rule}|", "high": f"{prefix}|{rule}}}"},
        )
    }


def test_evaluation_of_some_rules_reads_and_writes_only_their_rows(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    reads = StateReads(table_service)
    store = VerdictStore(reads)  # type: ignore[arg-type]
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, three_rules(), RULES), run_info())
    untouched = {
        rule: state_etags(table_service, tenant_id, rule) for rule in ("APP-001", "PRF-001")
    }
    reads.reset()
    dev = RULES[1]  # the middle one: its rows sit between the other rules' rows
    passing = frozenset({("DEV-001", "dev-001-07")})
    findings = [f for f in three_rules(passing) if f.rule_id == "DEV-001"]
    result = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T2, findings, (dev,)), run_info()
    )
    assert [(t.record.subject_id, t.to_status) for t in result.transitions] == [
        ("dev-001-07", StoredStatus.PASS)
    ]
    # Only DEV-001's bucket (its 30 records) was read, by row key range inside that rule...
    assert (reads.entities, result.entities_read) == (1, 30)
    assert reads.ranges()
    assert inside(reads.ranges(), {"DEV-001"})
    # ...and the other rules' rows were neither rewritten nor forgotten.
    for rule, etags in untouched.items():
        assert state_etags(table_service, tenant_id, rule) == etags
    assert len(store.current_state(tenant_id).verdicts) == 89  # the pass is counted


def test_evaluation_of_every_rule_reads_the_state_in_one_query(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    reads = StateReads(table_service)
    store = VerdictStore(reads)  # type: ignore[arg-type]
    for at in (T1, T2):
        reads.reset()
        result = store.record_evaluation(
            tenant_id, evaluation(tenant_id, at, three_rules(), RULES), run_info()
        )
    assert result.entities_written <= 3
    assert (reads.entities, result.entities_read) == (3, 90)  # a bucket per (rule, scope)
    # Adjacent rules share one row key range: one for the buckets, one for older rows.
    assert len(reads.queries) == 2


def test_older_snapshot_is_refused_per_rule_not_for_rules_evaluated_on_an_older_one(
    store: VerdictStore, tenant_id: str
) -> None:
    """Two changes of one tenant evaluated concurrently re-evaluate different rules."""
    app, prf = rule_metadata("APP-001"), rule_metadata("PRF-001")
    both = (app, prf)
    baseline = [finding("a", Status.PASS, "APP-001"), finding("p", Status.PASS, "PRF-001")]
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, baseline, both), run_info())
    # A change evaluated on the T3 snapshot, touching APP-001's data, records first...
    newer = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T3, [finding("a", Status.FAIL, "APP-001")], (app,)),
        run_info(),
    )
    assert newer.outcome == "committed"
    # ...then one evaluated on the older T2 snapshot: PRF-001 was last evaluated on T1, so
    # its change is recorded; APP-001 is not rolled back to the older snapshot.
    older = store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            T2,
            [finding("a", Status.PASS, "APP-001"), finding("p", Status.FAIL, "PRF-001")],
            both,
        ),
        run_info(),
    )
    assert older.outcome == "committed"
    assert [(t.record.rule_id, t.to_status) for t in older.transitions] == [
        ("PRF-001", StoredStatus.FAIL)
    ]
    assert older.notes
    assert "APP-001" in older.notes[0]
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL, "p": StoredStatus.FAIL}
    state = store.current_state(tenant_id)
    assert state.captured_at == datetime(2026, 11, 22, 10, tzinfo=UTC)
    evaluated = {v.record.rule_id: v.last_evaluated for v in state.verdicts}
    assert evaluated == {
        "APP-001": datetime(2026, 11, 22, 10, tzinfo=UTC),
        "PRF-001": datetime(2026, 11, 21, 10, tzinfo=UTC),
    }
    # Every rule of an evaluation already newer: superseded, nothing changes.
    stale = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, [finding("p", Status.PASS, "PRF-001")], (prf,)),
        run_info(),
    )
    assert stale.outcome == "superseded"
    assert statuses(store, tenant_id) == {"a": StoredStatus.FAIL, "p": StoredStatus.FAIL}


def test_rule_ranges_select_exactly_the_rows_of_the_wanted_rules() -> None:
    def parts(ids: Iterable[str]) -> frozenset[str]:  # the store ranges encoded rule ids
        return frozenset(keys.key_part(rule) for rule in ids)

    rules = ["AB", "AB-1", "AB.1", "AB|", "AB~7C", "ABC", "APP-001", "DEV-001", "PRF-001", "Z"]
    rows = {
        keys.state_row_key(rule, "p", "t", subject): rule
        for rule in rules
        for subject in ("", "a", "~", "zz|z")
    }
    chooser = random.Random(3)
    for _ in range(200):
        wanted = frozenset(chooser.sample(rules, chooser.randint(0, len(rules))))
        ranges = _rule_ranges(parts(wanted), parts(rules))
        selected = {rule for key, rule in rows.items() if any(lo <= key < hi for lo, hi in ranges)}
        assert selected == wanted
        in_buckets = {
            rule
            for rule in rules
            for prefix in ("", "0", "ff")
            if any(lo <= f"b|{keys.key_part(rule)}|p|{prefix}" < hi for lo, hi in ranges)
        }
        assert in_buckets == wanted
        # Adjacent wanted rules share a range (per layout): never more than runs of wanted rules.
        assert len(ranges) <= 2 * len(wanted)
    assert len(_rule_ranges(parts(rules), parts(rules))) == 2
