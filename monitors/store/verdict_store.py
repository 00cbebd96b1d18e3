"""The verdict store on Azure Table Storage: record evaluations, read state and history.

How an evaluation is recorded (docs/storage.md has the full story):

1. Read the tenant's *head* entity and its ETag. The head lives in the tenant's state
   partition and says which write sequence number is committed (`Committed`), the next free
   one (`NextSeq`), the rule versions and when each rule was last evaluated.
2. Read the state entities of the evaluated rules: *buckets* holding the records of one
   (rule, scope) by a hash prefix of the subject (monitors.store.buckets), and rows of the
   previous layout, one record each. Row keys start with the rule, so each rule is one row
   key range per layout; add the entities with `Seq > Committed` of any rule the head's
   `Dirty` says an unfinished write touched. An entity's visible content is its own when its
   `Seq` is committed, else the previous content it carries in `Prev`.
3. Diff with the evaluation (monitors.store.diff), then write the changed buckets (and delete
   the entities of another layout after them) in table transactions of at most 100
   operations; every transaction also updates the head under
   `If-Match` of the ETag seen so far. Two writers therefore cannot interleave: the one
   whose ETag went stale gets 412 on its next transaction (atomically, nothing of that
   transaction is written) and starts over from step 1 on the other's committed state.
   The first transaction claims the sequence number and records in the head which rules it
   writes (`Dirty`), so the next writer knows where to repair if this one dies.
4. Commit: one more ETag-guarded head update sets `Committed` to this sequence number and
   keeps a small *pending* note of the run.
5. Finalize: write the transitions (derivable from the committed rows), the links from
   change events to transitions and the run record, then clear the pending note. All of it
   is keyed deterministically, so the next writer finishing an interrupted finalize writes
   the same entities again, never a second copy.

A failure anywhere before step 4 leaves entities whose `Seq` is not committed: every reader
shows their previous content, and the next writer puts them back. Nothing of a half-written
evaluation is ever read, so nothing "resolves" by accident.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import (
    TableClient,
    TableEntity,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)

from monitors.store import buckets, keys
from monitors.store.buckets import Content, Item
from monitors.store.continuation import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InvalidQueryError,
    decode_continuation,
    encode_continuation,
)
from monitors.store.diff import Change, QuietCounts, diff_evaluation, is_counted
from monitors.store.kept import NewestPerTenant
from monitors.store.keys import (
    BUCKET_ROW_PREFIX,
    HEAD_ROW_KEY,
    SEPARATOR,
    STATE_ROW_PREFIX,
    digest,
    format_time,
    inverted_time,
    key_part,
    month_of,
    months_back,
    parse_time,
    tenant_key,
)
from monitors.store.records import (
    MAX_CAUSES,
    CausedTransition,
    ChangeEvent,
    ChangeWithEffects,
    CurrentVerdict,
    ModifiedProperty,
    Page,
    PassingCount,
    RecordResult,
    RunInfo,
    RunRecord,
    StoredStatus,
    Transition,
    VerdictRecord,
    truncate,
)
from monitors.store.transactions import transaction_chunks
from rules.engine import Evaluation

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 400
TRANSACTION_LIMIT = 100  # operations per table transaction (one partition)
MAX_UNREADABLE_KEPT = 100
MAX_CAUSE_LINKS_PER_EVENT = 200
MAX_MODIFIED_PROPERTIES_TEXT = 16_000
# How far before the retention cutoff the purge looks for month partitions left behind.
PURGE_LOOKBACK_MONTHS = 24
# Tenants whose committed state an instance keeps in memory (see `VerdictStore.current_state`).
DEFAULT_KEPT_STATES = 4
# Every state entity: rows of the previous layout (`s|…`) and buckets (`b|…`).
_ALL_STATE = (
    (STATE_ROW_PREFIX, "s" + chr(ord(SEPARATOR) + 1)),
    (BUCKET_ROW_PREFIX, "b" + chr(ord(SEPARATOR) + 1)),
)
# Bytes of entity data per state transaction (Table Storage: 4 MiB per transaction payload).
_TRANSACTION_BYTES = 2_500_000
_ROW_KEY_END = chr(ord(SEPARATOR) + 1)  # sorts after "<inverted time>|..." for that time
_CONFLICT_CODES = {"UpdateConditionNotSatisfied", "EntityAlreadyExists", "ConditionNotMet"}

T = TypeVar("T")


class StoreConflictError(RuntimeError):
    """Other writers kept committing first; the evaluation was not recorded (retry later)."""


@dataclass(frozen=True, slots=True)
class StateView:
    tenant_id: str
    last_run_id: str | None
    captured_at: datetime | None
    # What fails, is unknown, manual or resolved: one verdict per (rule, scope, subject).
    verdicts: tuple[CurrentVerdict, ...]
    # What passes: a count per (rule, scope).
    passing: tuple[PassingCount, ...] = ()


@dataclass(slots=True)
class _Head:
    etag: str
    committed: int
    next_seq: int
    captured_at: datetime | None
    rule_versions: dict[str, int]
    rule_evaluated: dict[str, str]
    pending: dict[str, Any] | None
    committed_run: str
    # Rule key parts that may hold rows an unfinished write left with `Seq > committed`;
    # None: unknown (a head written before this was tracked), so every rule may.
    dirty: frozenset[str] | None = frozenset()
    # Per rule, per scope: [passing, not applicable, scope name] (rules/diff.QuietCounts).
    # A rule missing here was last recorded before passes were counted: its pass rows count.
    passing: QuietCounts | None = None
    # Changed by every purge that deleted state records (their content changes, not `Committed`).
    purged: str = ""

    @classmethod
    def from_entity(cls, entity: TableEntity) -> _Head:
        committed = int(entity.get("Committed", 0))
        next_seq = int(entity.get("NextSeq", 1))
        dirty: frozenset[str] | None = frozenset()
        if next_seq > committed + 1:
            # A sequence number was claimed after the last commit and never committed. Every
            # claim names the rules it writes and the NextSeq it set; if the last claim did
            # not (an older writer), any rule may hold its rows.
            if entity.get("Dirty") is not None and int(entity.get("DirtyFor", 0)) == next_seq:
                dirty = frozenset(json.loads(entity["Dirty"] or "[]"))
            else:
                dirty = None
        return cls(
            etag=str(entity.metadata["etag"]),
            committed=committed,
            next_seq=next_seq,
            captured_at=parse_time(entity["CapturedAt"]) if entity.get("CapturedAt") else None,
            rule_versions={
                k: int(v) for k, v in json.loads(entity.get("RuleVersions") or "{}").items()
            },
            rule_evaluated=dict(json.loads(entity.get("RuleEvaluated") or "{}")),
            pending=json.loads(entity["Pending"]) if entity.get("Pending") else None,
            committed_run=str(entity.get("CommittedRun", "")),
            dirty=dirty,
            passing=_passing_of(entity),
            purged=str(entity.get("StatePurge") or ""),
        )


@dataclass(frozen=True, slots=True)
class _KeptState:
    """A tenant's committed state as it is stored: the visible content of every state entity
    at `committed` (per encoded rule, per row key), while the head's purge mark is `purged`."""

    committed: int
    purged: str
    rules: Mapping[str, Mapping[str, Content]]  # rule key part -> row key -> visible content


