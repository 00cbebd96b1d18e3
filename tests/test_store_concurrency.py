"""Concurrent writers and failed writes against Azurite: no transition lost, none twice."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableServiceClient, UpdateMode

from monitors.store import buckets, keys
from monitors.store.records import StoredStatus
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, rule_metadata, run_info
from tests.test_store import StateReads, inside

T1, T2, T3, T4 = (
    "2026-11-20T10:00:00Z",
    "2026-11-21T10:00:00Z",
    "2026-11-22T10:00:00Z",
    "2026-11-23T10:00:00Z",
)
MANY = 150  # more rows than one table transaction can carry
# One record per bucket on average: MANY records of one (rule, scope) take ~114 buckets, more
# than one table transaction carries, so a writer can be cut between two of them.
SMALL = 1


@pytest.fixture
def store(table_service: TableServiceClient) -> VerdictStore:
    return VerdictStore(table_service, bucket_records=SMALL)


def left_uncommitted(service: TableServiceClient, tenant: str) -> int:
    """Records of the entities a cut writer left with `Seq > Committed` (a repair reads them)."""
    table = service.get_table_client(keys.STATE_TABLE)
    committed = int(table.get_entity(tenant, keys.HEAD_ROW_KEY)["Committed"])
    return sum(
        len(buckets.previous_content(entity))
        for entity in table.query_entities(
            "PartitionKey eq @pk and Seq gt @committed",
            parameters={"pk": tenant, "committed": committed},
        )
    )


class CutConnection(ServiceRequestError):
    """What the SDK raises when the connection drops mid-request."""


class _FailingTable:
    def __init__(self, client: Any, failures: FailingTables) -> None:
        self._client = client
        self._failures = failures

    def submit_transaction(self, operations: Any, **kwargs: Any) -> Any:
        self._failures.calls += 1
        if self._failures.calls == self._failures.fail_on_call:
            raise CutConnection("connection reset by peer")
        return self._client.submit_transaction(operations, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class FailingTables:
    """A table service whose Nth transaction on one table fails, as a dropped connection would."""

    def __init__(self, service: TableServiceClient, table: str, fail_on_call: int) -> None:
        self._service = service
        self._table = table
        self.fail_on_call = fail_on_call
        self.calls = 0

    def get_table_client(self, name: str) -> Any:
        client = self._service.get_table_client(name)
        return _FailingTable(client, self) if name == self._table else client


def all_subjects(status: Status) -> list[Any]:
    return [finding(f"app-{index:03d}", status) for index in range(MANY)]


def current(store: VerdictStore, tenant: str) -> Counter[StoredStatus]:
    return Counter(v.record.status for v in store.current_state(tenant).verdicts)


def test_write_that_fails_midway_is_invisible_and_the_next_run_records_each_transition_once(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, all_subjects(Status.FAIL)), run_info()
    )
    broken = VerdictStore(
        FailingTables(table_service, keys.STATE_TABLE, fail_on_call=2), bucket_records=SMALL
    )  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(
            tenant_id, evaluation(tenant_id, T2, all_subjects(Status.PASS)), run_info()
        )
    # The first transaction (99 rows now "pass") was written; no reader sees it.
    assert current(store, tenant_id) == {StoredStatus.FAIL: MANY}
    assert store.history(tenant_id).items == ()
    assert [run.outcome for run in store.runs(tenant_id).items] == ["committed"]

    result = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T3, all_subjects(Status.PASS)), run_info()
    )
    assert len(result.transitions) == MANY
    history = store.history(tenant_id, page_size=1000).items
    assert Counter((t.from_status, t.to_status) for t in history) == {
        (StoredStatus.FAIL, StoredStatus.PASS): MANY
    }
    assert len({t.record.subject_id for t in history}) == MANY


def test_rows_left_by_a_failed_write_are_put_back_by_the_next_writer(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, all_subjects(Status.FAIL)), run_info()
    )
    broken = VerdictStore(
        FailingTables(table_service, keys.STATE_TABLE, fail_on_call=2), bucket_records=SMALL
    )  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(
            tenant_id, evaluation(tenant_id, T2, all_subjects(Status.PASS)), run_info()
        )
    # Nothing changed since the committed state: no transition, the leftovers are restored...
    repair = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T3, all_subjects(Status.FAIL)), run_info()
    )
    assert repair.transitions == ()
    # ...so the evaluation after that is back to the constant cost of an unchanged tenant.
    quiet = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T4, all_subjects(Status.FAIL)), run_info()
    )
    assert quiet.entities_written <= 3
    assert current(store, tenant_id) == {StoredStatus.FAIL: MANY}
    assert store.history(tenant_id).items == ()


def test_run_interrupted_after_commit_is_finished_by_the_next_writer_exactly_once(
    store: VerdictStore, table_service: TableServiceClient, tenant_id: str
) -> None:
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, all_subjects(Status.FAIL)), run_info()
    )
    interrupted = run_info()
    broken = VerdictStore(
        FailingTables(table_service, keys.TRANSITIONS_TABLE, fail_on_call=1), bucket_records=SMALL
    )  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(
            tenant_id,
            evaluation(tenant_id, T2, all_subjects(Status.PASS)),
            interrupted,
            cause_event_ids=("audit-9",),
        )
    # Committed: the state is the new one (passes are counted, the failures gone), the
    # transitions are not written yet: their tombstones carry them until the finalize is redone.
    assert current(store, tenant_id) == {}
    assert sum(count.passing for count in store.current_state(tenant_id).passing) == MANY
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T3, all_subjects(Status.PASS)), run_info()
    )
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T4, all_subjects(Status.PASS)), run_info()
    )
    history = store.history(tenant_id, page_size=1000).items
    assert len(history) == MANY
    assert {(t.run_id, t.cause_event_ids) for t in history} == {(interrupted.run_id, ("audit-9",))}
    assert Counter(run.outcome for run in store.runs(tenant_id).items) == {"committed": 4}


def test_two_writers_recording_the_same_change_at_once_record_one_transition(
    azurite: Azurite, table_service: TableServiceClient, tenant_id: str
) -> None:
    VerdictStore(table_service, bucket_records=SMALL).record_evaluation(
        tenant_id, evaluation(tenant_id, T1, all_subjects(Status.PASS)), run_info()
    )
    barrier = threading.Barrier(2)
    results = []

    def record() -> None:
        own = VerdictStore(
            TableServiceClient.from_connection_string(azurite.table_connection),
            bucket_records=SMALL,
        )
        barrier.wait()
        results.append(
            own.record_evaluation(
                tenant_id, evaluation(tenant_id, T2, all_subjects(Status.FAIL)), run_info()
            )
        )

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(result.transitions) for result in results) == [0, MANY]
    assert (
        len(
            VerdictStore(table_service, bucket_records=SMALL)
            .history(tenant_id, page_size=1000)
            .items
        )
        == MANY
    )


def test_many_concurrent_writers_leave_a_gapless_history_matching_the_commit_order(
    azurite: Azurite, table_service: TableServiceClient, tenant_id: str
) -> None:
    writers, per_writer, subjects = 4, 3, 120
    chooser = random.Random(7)
    plans: dict[str, dict[str, Status]] = {}
    work: list[list[tuple[str, str]]] = [[] for _ in range(writers)]
    for index in range(writers * per_writer):
        run_id = f"run-{index:02d}"
        plans[run_id] = {
            f"app-{s:03d}": chooser.choice([Status.PASS, Status.FAIL]) for s in range(subjects)
        }
        # Distinct snapshot times in an order the writers do not follow.
        work[index % writers].append((run_id, f"2026-11-{10 + index:02d}T10:00:00Z"))
    for queue in work:
        chooser.shuffle(queue)
    errors: list[BaseException] = []

    def write(queue: list[tuple[str, str]]) -> None:
        own = VerdictStore(
            TableServiceClient.from_connection_string(azurite.table_connection),
            bucket_records=SMALL,
        )
        try:
            for run_id, captured in queue:
                findings = [finding(s, status) for s, status in plans[run_id].items()]
                own.record_evaluation(
                    tenant_id, evaluation(tenant_id, captured, findings), run_info(run_id)
                )
        except BaseException as error:  # surfaced below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(queue,)) for queue in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    store = VerdictStore(table_service, bucket_records=SMALL)
    committed = sorted(
        (run for run in store.runs(tenant_id).items if run.outcome == "committed"),
        key=lambda run: run.seq,
    )
    expected: Counter[tuple[str, str, str]] = Counter()
    for before, after in itertools.pairwise(committed):
        for subject, status in plans[after.run_id].items():
            if plans[before.run_id][subject] != status:
                expected[(after.run_id, subject, status.value)] += 1
    history = store.history(tenant_id, page_size=1000).items
    recorded = Counter((t.run_id, t.record.subject_id, t.to_status.value) for t in history)
    assert recorded == expected
    last = plans[committed[-1].run_id]
    assert {
        v.record.subject_id: v.record.status.value for v in store.current_state(tenant_id).verdicts
    } == {subject: status.value for subject, status in last.items() if status != Status.PASS}


# -- per-rule reads keep the repair guarantees ---------------------------------------------

APP, DEV, PRF = rule_metadata("APP-001"), rule_metadata("DEV-001"), rule_metadata("PRF-001")


def rule_findings(rule: str, status: Status, count: int = MANY) -> list[Any]:
    return [finding(f"{rule.lower()}-{index:03d}", status, rule) for index in range(count)]


def by_rule(store: VerdictStore, tenant: str) -> dict[str, Counter[StoredStatus]]:
    counted: dict[str, Counter[StoredStatus]] = {}
    for verdict in store.current_state(tenant).verdicts:
        counted.setdefault(verdict.record.rule_id, Counter())[verdict.record.status] += 1
    return counted


def fail_midway(
    table_service: TableServiceClient, tenant: str, at: str, findings: list[Any], rule: Any
) -> None:
    """A writer of `rule` whose second state transaction is cut: its first one stays behind."""
    broken = VerdictStore(
        FailingTables(table_service, keys.STATE_TABLE, fail_on_call=2), bucket_records=SMALL
    )  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(tenant, evaluation(tenant, at, findings, (rule,)), run_info())


def test_rows_a_failed_write_left_in_another_rule_are_repaired_by_a_narrow_evaluation(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)
    baseline = rule_findings("APP-001", Status.FAIL) + rule_findings("PRF-001", Status.UNKNOWN, 5)
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, baseline, (APP, PRF)), run_info())
    fail_midway(table_service, tenant_id, T2, rule_findings("APP-001", Status.PASS), APP)
    left = left_uncommitted(table_service, tenant_id)
    assert 0 < left < MANY  # cut between two transactions

    # An evaluation of PRF-001 only commits a later sequence number: the 99 APP-001 rows the
    # failed write left must not become visible under it.
    reads = StateReads(table_service)
    narrow = VerdictStore(reads, bucket_records=SMALL)  # type: ignore[arg-type]
    prf = rule_findings("PRF-001", Status.UNKNOWN, 5)
    prf[0] = finding("prf-001-000", Status.FAIL, "PRF-001")
    result = narrow.record_evaluation(tenant_id, evaluation(tenant_id, T3, prf, (PRF,)), run_info())
    assert [t.record.subject_id for t in result.transitions] == ["prf-001-000"]
    assert by_rule(store, tenant_id) == {
        "APP-001": Counter({StoredStatus.FAIL: MANY}),
        "PRF-001": Counter({StoredStatus.UNKNOWN: 4, StoredStatus.FAIL: 1}),
    }
    # It read PRF-001's records and, of APP-001, only the buckets left uncommitted.
    assert result.entities_read == 5 + left
    assert inside(reads.ranges(), {"APP-001", "PRF-001"})

    # The repair is complete: APP-001 is back to its committed state, and a narrow evaluation
    # now reads its own rule only.
    again = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T4, rule_findings("APP-001", Status.FAIL), (APP,)),
        run_info(),
    )
    assert again.transitions == ()
    assert again.entities_written <= 3
    reads.reset()
    quiet = narrow.record_evaluation(
        tenant_id, evaluation(tenant_id, "2026-11-24T10:00:00Z", prf, (PRF,)), run_info()
    )
    assert (quiet.entities_read, quiet.entities_written) == (5, 3)
    assert [t.to_status for t in store.history(tenant_id, page_size=1000).items] == [
        StoredStatus.FAIL
    ]


def test_leftovers_of_several_failed_writers_in_different_rules_are_all_repaired(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)
    baseline = [*rule_findings("APP-001", Status.FAIL), *rule_findings("DEV-001", Status.FAIL)]
    baseline += rule_findings("PRF-001", Status.UNKNOWN, 3)
    store.record_evaluation(
        tenant_id, evaluation(tenant_id, T1, baseline, (APP, DEV, PRF)), run_info()
    )
    fail_midway(table_service, tenant_id, T2, rule_findings("APP-001", Status.PASS), APP)
    # The second writer's first transaction carries its own DEV-001 rows, not the repair of
    # APP-001: both rules now hold uncommitted rows.
    fail_midway(table_service, tenant_id, T3, rule_findings("DEV-001", Status.PASS), DEV)
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T4, rule_findings("PRF-001", Status.UNKNOWN, 3), (PRF,)),
        run_info(),
    )
    assert result.transitions == ()
    assert by_rule(store, tenant_id) == {
        "APP-001": Counter({StoredStatus.FAIL: MANY}),
        "DEV-001": Counter({StoredStatus.FAIL: MANY}),
        "PRF-001": Counter({StoredStatus.UNKNOWN: 3}),
    }
    later = "2026-11-24T10:00:00Z"
    both = store.record_evaluation(
        tenant_id,
        evaluation(
            tenant_id,
            later,
            [*rule_findings("APP-001", Status.PASS), *rule_findings("DEV-001", Status.FAIL)],
            (APP, DEV),
        ),
        run_info(),
    )
    assert Counter(t.record.rule_id for t in both.transitions) == {"APP-001": MANY}


def test_head_without_the_list_of_touched_rules_makes_the_next_writer_repair_every_rule(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    """A claim by a writer that did not name its rules (an older version): repair everything."""
    store = VerdictStore(table_service, bucket_records=SMALL)
    baseline = rule_findings("APP-001", Status.FAIL) + rule_findings("PRF-001", Status.UNKNOWN, 5)
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, baseline, (APP, PRF)), run_info())
    fail_midway(table_service, tenant_id, T2, rule_findings("APP-001", Status.PASS), APP)
    left = left_uncommitted(table_service, tenant_id)
    assert 0 < left < MANY  # cut between two transactions
    state = table_service.get_table_client(keys.STATE_TABLE)
    head = state.get_entity(tenant_id, keys.HEAD_ROW_KEY)
    state.upsert_entity(
        {k: v for k, v in head.items() if k not in ("Dirty", "DirtyFor")}, mode=UpdateMode.REPLACE
    )
    result = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T3, rule_findings("PRF-001", Status.UNKNOWN, 5), (PRF,)),
        run_info(),
    )
    assert result.entities_read == 5 + left
    assert by_rule(store, tenant_id)["APP-001"] == Counter({StoredStatus.FAIL: MANY})


def test_interrupted_finalize_is_redone_from_the_rules_that_transited_only(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)
    baseline = rule_findings("APP-001", Status.FAIL) + rule_findings("PRF-001", Status.UNKNOWN, 40)
    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, baseline, (APP, PRF)), run_info())
    interrupted = run_info()
    broken = VerdictStore(
        FailingTables(table_service, keys.TRANSITIONS_TABLE, fail_on_call=1), bucket_records=SMALL
    )  # type: ignore[arg-type]
    with pytest.raises(CutConnection):
        broken.record_evaluation(
            tenant_id,
            evaluation(tenant_id, T2, rule_findings("APP-001", Status.PASS), (APP,)),
            interrupted,
        )
    reads = StateReads(table_service)
    VerdictStore(reads, bucket_records=SMALL).record_evaluation(  # type: ignore[arg-type]
        tenant_id,
        evaluation(tenant_id, T3, rule_findings("PRF-001", Status.UNKNOWN, 40), (PRF,)),
        run_info(),
    )
    redo = [(f, p) for f, p in reads.queries if "TSeq" in f]
    assert redo
    assert inside([(p["low"], p["high"]) for _, p in redo], {"APP-001"})
    history = store.history(tenant_id, page_size=1000).items
    assert len(history) == MANY
    assert {t.run_id for t in history} == {interrupted.run_id}


def test_concurrent_writers_of_different_rules_each_keep_a_gapless_history(
    azurite: Azurite, table_service: TableServiceClient, tenant_id: str
) -> None:
    rules, per_writer, subjects = (APP, DEV, PRF), 3, 120
    chooser = random.Random(11)
    plans: dict[str, tuple[str, dict[str, Status]]] = {}
    work: list[list[tuple[str, str]]] = [[] for _ in rules]
    times = chooser.sample(range(per_writer * len(rules)), per_writer * len(rules))
    for index in range(per_writer * len(rules)):
        rule = rules[index % len(rules)].id
        run_id = f"run-{index:02d}"
        plans[run_id] = (
            rule,
            {
                f"{rule.lower()}-{s:03d}": chooser.choice([Status.PASS, Status.FAIL])
                for s in range(subjects)
            },
        )
        work[index % len(rules)].append((run_id, f"2026-11-{10 + times[index]:02d}T10:00:00Z"))
    errors: list[BaseException] = []

    def write(rule: Any, queue: list[tuple[str, str]]) -> None:
        own = VerdictStore(
            TableServiceClient.from_connection_string(azurite.table_connection),
            bucket_records=SMALL,
        )
        try:
            for run_id, captured in queue:
                findings = [finding(s, status, rule.id) for s, status in plans[run_id][1].items()]
                own.record_evaluation(
                    tenant_id, evaluation(tenant_id, captured, findings, (rule,)), run_info(run_id)
                )
        except BaseException as error:  # surfaced below, in the test's own thread
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(rule, queue))
        for rule, queue in zip(rules, work, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    store = VerdictStore(table_service, bucket_records=SMALL)
    committed = sorted(
        (run for run in store.runs(tenant_id).items if run.outcome == "committed"),
        key=lambda run: run.seq,
    )
    expected: Counter[tuple[str, str, str]] = Counter()
    final: dict[str, str] = {}  # what is remembered: the failures (passes are counted)
    for rule in rules:
        own = [run for run in committed if plans[run.run_id][0] == rule.id]
        assert own, "every rule committed at least its first evaluation"
        for before, after in itertools.pairwise(own):
            for subject, status in plans[after.run_id][1].items():
                if plans[before.run_id][1][subject] != status:
                    expected[(after.run_id, subject, status.value)] += 1
        final.update(
            {
                s: status.value
                for s, status in plans[own[-1].run_id][1].items()
                if status != Status.PASS
            }
        )
    history = store.history(tenant_id, page_size=1000).items
    recorded = Counter((t.run_id, t.record.subject_id, t.to_status.value) for t in history)
    assert recorded == expected
    assert {
        v.record.subject_id: v.record.status.value for v in store.current_state(tenant_id).verdicts
    } == final


# -- buckets: the records of one (rule, scope) share entities --------------------------------


class _CutCommit:
    def __init__(self, client: Any) -> None:
        self._client = client

    def update_entity(self, entity: Any, **kwargs: Any) -> Any:
        if "Committed" in entity:
            raise CutConnection("connection reset by peer")
        return self._client.update_entity(entity, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class CutBeforeCommit:
    """A table service whose writer dies after its state transactions, before its commit."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service

    def get_table_client(self, name: str) -> Any:
        client = self._service.get_table_client(name)
        return _CutCommit(client) if name == keys.STATE_TABLE else client