class VerdictStore:
    """Verdict memory for many tenants; every key starts with the tenant."""

    def __init__(
        self,
        service: TableServiceClient,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_attempts: int = 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = keys.utc_now,
        bucket_records: int = buckets.TARGET_RECORDS,
        kept_states: int = DEFAULT_KEPT_STATES,
    ) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if bucket_records < 1:
            raise ValueError("bucket_records must be at least 1")
        # Records per bucket a (rule, scope) aims at (docs/storage.md, "Buckets").
        self._bucket_records = bucket_records
        self._service = service
        self.retention_days = retention_days
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self._tables: dict[str, TableClient] = {}
        if kept_states < 0:
            raise ValueError("kept_states must not be negative")
        self._kept: NewestPerTenant[_KeptState] = NewestPerTenant(
            kept_states, lambda state: state.committed
        )
        self.last_state_read = 0  # state records `current_state` last read from storage

    # -- plumbing ---------------------------------------------------------------------------

    def ensure_tables(self) -> None:
        for name in keys.ALL_TABLES:
            self._service.create_table_if_not_exists(name)

    def _table(self, name: str) -> TableClient:
        if name not in self._tables:
            self._tables[name] = self._service.get_table_client(name)
        return self._tables[name]

    def _query(
        self, table: str, query: str, parameters: Mapping[str, Any], **kwargs: Any
    ) -> Iterator[Any]:
        """Always parameterized: no value ever becomes part of the filter text."""
        try:
            yield from self._table(table).query_entities(
                query, parameters=dict(parameters), **kwargs
            )
        except ResourceNotFoundError:  # table not created yet: nothing recorded
            return

    def _submit_chunks(self, table: str, operations: Sequence[tuple[Any, ...]]) -> int:
        """Idempotent upserts/deletes, grouped per partition in transactions of ≤100."""
        by_partition: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for operation in operations:
            by_partition[operation[1]["PartitionKey"]].append(operation)
        for partition_operations in by_partition.values():
            for start in range(0, len(partition_operations), TRANSACTION_LIMIT):
                chunk = partition_operations[start : start + TRANSACTION_LIMIT]
                self._table(table).submit_transaction(chunk)
        return len(operations)

    # -- recording an evaluation ------------------------------------------------------------

    def record_evaluation(
        self,
        tenant_id: str,
        evaluation: Evaluation,
        run: RunInfo,
        cause_event_ids: Sequence[str] = (),
    ) -> RecordResult:
        tenant = tenant_key(tenant_id)
        at = parse_time(evaluation.captured_at)
        causes = tuple(dict.fromkeys(cause_event_ids))[:MAX_CAUSES]
        written_total = 0
        read_total = 0
        for attempt in range(1, self._max_attempts + 1):
            head = self._read_head(tenant)
            if head.pending is not None:
                written_total += self._finalize(tenant, head, None)
                continue  # the head changed: read it again
            # Never roll a rule back to an older snapshot than the one it was last evaluated
            # on; the rules this evaluation is the newest for are recorded.
            newer = {
                rule.id
                for rule in evaluation.rules
                if rule.id in head.rule_evaluated and parse_time(head.rule_evaluated[rule.id]) > at
            }
            older_tenant = head.captured_at is not None and at < head.captured_at
            if (newer and len(newer) == len(evaluation.rules)) or (
                not evaluation.rules and older_tenant
            ):
                record = self._run_record(run, evaluation, at, 0, "superseded", head.committed)
                written_total += self._write_run_record(tenant, record)
                return RecordResult(
                    run.run_id,
                    "superseded",
                    (),
                    written_total,
                    attempt,
                    ("an evaluation of a newer snapshot is already recorded",),
                    read_total,
                )
            recorded = evaluation
            notes: tuple[str, ...] = ()
            if newer:
                recorded = replace(
                    evaluation,
                    rules=tuple(rule for rule in evaluation.rules if rule.id not in newer),
                    findings=tuple(f for f in evaluation.findings if f.rule_id not in newer),
                )
                notes = (
                    f"not recorded for {', '.join(sorted(newer))}: "
                    "an evaluation of a newer snapshot is already recorded",
                )
            reads: list[int] = []
            try:
                transitions, written = self._write_evaluation(
                    tenant, head, recorded, run, at, causes, reads
                )
            except _LostRace:
                read_total += sum(reads)
                self._back_off(attempt)
                continue
            return RecordResult(
                run.run_id,
                "committed",
                transitions,
                written_total + written,
                attempt,
                notes,
                read_total + sum(reads),
            )
        raise StoreConflictError(
            f"could not record run {run.run_id}: {self._max_attempts} attempts lost to others"
        )

    def _back_off(self, attempt: int) -> None:
        self._sleep(random.uniform(0.01, 0.05) * min(attempt, 8))

    def _read_head(self, tenant: str) -> _Head:
        table = self._table(keys.STATE_TABLE)
        try:
            return _Head.from_entity(table.get_entity(tenant, HEAD_ROW_KEY))
        except ResourceNotFoundError:
            pass
        with contextlib.suppress(ResourceExistsError):  # another writer created it first
            table.create_entity(
                {"PartitionKey": tenant, "RowKey": HEAD_ROW_KEY, "Committed": 0, "NextSeq": 1}
            )
        return _Head.from_entity(table.get_entity(tenant, HEAD_ROW_KEY))

    def _read_entities(
        self,
        tenant: str,
        committed: int,
        ranges: Iterable[tuple[str, str]] = _ALL_STATE,
        *,
        uncommitted_only: bool = False,
    ) -> dict[str, TableEntity]:
        """State entities (buckets and rows) in row key ranges of the tenant's partition."""
        query = "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high"
        if uncommitted_only:
            query += " and Seq gt @committed"
        found = {}
        for low, high in ranges:
            for entity in self._query(
                keys.STATE_TABLE,
                query,
                {"pk": tenant, "low": low, "high": high, "committed": committed},
            ):
                found[str(entity["RowKey"])] = entity
        return found

    def _read_for_evaluation(
        self, tenant: str, head: _Head, evaluated: frozenset[str]
    ) -> dict[str, TableEntity]:
        """The entities of the evaluated rules, plus those an unfinished write left elsewhere.

        Entities of other rules are read only where the head says an uncommitted write may
        have touched them (`Dirty`), and only those with `Seq > Committed`: they must be put
        back before this commit, or they would become visible under the larger `Committed`.
        """
        known = _rule_parts(head.rule_versions) | evaluated | (head.dirty or frozenset())
        found = self._read_entities(tenant, head.committed, _rule_ranges(evaluated, known))
        if head.dirty is None:
            leftover_ranges: list[tuple[str, str]] = list(_ALL_STATE)
        else:
            leftover_ranges = _rule_ranges(head.dirty - evaluated, known)
        leftovers = self._read_entities(
            tenant, head.committed, leftover_ranges, uncommitted_only=True
        )
        for row_key, entity in leftovers.items():
            found.setdefault(row_key, entity)
        return found

    def _write_evaluation(
        self,
        tenant: str,
        head: _Head,
        evaluation: Evaluation,
        run: RunInfo,
        at: datetime,
        causes: tuple[str, ...],
        reads: list[int],
    ) -> tuple[tuple[Transition, ...], int]:
        seq = head.next_seq
        evaluated_ids = {rule.id for rule in evaluation.rules}
        parts = _rule_parts(evaluated_ids)
        # No write since the last commit (nothing uncommitted anywhere) and the instance keeps
        # the state of that commit and purge: the evaluated rules' entities are as kept.
        kept = self._kept_state(tenant, head) if head.next_seq == head.committed + 1 else None
        restores: list[tuple[Any, ...]] = []
        uncommitted: set[str] = set()
        if kept is not None:
            contents = {
                row_key: content
                for part in parts
                for row_key, content in kept.rules.get(part, {}).items()
            }
        else:
            entities = self._read_for_evaluation(tenant, head, parts)
            contents = {
                row_key: buckets.visible_content(entity, head.committed)
                for row_key, entity in entities.items()
            }
            for row_key, entity in entities.items():
                if int(entity.get("Seq", 0)) > head.committed:
                    uncommitted.add(row_key)
                    if _rule_part(row_key) not in parts:
                        restores.append(_restore(tenant, row_key, entity))
        visible = _merged(contents)
        reads.append(0 if kept is not None else len(visible))
        previous = {key: item.record for key, item in visible.items()}
        diff = diff_evaluation(previous, head.rule_versions, evaluation, at)
        desired: Content = {
            key: item for key, item in visible.items() if item.record.rule_id in evaluated_ids
        }
        for change in diff.changes:
            if change.record is None:
                desired.pop(change.row_key, None)
            elif change.transition:
                from_status = change.from_status.value if change.from_status else ""
                desired[change.row_key] = Item(change.record, seq, from_status)
            else:
                desired[change.row_key] = Item(change.record)
        written_contents: dict[str, Content | None] = {}
        operations = _bucket_operations(
            tenant,
            seq,
            contents,
            frozenset(uncommitted),
            restores,
            visible,
            desired,
            parts,
            self._bucket_records,
            written_contents,
        )
        etag = head.etag
        written = 0
        # The claim names every rule this write may leave uncommitted rows in (with those
        # named by earlier unfinished claims), so the next writer knows which rules to repair.
        dirty = (head.dirty or frozenset()) | {_rule_part(op[1]["RowKey"]) for op in operations}
        claim = {
            "PartitionKey": tenant,
            "RowKey": HEAD_ROW_KEY,
            "NextSeq": seq + 1,
            "Writer": run.run_id,
            "Dirty": json.dumps(sorted(dirty)),
            "DirtyFor": seq + 1,
        }
        for chunk in _chunks(operations):
            fenced = ("update", claim, _if_match(etag, UpdateMode.MERGE))
            try:
                result = self._table(keys.STATE_TABLE).submit_transaction([fenced, *chunk])
            except TableTransactionError as error:
                if error.index == 0 and _is_conflict(error):
                    raise _LostRace from None
                if (
                    error.status_code == 404
                    or str(getattr(error, "error_code", "")) == "ResourceNotFound"
                ):
                    raise _LostRace from None  # a row to delete went meanwhile (purge)
                raise
            etag = str(result[0]["etag"])
            written += len(chunk) + 1
        evaluated = dict(head.rule_evaluated)
        evaluated.update({rule.id: format_time(at) for rule in evaluation.rules})
        passing = dict(head.passing or {})
        passing.update(diff.quiet_counts)
        transitions = tuple(
            _transition(tenant, seq, run.run_id, change, causes) for change in diff.transitions
        )
        record = self._run_record(run, evaluation, at, len(transitions), "committed", seq)
        captured = max(at, head.captured_at) if head.captured_at else at
        pending = {
            "run": _run_record_json(record),
            "causes": list(causes),
            # Where a repeated finalize finds this run's transitions (rows with TSeq = seq).
            "ruleKeys": sorted(_rule_parts(t.record.rule_id for t in transitions)),
        }
        commit = {
            "PartitionKey": tenant,
            "RowKey": HEAD_ROW_KEY,
            "Committed": seq,
            "NextSeq": seq + 1,
            "CommittedRun": run.run_id,
            "CapturedAt": format_time(captured),
            "RuleVersions": json.dumps(diff.rule_versions, sort_keys=True),
            "RuleEvaluated": json.dumps(evaluated, sort_keys=True),
            "Pending": json.dumps(pending),
            "Writer": "",
            "Dirty": "",
            "DirtyFor": 0,
            **_passing_columns(passing),
        }
        try:
            metadata = self._table(keys.STATE_TABLE).update_entity(
                commit, **_if_match(etag, UpdateMode.MERGE)
            )
        except ResourceModifiedError:
            raise _LostRace from None
        written += 1
        self._advance_kept(tenant, head, seq, parts, contents, written_contents)
        committed_head = _Head(
            etag=str(metadata["etag"]),
            committed=seq,
            next_seq=seq + 1,
            captured_at=captured,
            rule_versions=diff.rule_versions,
            rule_evaluated=evaluated,
            pending=pending,
            committed_run=run.run_id,
            passing=passing,
            purged=head.purged,
        )
        written += self._finalize(tenant, committed_head, transitions)
        return transitions, written

    def _finalize(
        self, tenant: str, head: _Head, transitions: tuple[Transition, ...] | None
    ) -> int:
        """Write what follows from a committed run; safe to repeat (deterministic keys)."""
        assert head.pending is not None
        record = _run_record_from_json(head.pending["run"])
        causes = tuple(head.pending.get("causes", ()))
        if transitions is None:
            transitions = self._committed_transitions(tenant, head, record.run_id, causes)
        written = self._submit_chunks(
            keys.TRANSITIONS_TABLE,
            [("upsert", _transition_entity(tenant, t), _REPLACE) for t in transitions],
        )
        links = [
            ("upsert", _cause_entity(tenant, cause, transition), _REPLACE)
            for transition in transitions
            for cause in transition.cause_event_ids
        ]
        written += self._submit_chunks(keys.CAUSES_TABLE, links)
        written += self._write_run_record(tenant, record)
        clear = {"PartitionKey": tenant, "RowKey": HEAD_ROW_KEY, "Pending": ""}
        try:
            self._table(keys.STATE_TABLE).update_entity(
                clear, **_if_match(head.etag, UpdateMode.MERGE)
            )
            written += 1
        except ResourceModifiedError:
            pass  # another writer finished this run's finalize and moved on
        return written

    def _committed_transitions(
        self, tenant: str, head: _Head, run_id: str, causes: tuple[str, ...]
    ) -> tuple[Transition, ...]:
        assert head.pending is not None
        if "ruleKeys" in head.pending:
            wanted = frozenset(str(part) for part in head.pending["ruleKeys"])
            ranges = _rule_ranges(wanted, _rule_parts(head.rule_versions) | wanted)
        else:  # a note written before the rules were kept in it
            ranges = list(_ALL_STATE)
        contents = {
            str(entity["RowKey"]): buckets.visible_content(entity, head.committed)
            for low, high in ranges
            for entity in self._query(
                keys.STATE_TABLE,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high and TSeq eq @seq",
                {"pk": tenant, "low": low, "high": high, "seq": head.committed},
            )
        }
        transitions = []
        for item in _merged(contents).values():
            if item.tseq != head.committed:
                continue
            record = item.record
            from_status = StoredStatus(item.tfrom) if item.tfrom else None
            transitions.append(
                Transition(
                    tenant,
                    record.last_changed,
                    run_id,
                    head.committed,
                    from_status,
                    record.status,
                    record,
                    causes,
                )
            )
        return tuple(transitions)

    def _run_record(
        self,
        run: RunInfo,
        evaluation: Evaluation,
        at: datetime,
        transitions: int,
        outcome: str,
        seq: int,
    ) -> RunRecord:
        return RunRecord(
            run_id=run.run_id,
            trigger=run.trigger,
            started_at=run.started_at,
            captured_at=at,
            duration_ms=run.duration_ms,
            graph_requests=run.graph_requests,
            counts=evaluation.counts(),
            unreadable=tuple(evaluation.unreadable[:MAX_UNREADABLE_KEPT]),
            transitions=transitions,
            outcome=outcome,
            seq=seq,
        )

    def _write_run_record(self, tenant: str, record: RunRecord) -> int:
        entity = {
            "PartitionKey": keys.time_partition(tenant, record.started_at),
            "RowKey": f"{inverted_time(record.started_at)}{SEPARATOR}{key_part(record.run_id)}",
            "Run": json.dumps(_run_record_json(record)),
            "Outcome": record.outcome,
            "Trigger": record.trigger,
        }
        self._table(keys.RUNS_TABLE).upsert_entity(entity, mode=UpdateMode.REPLACE)
        return 1

    # -- reading ----------------------------------------------------------------------------

    def current_state(self, tenant_id: str, *, kept: bool = False) -> StateView:
        """What fails, is unknown, manual or resolved now, and the passes counted.

        The instance keeps the last state it read or wrote of `kept_states` tenants (least
        recently used first out). `kept=True`: when the head still names the commit and purge
        of the kept state, that state is answered and only the head is read; a commit of this
        instance advances its kept state by what it wrote (the evaluated rules' records,
        exactly as committed); after any other commit or a purge the whole state is read
        again. The verdicts are the same as a read gives, in no particular order (a read
        lists them in storage order). `kept=False` always reads the whole state.
        """
        tenant = tenant_key(tenant_id)
        try:
            head = _Head.from_entity(self._table(keys.STATE_TABLE).get_entity(tenant, HEAD_ROW_KEY))
        except ResourceNotFoundError:
            return StateView(tenant, None, None, ())
        state = self._kept_state(tenant, head) if kept else None
        if state is None:
            contents = {
                row_key: buckets.visible_content(entity, head.committed)
                for row_key, entity in self._read_entities(tenant, head.committed).items()
            }
            by_rule: dict[str, dict[str, Content]] = defaultdict(dict)
            for row_key, content in contents.items():
                by_rule[_rule_part(row_key)][row_key] = content
            self._kept.put(tenant, _KeptState(head.committed, head.purged, dict(by_rule)))
            self.last_state_read = sum(len(content) for content in contents.values())
            # In storage order, as always (the dashboard and reports list them so).
            return _state_view(tenant, head, _merged(contents).values())
        self.last_state_read = 0
        return _state_view(
            tenant, head, (item for rows in state.rules.values() for item in _merged(rows).values())
        )

    # -- the kept states --------------------------------------------------------------------

    def _kept_state(self, tenant: str, head: _Head) -> _KeptState | None:
        return self._kept.get(
            tenant, lambda kept: (kept.committed, kept.purged) == (head.committed, head.purged)
        )

    def _advance_kept(
        self,
        tenant: str,
        head: _Head,
        seq: int,
        evaluated: frozenset[str],
        contents: Mapping[str, Content],
        written: Mapping[str, Content | None],
    ) -> None:
        """After this instance committed `seq` over `head`: the kept state of `head` becomes
        that of `seq`. The evaluated rules' entities are those read (`contents`, visible at
        `head.committed`) with what this write put in or deleted (`written`); the other
        rules' visible content is unchanged (a repair restores what was visible). A kept
        state of another commit is dropped."""
        kept = self._kept.pop(tenant)
        if kept is None or (kept.committed, kept.purged) != (head.committed, head.purged):
            return
        rules = {part: rows for part, rows in kept.rules.items() if part not in evaluated}
        fresh: dict[str, dict[str, Content]] = {part: {} for part in evaluated}
        for row_key, content in contents.items():
            if _rule_part(row_key) in evaluated:
                fresh[_rule_part(row_key)][row_key] = content
        for row_key, written_content in written.items():
            rows = fresh[_rule_part(row_key)]
            if written_content is None:
                rows.pop(row_key, None)
            else:
                rows[row_key] = written_content
        rules.update({part: rows for part, rows in fresh.items() if rows})
        self._kept.put(tenant, _KeptState(seq, head.purged, rules))

    def history(
        self,
        tenant_id: str,
        rule: str | None = None,
        subject: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        continuation: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Transition]:
        """Transitions newest first; `status` matches the status a subject moved *to*."""
        tenant = tenant_key(tenant_id)
        conditions, parameters = [], {}
        for column, name, value in (
            ("Rule", "rule", rule),
            ("SubjectId", "subject", subject),
            ("ToStatus", "status", status),
        ):
            if value is not None:
                conditions.append(f"{column} eq @{name}")
                parameters[name] = value
        return self._time_page(
            keys.TRANSITIONS_TABLE,
            tenant,
            since,
            until,
            continuation,
            page_size,
            conditions,
            parameters,
            lambda entity: _transition_from_entity(tenant, entity),
        )

    def runs(
        self,
        tenant_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        continuation: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[RunRecord]:
        tenant = tenant_key(tenant_id)
        return self._time_page(
            keys.RUNS_TABLE,
            tenant,
            since,
            until,
            continuation,
            page_size,
            [],
            {},
            lambda entity: _run_record_from_json(json.loads(entity["Run"])),
        )

    def _time_page(
        self,
        table: str,
        tenant: str,
        since: datetime | None,
        until: datetime | None,
        continuation: str | None,
        page_size: int,
        conditions: list[str],
        parameters: dict[str, Any],
        convert: Callable[[Mapping[str, Any]], T],
    ) -> Page[T]:
        """Newest first across month partitions, one single-partition query at a time."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidQueryError(f"page size must be 1..{MAX_PAGE_SIZE}")
        until = until or self._clock()
        since = since or until - timedelta(days=self.retention_days)
        if since > until:
            raise InvalidQueryError("since must not be after until")
        months = months_back(until, since)
        after = ""
        if continuation is not None:
            month, after = decode_continuation(continuation, months)
            months = months[months.index(month) :]
        query = " and ".join(
            [
                "PartitionKey eq @pk",
                "RowKey gt @after",
                "RowKey ge @newest",
                "RowKey lt @oldest",
                *conditions,
            ]
        )
        items: list[T] = []
        last_key = ""
        for index, month in enumerate(months):
            values = {
                **parameters,
                "pk": f"{tenant}{SEPARATOR}{month}",
                "after": after,
                "newest": inverted_time(until),
                "oldest": inverted_time(since) + _ROW_KEY_END,
            }
            after = ""
            results = self._query(table, query, values, results_per_page=page_size + 1)
            for entity in results:
                if len(items) == page_size:
                    token = encode_continuation(month, last_key)
                    return Page(tuple(items), token)
                items.append(convert(entity))
                last_key = str(entity["RowKey"])
            if len(items) == page_size and index + 1 < len(months):
                return Page(tuple(items), encode_continuation(months[index + 1], ""))
        return Page(tuple(items), None)

    # -- change events ----------------------------------------------------------------------

    def record_change_events(self, tenant_id: str, events: Iterable[ChangeEvent]) -> int:
        """Idempotent: the same event recorded twice is one entity."""
        tenant = tenant_key(tenant_id)
        operations = [("upsert", _change_entity(tenant, event), _REPLACE) for event in events]
        return self._submit_chunks(keys.CHANGES_TABLE, operations)

    def changes(
        self,
        tenant_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        continuation: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[ChangeWithEffects]:
        """Change events newest first, each with the transitions it is believed to have caused."""
        tenant = tenant_key(tenant_id)
        conditions, parameters = [], {}
        if actor is not None:
            # The SDK finds parameters by splitting the filter on spaces: "@actor)" would not
            # be substituted, so parentheses stand apart.
            conditions.append("( ActorName eq @actor or ActorId eq @actor )")
            parameters["actor"] = actor
        page = self._time_page(
            keys.CHANGES_TABLE,
            tenant,
            since,
            until,
            continuation,
            page_size,
            conditions,
            parameters,
            _change_from_entity,
        )
        with_effects = tuple(
            ChangeWithEffects(event, self._caused_by(tenant, event.event_id))
            for event in page.items
        )
        return Page(with_effects, page.continuation)

    def _caused_by(self, tenant: str, event_id: str) -> tuple[CausedTransition, ...]:
        caused = []
        for entity in self._query(
            keys.CAUSES_TABLE,
            "PartitionKey eq @pk",
            {"pk": _cause_partition(tenant, event_id)},
            results_per_page=MAX_CAUSE_LINKS_PER_EVENT,
        ):
            caused.append(_caused_from_entity(entity))
            if len(caused) == MAX_CAUSE_LINKS_PER_EVENT:
                break
        return tuple(caused)

    # -- operational records ----------------------------------------------------------------

    def get_cursor(self, tenant_id: str, name: str) -> tuple[str, str] | None:
        """The cursor's value and ETag (pass the ETag to `set_cursor` for compare-and-set)."""
        found = self._get_operational(tenant_id, "cursor", name)
        return (str(found[0]["Value"]), found[1]) if found else None

    def set_cursor(self, tenant_id: str, name: str, value: str, etag: str | None = None) -> str:
        return self._set_operational(tenant_id, "cursor", name, {"Value": value}, etag)

    def get_delta_link(self, tenant_id: str, collection: str) -> tuple[str, str] | None:
        found = self._get_operational(tenant_id, "delta", collection)
        return (str(found[0]["Value"]), found[1]) if found else None

    def set_delta_link(
        self, tenant_id: str, collection: str, link: str, etag: str | None = None
    ) -> str:
        return self._set_operational(tenant_id, "delta", collection, {"Value": link}, etag)

    def get_subscription(self, tenant_id: str, subscription_id: str) -> dict[str, Any] | None:
        found = self._get_operational(tenant_id, "subscription", subscription_id)
        return dict(json.loads(found[0]["Value"])) if found else None

    def set_subscription(
        self, tenant_id: str, subscription_id: str, document: Mapping[str, Any]
    ) -> str:
        """Store what Graph returned for a subscription; never its clientState (a secret)."""
        kept = {key: value for key, value in document.items() if key != "clientState"}
        return self._set_operational(
            tenant_id, "subscription", subscription_id, {"Value": json.dumps(kept)}, None
        )

    def list_subscriptions(self, tenant_id: str) -> list[dict[str, Any]]:
        tenant = tenant_key(tenant_id)
        prefix = f"subscription{SEPARATOR}"
        return [
            dict(json.loads(entity["Value"]))
            for entity in self._query(
                keys.OPERATIONS_TABLE,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                {"pk": tenant, "low": prefix, "high": prefix[:-1] + _ROW_KEY_END},
            )
        ]

    def _get_operational(
        self, tenant_id: str, kind: str, name: str
    ) -> tuple[Mapping[str, Any], str] | None:
        row_key = f"{kind}{SEPARATOR}{key_part(name)}"
        try:
            entity = self._table(keys.OPERATIONS_TABLE).get_entity(tenant_key(tenant_id), row_key)
        except ResourceNotFoundError:
            return None
        return entity, str(entity.metadata["etag"])

    def _set_operational(
        self, tenant_id: str, kind: str, name: str, columns: dict[str, Any], etag: str | None
    ) -> str:
        """Unconditional upsert, or compare-and-set when `etag` is given (412 if it moved)."""
        entity = {
            "PartitionKey": tenant_key(tenant_id),
            "RowKey": f"{kind}{SEPARATOR}{key_part(name)}",
            "Name": name,
            "UpdatedAt": format_time(self._clock()),
            **columns,
        }
        table = self._table(keys.OPERATIONS_TABLE)
        if etag is None:
            metadata = table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        else:
            metadata = table.update_entity(entity, **_if_match(etag, UpdateMode.REPLACE))
        return str(metadata["etag"])

    def list_operational(self, tenant_id: str, kind: str) -> list[tuple[dict[str, Any], str]]:
        """Every operations row of one kind in the tenant's partition, with its ETag."""
        prefix = f"{kind}{SEPARATOR}"
        return [
            (dict(entity), str(entity.metadata["etag"]))
            for entity in self._query(
                keys.OPERATIONS_TABLE,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                {"pk": tenant_key(tenant_id), "low": prefix, "high": prefix[:-1] + _ROW_KEY_END},
            )
        ]

    def put_operational(self, tenant_id: str, kind: str, name: str, columns: dict[str, Any]) -> str:
        return self._set_operational(tenant_id, kind, name, columns, None)

    def delete_operational(self, tenant_id: str, kind: str, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._table(keys.OPERATIONS_TABLE).delete_entity(
                tenant_key(tenant_id), f"{kind}{SEPARATOR}{key_part(name)}"
            )

    def attach_causes(
        self, tenant_id: str, transitions: Iterable[Transition], cause_event_ids: Sequence[str]
    ) -> tuple[Transition, ...]:
        """Attribute already recorded transitions to change events found later (a directory
        audit record that arrived after the change notification). Upserts under the same keys,
        so repeating it is harmless; returns the transitions with their causes now."""
        tenant = tenant_key(tenant_id)
        attached = tuple(
            replace(
                t,
                cause_event_ids=tuple(dict.fromkeys((*t.cause_event_ids, *cause_event_ids)))[
                    :MAX_CAUSES
                ],
            )
            for t in transitions
        )
        self._submit_chunks(
            keys.TRANSITIONS_TABLE,
            [("upsert", _transition_entity(tenant, t), _REPLACE) for t in attached],
        )
        self._submit_chunks(
            keys.CAUSES_TABLE,
            [
                ("upsert", _cause_entity(tenant, cause, t), _REPLACE)
                for t in attached
                for cause in t.cause_event_ids
            ],
        )
        return attached

    # -- retention --------------------------------------------------------------------------

    def purge_expired(self, tenant_id: str, now: datetime | None = None) -> dict[str, int]:
        """Delete what is older than the retention period, one partition at a time.

        Time-ordered tables are partitioned by tenant and month: months wholly past the
        cutoff are emptied, and in the cutoff month only rows older than the cutoff (a row
        key range) go. The state partition loses forgotten rows and long-resolved verdicts.
        """
        tenant = tenant_key(tenant_id)
        cutoff = (now or self._clock()) - timedelta(days=self.retention_days)
        deleted: dict[str, int] = {}
        oldest = cutoff - timedelta(days=31 * PURGE_LOOKBACK_MONTHS)
        for table in (keys.TRANSITIONS_TABLE, keys.RUNS_TABLE, keys.CHANGES_TABLE):
            count = 0
            for month in months_back(cutoff, oldest):
                partition = f"{tenant}{SEPARATOR}{month}"
                query, values = "PartitionKey eq @pk", {"pk": partition}
                if month == month_of(cutoff):
                    query += " and RowKey gt @older"
                    values["older"] = inverted_time(cutoff) + _ROW_KEY_END
                expired = list(self._query(table, query, values))
                if table == keys.CHANGES_TABLE:
                    for entity in expired:
                        count += self._delete_partition(
                            keys.CAUSES_TABLE, _cause_partition(tenant, str(entity["EventId"]))
                        )
                count += self._submit_chunks(
                    table, [("delete", _key_of(entity)) for entity in expired]
                )
            deleted[table] = count
        deleted[keys.STATE_TABLE] = self._purge_state(tenant, cutoff)
        return deleted

    def _delete_partition(self, table: str, partition: str) -> int:
        entities = list(self._query(table, "PartitionKey eq @pk", {"pk": partition}))
        return self._submit_chunks(table, [("delete", _key_of(entity)) for entity in entities])

    def _purge_state(self, tenant: str, cutoff: datetime) -> int:
        try:
            head = _Head.from_entity(self._table(keys.STATE_TABLE).get_entity(tenant, HEAD_ROW_KEY))
        except ResourceNotFoundError:
            return 0
        deleted = 0
        table = self._table(keys.STATE_TABLE)
        for row_key, entity in self._read_entities(tenant, head.committed).items():
            if int(entity.get("Seq", 0)) > head.committed:
                continue  # an uncommitted write's entity: the next writer restores it
            content = buckets.visible_content(entity, head.committed)
            kept = {
                key: item
                for key, item in content.items()
                if not (
                    item.record.status == StoredStatus.RESOLVED
                    and item.record.last_changed < cutoff
                )
            }
            if kept and len(kept) == len(content):
                continue
            etag = str(entity.metadata["etag"])
            try:
                if kept:  # a bucket keeps its other records, still committed
                    data = buckets.split_columns("Data", buckets.content_text(kept))
                    table.update_entity(
                        {**_key_of(entity), **data, "Records": len(kept)},
                        mode=UpdateMode.MERGE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                else:
                    table.delete_entity(
                        tenant, row_key, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                deleted += max(1, len(content) - len(kept))
            except (ResourceModifiedError, ResourceNotFoundError):
                pass  # a writer touched it meanwhile: it stays
        if deleted:
            # Records went without a commit: a kept state of this tenant (on any instance)
            # must not be answered any more. Marked after the deletions, so a state read
            # between them and the mark is not kept under the new mark. (A writer meanwhile
            # loses its race on the head and starts over, as after any other writer.)
            self._kept.pop(tenant)
            table.update_entity(
                {"PartitionKey": tenant, "RowKey": HEAD_ROW_KEY, "StatePurge": uuid.uuid4().hex},
                mode=UpdateMode.MERGE,
            )
        return deleted


def _state_view(tenant: str, head: _Head, items: Iterable[Item]) -> StateView:
    """The state of the visible `items` under `head` (a verdict per item that reads as
    something, in the order of `items`; the passes counted)."""
    verdicts = []
    counted = dict(head.passing or {})
    # Rules last recorded before passes were counted keep pass rows: count those.
    legacy: QuietCounts = {}
    evaluated_at: dict[str, datetime | None] = {}
    for item in items:
        record = item.record
        rule_id = record.rule_id
        if is_counted(record):
            # A tombstone (counted in the head) or a pass row of the old format.
            if record.rule_id not in counted:
                count = legacy.setdefault(record.rule_id, {}).setdefault(
                    record.scope_id, [0, 0, record.scope_name]
                )
                count[0 if record.status == StoredStatus.PASS else 1] += 1
            continue
        if rule_id not in evaluated_at:
            evaluated = head.rule_evaluated.get(rule_id)
            evaluated_at[rule_id] = parse_time(evaluated) if evaluated else None
        verdicts.append(CurrentVerdict(record, evaluated_at[rule_id]))
    counted.update(legacy)
    passing = tuple(
        PassingCount(rule_id, scope_id, str(name), int(passed), int(not_applicable))
        for rule_id, scopes in sorted(counted.items())
        for scope_id, (passed, not_applicable, name) in sorted(scopes.items())
        if passed or not_applicable
    )
    return StateView(tenant, head.committed_run or None, head.captured_at, tuple(verdicts), passing)


class _LostRace(Exception):
    """Another writer moved the tenant's head: start over from its committed state."""


_REPLACE = {"mode": UpdateMode.REPLACE}


def _if_match(etag: str, mode: UpdateMode) -> dict[str, Any]:
    return {"mode": mode, "etag": etag, "match_condition": MatchConditions.IfNotModified}


def _is_conflict(error: HttpResponseError) -> bool:
    code = str(getattr(error, "error_code", "") or "")
    status = getattr(error, "status_code", None)
    return (
        status in (409, 412)
        or code in _CONFLICT_CODES
        or code.endswith("UPDATE_CONDITION_NOT_SATISFIED")
    )


def _key_of(entity: Mapping[str, Any]) -> dict[str, str]:
    return {"PartitionKey": str(entity["PartitionKey"]), "RowKey": str(entity["RowKey"])}


def _rule_part(row_key: str) -> str:
    """The encoded rule of a state row key `s|rule|…` or a bucket key `b|rule|…`."""
    return row_key[len(STATE_ROW_PREFIX) :].split(SEPARATOR, 1)[0]


def _rule_parts(rule_ids: Iterable[str]) -> frozenset[str]:
    return frozenset(key_part(rule_id) for rule_id in rule_ids)


def _rule_ranges(wanted: frozenset[str], known: frozenset[str]) -> list[tuple[str, str]]:
    """Row key ranges holding exactly the state entities of the `wanted` rules (encoded).

    A rule's entities are `b|rule|…` (buckets) and `s|rule|…` (rows of the previous layout);
    the rules are ordered as their keys sort (`rule|`), and wanted rules with no other known
    rule between them share one range, so an evaluation of every rule is two queries.
    """
    spans: list[tuple[str, str]] = []
    first = last = ""
    for part in sorted(wanted | known, key=lambda part: part + SEPARATOR):
        if part in wanted:
            first, last = first or part, part
            continue
        if first:
            spans.append((first, last))
            first = last = ""
    if first:
        spans.append((first, last))
    return [
        (f"{prefix}{first}{SEPARATOR}", f"{prefix}{last}{_ROW_KEY_END}")
        for prefix in (BUCKET_ROW_PREFIX, STATE_ROW_PREFIX)
        for first, last in spans
    ]


def _merged(contents: Mapping[str, Content]) -> Content:
    """One visible item per record: rows of the previous layout first, buckets over them.

    A record is in two entities only after a migration or a change of bucket layout was
    interrupted and repaired: the new bucket then holds the same committed value as the
    entity it was to replace, until the next writer of the rule deletes that one.
    """
    merged: Content = {}
    for row_key in sorted(contents, key=lambda key: (buckets.is_bucket(key), key)):
        merged.update(contents[row_key])
    return merged


def _bucket_operations(
    tenant: str,
    seq: int,
    contents: Mapping[str, Content],
    uncommitted: frozenset[str],
    restores: Sequence[tuple[Any, ...]],
    visible: Content,
    desired: Content,
    evaluated: frozenset[str],
    target: int,
    written: dict[str, Content | None] | None = None,
) -> list[tuple[Any, ...]]:
    """The writes that leave the evaluated rules' records as `desired`, in buckets.

    Per (rule, scope): the prefix length (kept unless the number of records moved far), the
    buckets whose content or previous content differs from what they hold, written with
    `Prev` = what their records read as before this write (from whichever entity held them);
    entities of another layout (rows, buckets of another length) are deleted after every
    upsert, so a writer cut anywhere leaves each record readable from some entity. Entities
    of other rules that an unfinished write left are put back (repair: `restores`).

    `contents`: the visible content of every entity read (row key -> content), `uncommitted`
    the row keys of those with `Seq > Committed`. `written` receives the content each upsert of
    an evaluated rule's entity makes visible once committed, and None for each one deleted.
    """
    upserts: list[tuple[Any, ...]] = []
    deletes: list[tuple[Any, ...]] = []
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row_key in contents:
        if _rule_part(row_key) in evaluated:
            groups[buckets.group_of_key(row_key)].append(row_key)
    for restore in restores:
        (upserts if restore[0] == "upsert" else deletes).append(restore)
    if written is None:
        written = {}
    wanted: dict[tuple[str, str], Content] = defaultdict(dict)
    before: dict[tuple[str, str], Content] = defaultdict(dict)
    for key, item in desired.items():
        wanted[buckets.group_of_record(item.record)][key] = item
    for key, item in visible.items():
        if _rule_part(key) in evaluated:
            before[buckets.group_of_record(item.record)][key] = item
    for group in sorted(set(groups) | set(wanted) | set(before)):
        held = [key for key in groups.get(group, []) if buckets.is_bucket(key)]
        lengths = [buckets.prefix_length(key) for key in held]
        current = max(sorted(set(lengths)), key=lengths.count) if lengths else None
        length = buckets.choose_length(wanted[group].values(), current, target)
        new: dict[str, Content] = defaultdict(dict)
        old: dict[str, Content] = defaultdict(dict)
        for key, item in wanted[group].items():
            new[buckets.bucket_key(item.record, length)][key] = item
        for key, item in before[group].items():
            old[buckets.bucket_key(item.record, length)][key] = item
        targets = set(new) | set(old)
        for bucket in sorted(
            targets | {key for key in held if buckets.prefix_length(key) == length}
        ):
            own = contents.get(bucket, {})
            content, prev = new.get(bucket, {}), old.get(bucket, {})
            if not content and not buckets.loud(prev):
                if bucket in contents:
                    deletes.append(_delete_operation(tenant, bucket))
                    written[bucket] = None
                continue
            unchanged = buckets.same(content, own) and buckets.same(prev, own)
            if unchanged and bucket in contents and bucket not in uncommitted:
                continue
            text = buckets.content_text(content)
            upserts.append(_bucket_upsert(tenant, bucket, seq, content, prev, text))
            # As a read will find it (the stored form: sorted, values as stored).
            written[bucket] = buckets.parse_content(text)
        for row_key in groups.get(group, []):
            if row_key not in targets and not (
                buckets.is_bucket(row_key) and buckets.prefix_length(row_key) == length
            ):
                deletes.append(_delete_operation(tenant, row_key))
                written[row_key] = None
    return upserts + deletes


def _bucket_upsert(
    tenant: str, row_key: str, seq: int, content: Content, prev: Content, text: str | None = None
) -> tuple[Any, ...]:
    transited = any(item.tseq == seq for item in content.values())
    entity: dict[str, Any] = {
        "PartitionKey": tenant,
        "RowKey": row_key,
        "Seq": seq,
        "TSeq": seq if transited else 0,
        "Records": len(content),
        **buckets.split_columns("Data", buckets.content_text(content) if text is None else text),
        **buckets.split_columns("Prev", buckets.content_text(prev)),
    }
    return ("upsert", entity, _REPLACE)


def _restore(tenant: str, row_key: str, entity: Mapping[str, Any]) -> tuple[Any, ...]:
    """Put an entity an interrupted writer left back to what it read as before."""
    previous = buckets.previous_content(entity)
    if not buckets.loud(previous):
        return _delete_operation(tenant, row_key)  # back to no entity
    if buckets.is_bucket(row_key):
        return _bucket_upsert(tenant, row_key, 0, previous, previous)
    record = next(iter(previous.values())).record
    restored: dict[str, Any] = {
        "PartitionKey": tenant,
        "RowKey": row_key,
        "Exists": True,
        "Seq": 0,
        "TSeq": 0,
        "TFrom": "",
        "Prev": entity.get("Prev") or "null",
        **record.as_columns(),
    }
    return ("upsert", restored, _REPLACE)


def _delete_operation(tenant: str, row_key: str) -> tuple[Any, ...]:
    return ("delete", {"PartitionKey": tenant, "RowKey": row_key})


def _chunks(operations: Sequence[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """Transactions of at most 99 operations (plus the head) and _TRANSACTION_BYTES of data."""
    return transaction_chunks(operations, limit=TRANSACTION_LIMIT - 1, budget=_TRANSACTION_BYTES)


_PASSING_CHARS = 30_000  # per property (Table Storage: 32 K UTF-16 characters)
_MAX_PASSING_PARTS = 24  # the head stays well under the 1 MiB entity limit


def _passing_of(entity: Mapping[str, Any]) -> QuietCounts | None:
    parts = int(entity.get("PassingParts", 0) or 0)
    if not parts:
        return None
    text = "".join(str(entity.get(f"Passing{index}", "")) for index in range(parts))
    return dict(json.loads(text))


def _passing_columns(passing: QuietCounts) -> dict[str, Any]:
    text = json.dumps(passing, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    parts = [text[i : i + _PASSING_CHARS] for i in range(0, len(text), _PASSING_CHARS)] or [""]
    if len(parts) > _MAX_PASSING_PARTS:
        raise ValueError(f"pass counts of {len(passing)} rules exceed the head's size")
    columns: dict[str, Any] = {"PassingParts": len(parts)}
    columns.update({f"Passing{index}": part for index, part in enumerate(parts)})
    return columns


def _transition(
    tenant: str, seq: int, run_id: str, change: Change, causes: tuple[str, ...]
) -> Transition:
    assert change.record is not None
    return Transition(
        tenant,
        change.record.last_changed,
        run_id,
        seq,
        change.from_status,
        change.record.status,
        change.record,
        causes,
    )


def _transition_row_key(transition: Transition) -> str:
    record = transition.record
    subject = digest(record.rule_id, record.scope_id, record.subject_type, record.subject_id)
    return f"{inverted_time(transition.at)}{SEPARATOR}{transition.seq:010d}{SEPARATOR}{subject}"


def _transition_entity(tenant: str, transition: Transition) -> dict[str, Any]:
    return {
        "PartitionKey": keys.time_partition(tenant, transition.at),
        "RowKey": _transition_row_key(transition),
        **transition.record.as_columns(),
        "FromStatus": transition.from_status.value if transition.from_status else "",
        "ToStatus": transition.to_status.value,
        "At": format_time(transition.at),
        "RunId": transition.run_id,
        "Seq": transition.seq,
        "Causes": json.dumps(list(transition.cause_event_ids)),
    }


def _transition_from_entity(tenant: str, entity: Mapping[str, Any]) -> Transition:
    record = VerdictRecord.from_columns(entity)
    return Transition(
        tenant_id=tenant,
        at=parse_time(entity["At"]),
        run_id=str(entity["RunId"]),
        seq=int(entity["Seq"]),
        from_status=StoredStatus(entity["FromStatus"]) if entity.get("FromStatus") else None,
        to_status=StoredStatus(entity["ToStatus"]),
        record=record,
        cause_event_ids=tuple(json.loads(entity.get("Causes") or "[]")),
    )


def _cause_partition(tenant: str, event_id: str) -> str:
    return f"{tenant}{SEPARATOR}{digest(event_id, length=32)}"


def _cause_entity(tenant: str, event_id: str, transition: Transition) -> dict[str, Any]:
    record = transition.record
    return {
        "PartitionKey": _cause_partition(tenant, event_id),
        "RowKey": f"{month_of(transition.at)}{SEPARATOR}{_transition_row_key(transition)}",
        "EventId": event_id,
        "At": format_time(transition.at),
        "Rule": record.rule_id,
        "ScopeId": record.scope_id,
        "SubjectType": record.subject_type,
        "SubjectId": record.subject_id,
        "SubjectName": record.subject_name,
        "FromStatus": transition.from_status.value if transition.from_status else "",
        "ToStatus": transition.to_status.value,
        "Severity": record.severity,
        "RunId": transition.run_id,
    }


def _caused_from_entity(entity: Mapping[str, Any]) -> CausedTransition:
    return CausedTransition(
        at=parse_time(entity["At"]),
        rule_id=str(entity["Rule"]),
        scope_id=str(entity.get("ScopeId", "")),
        subject_type=str(entity["SubjectType"]),
        subject_id=str(entity["SubjectId"]),
        subject_name=str(entity.get("SubjectName", "")),
        from_status=StoredStatus(entity["FromStatus"]) if entity.get("FromStatus") else None,
        to_status=StoredStatus(entity["ToStatus"]),
        severity=str(entity["Severity"]),
        run_id=str(entity["RunId"]),
    )


def _change_entity(tenant: str, event: ChangeEvent) -> dict[str, Any]:
    properties: list[dict[str, str | None]] = []
    used = 0
    for prop in event.modified_properties:
        shown = {
            "name": truncate(prop.name, 200),
            "oldValue": None if prop.old_value is None else truncate(prop.old_value, 1_000),
            "newValue": None if prop.new_value is None else truncate(prop.new_value, 1_000),
        }
        size = len(json.dumps(shown, ensure_ascii=False))
        if used + size > MAX_MODIFIED_PROPERTIES_TEXT:
            remaining = len(event.modified_properties) - len(properties)
            properties.append(
                {
                    "name": f"… [truncated {remaining} more properties]",
                    "oldValue": None,
                    "newValue": None,
                }
            )
            break
        properties.append(shown)
        used += size
    return {
        "PartitionKey": keys.time_partition(tenant, event.at),
        "RowKey": f"{inverted_time(event.at)}{SEPARATOR}{digest(event.event_id)}",
        "EventId": truncate(event.event_id, 400),
        "At": format_time(event.at),
        "ActorType": truncate(event.actor_type, 40),
        "ActorId": truncate(event.actor_id, 400),
        "ActorName": truncate(event.actor_name, 400),
        "Activity": truncate(event.activity, 1_000),
        "ResourceType": truncate(event.resource_type, 400),
        "ResourceId": truncate(event.resource_id, 400),
        "ModifiedProperties": json.dumps(properties, ensure_ascii=False),
        "CorrelationId": truncate(event.correlation_id, 400),
        "Source": truncate(event.source, 100),
    }


def _change_from_entity(entity: Mapping[str, Any]) -> ChangeEvent:
    return ChangeEvent(
        event_id=str(entity["EventId"]),
        at=parse_time(entity["At"]),
        actor_type=str(entity.get("ActorType", "")),
        actor_id=str(entity.get("ActorId", "")),
        actor_name=str(entity.get("ActorName", "")),
        activity=str(entity.get("Activity", "")),
        resource_type=str(entity.get("ResourceType", "")),
        resource_id=str(entity.get("ResourceId", "")),
        source=str(entity.get("Source", "")),
        correlation_id=str(entity.get("CorrelationId", "")),
        modified_properties=tuple(
            ModifiedProperty(p["name"], p.get("oldValue"), p.get("newValue"))
            for p in json.loads(entity.get("ModifiedProperties") or "[]")
        ),
    )


def _run_record_json(record: RunRecord) -> dict[str, Any]:
    document = record.as_json()
    document["seq"] = record.seq
    return document


def _run_record_from_json(document: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        run_id=str(document["runId"]),
        trigger=str(document["trigger"]),
        started_at=parse_time(document["startedAt"]),
        captured_at=parse_time(document["capturedAt"]),
        duration_ms=int(document["durationMs"]),
        graph_requests=int(document["graphRequests"]),
        counts={str(k): int(v) for k, v in document["counts"].items()},
        unreadable=tuple(document["unreadable"]),
        transitions=int(document["transitions"]),
        outcome=str(document["outcome"]),
        seq=int(document.get("seq", 0)),
    )