def bucket_keys(service: TableServiceClient, tenant: str) -> list[str]:
    table = service.get_table_client(keys.STATE_TABLE)
    return [
        str(entity["RowKey"])
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": "b|", "high": "b}"},
        )
    ]


def test_writers_of_different_subjects_in_one_bucket_never_see_or_lose_each_others_changes(
    azurite: Azurite, table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service)  # 40 records of one (rule, scope): a single bucket
    subjects = [f"app-{index:02d}" for index in range(40)]

    def plan(passing: set[str]) -> list[Any]:
        return [finding(s, Status.PASS if s in passing else Status.FAIL) for s in subjects]

    store.record_evaluation(tenant_id, evaluation(tenant_id, T1, plan(set())), run_info())
    assert len(bucket_keys(table_service, tenant_id)) == 1
    # A writer of app-00 writes the bucket and dies before its commit: the bucket now holds
    # its change under an uncommitted sequence number, with the committed content in Prev.
    with pytest.raises(CutConnection):
        VerdictStore(CutBeforeCommit(table_service)).record_evaluation(  # type: ignore[arg-type]
            tenant_id, evaluation(tenant_id, T2, plan({"app-00"})), run_info()
        )
    assert current(store, tenant_id) == {StoredStatus.FAIL: 40}
    # A writer of app-01 in the same bucket reads the committed content, not the dead
    # writer's: app-00 is still failing there, so it records app-01's change only.
    second = store.record_evaluation(
        tenant_id, evaluation(tenant_id, T3, plan({"app-01"})), run_info()
    )
    assert [(t.record.subject_id, t.to_status) for t in second.transitions] == [
        ("app-01", StoredStatus.PASS)
    ]
    assert current(store, tenant_id) == {StoredStatus.FAIL: 39}

    # Two writers at once, each changing other subjects of the bucket: the loser of the
    # head's ETag starts over from the winner's bucket, so neither change is overwritten.
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    plans = {T4: {"app-01", "app-02"}, "2026-11-24T10:00:00Z": {"app-01", "app-02", "app-03"}}

    def record(at: str) -> None:
        own = VerdictStore(TableServiceClient.from_connection_string(azurite.table_connection))
        barrier.wait()
        try:
            own.record_evaluation(tenant_id, evaluation(tenant_id, at, plan(plans[at])), run_info())
        except BaseException as error:  # surfaced below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=record, args=(at,)) for at in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    failing = {v.record.subject_id for v in store.current_state(tenant_id).verdicts}
    assert failing == set(subjects) - {"app-01", "app-02", "app-03"}
    history = store.history(tenant_id, page_size=1000).items
    assert Counter((t.record.subject_id, t.to_status) for t in history) == {
        ("app-01", StoredStatus.PASS): 1,
        ("app-02", StoredStatus.PASS): 1,
        ("app-03", StoredStatus.PASS): 1,
    }


def test_baseline_cut_between_bucket_transactions_stays_invisible_and_is_repaired(
    table_service: TableServiceClient, tenant_id: str
) -> None:
    store = VerdictStore(table_service, bucket_records=SMALL)
    store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T1, rule_findings("PRF-001", Status.UNKNOWN, 5), (PRF,)),
        run_info(),
    )
    # The first evaluation of APP-001 (a baseline) dies after its first transaction of buckets.
    fail_midway(table_service, tenant_id, T2, rule_findings("APP-001", Status.FAIL), APP)
    left = left_uncommitted(table_service, tenant_id)
    assert left == 0  # new buckets: nothing was visible in them before
    assert by_rule(store, tenant_id) == {"PRF-001": Counter({StoredStatus.UNKNOWN: 5})}
    # A writer of PRF-001 only commits a later sequence number: the dead baseline's buckets
    # must not become visible under it (they are removed: they held nothing before).
    store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T3, rule_findings("PRF-001", Status.UNKNOWN, 5), (PRF,)),
        run_info(),
    )
    assert by_rule(store, tenant_id) == {"PRF-001": Counter({StoredStatus.UNKNOWN: 5})}
    assert all(key.startswith("b|PRF-001|") for key in bucket_keys(table_service, tenant_id))
    # The baseline again: still a baseline (never committed), no transitions; then quiet.
    again = store.record_evaluation(
        tenant_id,
        evaluation(tenant_id, T4, rule_findings("APP-001", Status.FAIL), (APP,)),
        run_info(),
    )
    assert again.transitions == ()
    assert by_rule(store, tenant_id)["APP-001"] == Counter({StoredStatus.FAIL: MANY})
    assert store.history(tenant_id, page_size=1000).items == ()
