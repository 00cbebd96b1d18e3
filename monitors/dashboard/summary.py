"""The readiness summary: what the dashboard shows, written once per evaluation.

At evaluation time every finding is in memory; the dashboard's tenant page, profile view and
all-tenants overview read this summary instead of the tenant's whole state partition.

Table `GreenscreenReadinessSummary`, partition = the tenant:

- one entity per rule, `rule|<rule>`: when the rule was last evaluated (`EvaluatedAt`, the
  snapshot time the verdict store keeps in the head's `RuleEvaluated`), the run, per profile
  (scope; "" is tenant-wide) the count of each status, of blocking failures and unknowns, and
  the worst `PER_SCOPE` failing/unknown findings with their reasons (split over properties of
  at most `PROPERTY_CHARS` characters: 64 KiB per property, 1 MiB per entity), per profile
  the worst severity each blocking failure has (`Failing`: what a RED verdict names), and per
  profile whether it allows pre-provisioning (`Profiles`, from the snapshot the rule was
  evaluated on; absent when the writer had no snapshot). An evaluation
  of some rules (a change re-evaluates only the rules that read what changed) replaces those
  rules' entities and leaves the others: the summary is the union, rule by rule, exactly as
  the store keeps its verdicts.
- `devices|head` (and its `devices|<generation>|...` pages): per-device readiness, written by
  evaluations of every rule (a full read, `greenscreen check --store`), see `write_devices`.

Every rule entity is written under `If-Match` of the ETag read (or created only if absent),
and never over an entity of a newer `EvaluatedAt`: a writer that lost a race, or evaluated an
older snapshot, cannot overwrite a newer summary. A reader trusts the summary only when every
rule the store's head names carries exactly the head's `RuleEvaluated` time; otherwise (no
summary yet, data written by an older version, a writer that died between commit and
summary) the dashboard falls back to scanning the state partition.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from monitors.reports.profile_verdict import not_preprovisioning
from monitors.reports.stored_verdicts import severity_of
from monitors.store.keys import (
    HEAD_ROW_KEY,
    STATE_TABLE,
    SUMMARY_TABLE,
    digest,
    format_time,
    key_part,
    parse_time,
    tenant_key,
)
from monitors.store.records import (
    MAX_MESSAGE,
    MAX_NAME,
    VerdictRecord,
    truncate,
    truncate_reasons,
)
from rules.applicability import Certainty
from rules.device_readiness import (
    DeviceBlocker,
    DeviceBlockers,
    DeviceReadiness,
    GroupHolding,
    Readiness,
)
from rules.engine import Evaluation
from rules.findings import Finding, Severity, Status

if TYPE_CHECKING:
    from monitors.store.records import RecordResult
    from monitors.store.verdict_store import VerdictStore
    from rules.snapshot_model import TenantSnapshot

log = logging.getLogger(__name__)

FORMAT: Final = 3  # the layout of these entities; a reader ignores any other
PER_SCOPE: Final = 25  # failing/unknown findings kept per rule and profile
PROPERTY_CHARS: Final = 30_000  # one string property: 64 KiB of UTF-16, with room to spare
ENTITY_CHARS: Final = 420_000  # JSON text kept in one entity (1 MiB, UTF-16)
FINDING_CHARS: Final = 4_000  # one kept finding, at most (longer reason chains are cut)
MAX_DEVICE_MESSAGE: Final = 300
MAX_REASONS: Final = 4
MAX_REASON: Final = 400
MAX_DEVICE_BLOCKERS: Final = 6
RISK_CHUNK: Final = 500  # at-risk devices per stored page
BUCKET_CHARS: Final = 60_000  # JSON text of one bucket of devices by serial, about
MAX_ATTEMPTS: Final = 8
TRANSACTION_OPERATIONS: Final = 100  # a table transaction: 100 operations, 4 MiB
TRANSACTION_CHARS: Final = 1_500_000  # of UTF-16 text per transaction, with room to spare
RULE_PREFIX: Final = "rule|"
DEVICES_HEAD: Final = "devices|head"
THRESHOLD: Final = Severity.ERROR
_NOT_GREEN = (Status.FAIL, Status.UNKNOWN)
_NOT_GREEN_VALUES = frozenset(status.value for status in _NOT_GREEN)
_WORST = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.MANUAL: 2, Status.PASS: 3}
_READINESS_ORDER = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}


# -- building ---------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finding_rank(finding: Finding) -> tuple[int, int, str, str]:
    return (
        0 if finding.status is Status.FAIL else 1,
        -finding.severity.rank,
        finding.subject.display_name.lower(),
        finding.subject.id,
    )


def _compact(finding: Finding, extra: int) -> dict[str, Any]:
    """The finding as the verdict store words it (the same bounds and the same note when
    several findings share a subject), so the summary shows what a scan would."""
    message = finding.message if not extra else f"{finding.message} (+{extra} more findings)"
    return {
        "s": finding.status.value,
        "v": finding.severity.value,
        "t": finding.subject.type,
        "i": finding.subject.id,
        "n": truncate(finding.subject.display_name, MAX_NAME),
        "p": finding.scope.profile_id if finding.scope else "",
        "pn": truncate(finding.scope.profile_name, MAX_NAME) if finding.scope else "",
        "m": truncate(message, MAX_MESSAGE),
        "r": list(truncate_reasons(finding.reasons)),
    }


def rule_entity(
    tenant: str,
    rule_id: str,
    findings: Iterable[Finding],
    evaluated_at: str,
    run_id: str,
    not_used: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The summary entity of one rule's findings (one verdict per scope and subject, the worst,
    as the verdict store keeps them). `not_used`: the profiles of the evaluated snapshot that
    do not allow pre-provisioning (None: no snapshot, not known)."""
    worst: dict[tuple[str, str, str], Finding] = {}
    shared: dict[tuple[str, str, str], int] = {}
    for finding in findings:
        slot = (
            finding.scope.profile_id if finding.scope else "",
            finding.subject.type,
            finding.subject.id,
        )
        kept = worst.get(slot)
        if kept is None:
            worst[slot] = finding
            continue
        shared[slot] = shared.get(slot, 0) + 1
        if (_WORST.get(finding.status, 4), -finding.severity.rank) < (
            _WORST.get(kept.status, 4),
            -kept.severity.rank,
        ):
            worst[slot] = finding
    tally = _Tally(not_used)
    for slot, finding in worst.items():
        scope = slot[0]
        not_green = tally.count(
            scope,
            finding.scope.profile_name if finding.scope else "",
            finding.status.value,
            finding.severity,
        )
        if not_green:
            tally.add(
                _Verdict(
                    scope,
                    partial(_compact, finding, shared.get(slot, 0)),
                    _finding_rank(finding),
                )
            )
    return tally.entity(tenant, rule_id, evaluated_at, run_id)


def rule_entity_of_records(
    tenant: str,
    rule_id: str,
    records: Iterable[VerdictRecord],
    evaluated_at: str,
    run_id: str,
    not_used: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The summary entity of one rule's recorded verdicts (the repair after a missed write;
    `not_used` as in `rule_entity`, from the repairing writer's snapshot if it has one)."""
    tally = _Tally(not_used)
    for record in records:
        severity = severity_of(record.severity)
        if tally.count(record.scope_id, record.scope_name, record.status.value, severity):
            tally.add(
                _Verdict(
                    record.scope_id,
                    lambda r=record: {  # type: ignore[misc]
                        "s": r.status.value,
                        "v": r.severity,
                        "t": r.subject_type,
                        "i": r.subject_id,
                        "n": r.subject_name,
                        "p": r.scope_id,
                        "pn": r.scope_name,
                        "m": r.message,
                        "r": list(r.reasons),
                    },
                    (
                        0 if record.status.value == Status.FAIL.value else 1,
                        -severity.rank,
                        record.subject_name.lower(),
                        record.subject_id,
                    ),
                )
            )
    return tally.entity(tenant, rule_id, evaluated_at, run_id)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """A failing or unknown verdict of a rule, as the summary may keep it."""

    scope: str
    compact: Callable[[], dict[str, Any]]  # only the kept ones are made
    rank: tuple[int, int, str, str]


class _Tally:
    """One rule's counts per profile and status, and its failing/unknown verdicts."""

    def __init__(self, not_used: frozenset[str] | None = None) -> None:
        self.counts: dict[str, dict[str, int]] = {}
        self.names: dict[str, str] = {}
        self.not_green: dict[str, list[_Verdict]] = {}
        self.failing: dict[str, Severity] = {}  # scope -> worst severity of a blocking failure
        self.not_used = not_used

    def count(self, scope: str, scope_name: str, status: str, severity: Severity) -> bool:
        """Count one verdict; True when it fails or is unknown."""
        by_status = self.counts.get(scope)
        if by_status is None:
            by_status = self.counts[scope] = {}
            if scope:
                self.names[scope] = truncate(scope_name, MAX_NAME)
        by_status[status] = by_status.get(status, 0) + 1
        if status not in _NOT_GREEN_VALUES:
            return False
        if severity.at_least(THRESHOLD):
            blocking = "blocking_" + status
            by_status[blocking] = by_status.get(blocking, 0) + 1
            worst = self.failing.get(scope)
            if status == Status.FAIL.value and (worst is None or severity.rank > worst.rank):
                self.failing[scope] = severity
        return True

    def add(self, verdict: _Verdict) -> None:
        self.not_green.setdefault(verdict.scope, []).append(verdict)

    def entity(self, tenant: str, rule_id: str, evaluated_at: str, run_id: str) -> dict[str, Any]:
        kept_findings: list[dict[str, Any]] = []
        used = 0
        # Round by round over the profiles: one profile's findings cannot crowd out another's.
        ranked = {
            scope: sorted(items, key=lambda v: v.rank)[:PER_SCOPE]
            for scope, items in self.not_green.items()
        }
        for position in range(PER_SCOPE):
            for scope in sorted(ranked):
                items = ranked[scope]
                if position >= len(items):
                    continue
                compact = items[position].compact()
                size = len(json.dumps(compact, ensure_ascii=False))
                while size > FINDING_CHARS and compact["r"]:  # a long reason chain: its head
                    compact["r"] = compact["r"][:-1]
                    compact["r"][-1:] = [_cut(r, MAX_REASON) for r in compact["r"][-1:]]
                    size = len(json.dumps(compact, ensure_ascii=False))
                if used + size > ENTITY_CHARS:
                    break
                kept_findings.append(compact)
                used += size
        entity: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": RULE_PREFIX + key_part(rule_id),
            "Format": FORMAT,
            "Rule": rule_id,
            "EvaluatedAt": evaluated_at,
            "RunId": run_id,
            "Counts": json.dumps(self.counts, sort_keys=True),
            "Names": json.dumps(self.names, sort_keys=True, ensure_ascii=False),
            "Failing": json.dumps({k: v.value for k, v in self.failing.items()}, sort_keys=True),
        }
        if self.not_used is not None:
            entity["Profiles"] = json.dumps(
                {scope: scope not in self.not_used for scope in self.counts if scope},
                sort_keys=True,
            )
        entity.update(_split("F", json.dumps(kept_findings, ensure_ascii=False)))
        return entity


def _split(prefix: str, text: str) -> dict[str, Any]:
    parts = [text[i : i + PROPERTY_CHARS] for i in range(0, len(text), PROPERTY_CHARS)] or [""]
    columns: dict[str, Any] = {f"{prefix}{i:02d}": part for i, part in enumerate(parts)}
    columns[f"{prefix}Parts"] = len(parts)
    return columns


def _joined(entity: Mapping[str, Any], prefix: str) -> str:
    parts = int(entity.get(f"{prefix}Parts", 0))
    return "".join(str(entity.get(f"{prefix}{i:02d}", "")) for i in range(parts))


# -- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryWrite:
    """What one evaluation did to the summary."""

    written: tuple[str, ...] = ()  # rules whose entity was written
    refused: tuple[str, ...] = ()  # rules with a newer summary already: left as they are
    devices: bool = False  # per-device readiness written (or re-stamped)
    repaired: tuple[str, ...] = ()  # other rules' entities rebuilt from the recorded verdicts


_TABLES_MADE: set[int] = set()


def _table(service: TableServiceClient, *, create: bool) -> TableClient:
    if create and id(service) not in _TABLES_MADE:
        service.create_table_if_not_exists(SUMMARY_TABLE)
        _TABLES_MADE.add(id(service))
    return service.get_table_client(SUMMARY_TABLE)


def write_summary(
    service: TableServiceClient,
    evaluation: Evaluation,
    run_id: str,
    *,
    devices: Sequence[DeviceReadiness] | None = None,
    snapshot: TenantSnapshot | None = None,
) -> SummaryWrite:
    """Write the summary of an evaluation the store has committed (one entity per rule).

    `devices`: the per-device readiness of an evaluation of every rule, written beside it.
    `snapshot`: the snapshot evaluated, for whether each profile allows pre-provisioning
    (without it the entities do not say, and the dashboard does not guess).
    """
    tenant = tenant_key(evaluation.tenant_id)
    evaluated_at = format_time(parse_time(evaluation.captured_at))
    table = _table(service, create=True)
    by_rule: dict[str, list[Finding]] = {rule.id: [] for rule in evaluation.rules}
    for finding in evaluation.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    blind = unread_rules(evaluation)
    not_used = not_preprovisioning(snapshot) if snapshot is not None else None
    entities = [
        rule_entity(tenant, rule_id, findings, evaluated_at, run_id, not_used)
        for rule_id, findings in by_rule.items()
        if rule_id not in blind
    ]
    written, refused = _write_rules(table, tenant, entities, evaluated_at)
    wrote_devices = False
    if devices is not None:
        wrote_devices = write_devices(service, tenant, devices, evaluation, run_id)
    return SummaryWrite(tuple(written), tuple(refused), wrote_devices)


def unread_rules(evaluation: Evaluation) -> frozenset[str]:
    """Rules that could not read all they read (a collection unreadable, or the rule raised):
    the store keeps their earlier subjects as unknown, which the findings alone do not say, so
    their summary is rebuilt from the recorded verdicts instead (`repair_summary`)."""
    unreadable = set(evaluation.unreadable)
    blind = {rule.id for rule in evaluation.rules if set(rule.graph_reads) & unreadable}
    blind.update(f.rule_id for f in evaluation.findings if f.rule_error)
    return frozenset(blind)


def _write_rules(
    table: TableClient, tenant: str, entities: Sequence[dict[str, Any]], evaluated_at: str
) -> tuple[list[str], list[str]]:
    """Compare-and-set every rule entity, in few requests: one query for the stored times and
    ETags, then table transactions of creates and `If-Match` replaces (one partition). A
    transaction that meets a concurrent write fails whole and is redone entity by entity."""
    mine = parse_time(evaluated_at)
    current = {
        str(e["RowKey"]): (parse_time(str(e["EvaluatedAt"])), str(e.metadata["etag"]))
        for e in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": RULE_PREFIX, "high": "rule}"},
            select=["RowKey", "EvaluatedAt"],
        )
    }
    written: list[str] = []
    refused: list[str] = []
    chunk: list[tuple[Any, ...]] = []
    chunk_chars = 0

    def submit() -> None:
        nonlocal chunk, chunk_chars
        if not chunk:
            return
        try:
            table.submit_transaction(chunk)
            written.extend(str(op[1]["Rule"]) for op in chunk)
        except TableTransactionError:
            for op in chunk:  # someone else wrote meanwhile: one by one, comparing again
                target = written if _write_unless_newer(table, op[1], evaluated_at) else refused
                target.append(str(op[1]["Rule"]))
        chunk, chunk_chars = [], 0

    for entity in entities:
        found = current.get(entity["RowKey"])
        if found is not None and found[0] > mine:
            refused.append(str(entity["Rule"]))
            continue
        operation: tuple[Any, ...] = (
            ("create", entity)
            if found is None
            else (
                "update",
                entity,
                {
                    "mode": UpdateMode.REPLACE,
                    "etag": found[1],
                    "match_condition": MatchConditions.IfNotModified,
                },
            )
        )
        size = sum(len(v) for v in entity.values() if isinstance(v, str))
        if len(chunk) == TRANSACTION_OPERATIONS or chunk_chars + size > TRANSACTION_CHARS:
            submit()
        chunk.append(operation)
        chunk_chars += size
    submit()
    return written, refused


def _write_unless_newer(table: TableClient, entity: dict[str, Any], evaluated_at: str) -> bool:
    """Compare-and-set: False when the stored entity is of a newer evaluation."""
    mine = parse_time(evaluated_at)
    for _ in range(MAX_ATTEMPTS):
        try:
            current = table.get_entity(
                entity["PartitionKey"], entity["RowKey"], select=["EvaluatedAt"]
            )
        except ResourceNotFoundError:
            try:
                table.create_entity(entity)
                return True
            except ResourceExistsError:
                continue  # another writer created it first: compare with theirs
        if parse_time(str(current["EvaluatedAt"])) > mine:
            return False
        try:
            table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except ResourceModifiedError:
            continue  # changed since we read it: compare again
        except ResourceNotFoundError:
            continue
    log.warning("summary of %s not written: other writers kept changing it", entity["Rule"])
    return False


def repair_summary(
    store: VerdictStore,
    service: TableServiceClient,
    tenant_id: str,
    skip: Iterable[str],
    not_used: frozenset[str] | None = None,
) -> tuple[str, ...]:
    """Rebuild, from the recorded verdicts, the entities of rules the store's head names whose
    entity is missing or of another evaluation (state recorded by a version that wrote no
    summary, or a writer that died between the store's commit and its summary write).

    One point read and one small query when nothing is missing; otherwise one scan of the
    state partition, once: afterwards every rule has its entity and the next writers keep it.
    """
    tenant = tenant_key(tenant_id)
    try:
        head = service.get_table_client(STATE_TABLE).get_entity(
            tenant, HEAD_ROW_KEY, select=["RuleEvaluated"]
        )
    except ResourceNotFoundError:
        return ()
    skipped = set(skip)
    try:
        named = json.loads(head.get("RuleEvaluated") or "{}")
        wanted = {str(rule): str(at) for rule, at in named.items() if rule not in skipped}
        for at in wanted.values():
            parse_time(at)
    except (ValueError, TypeError, AttributeError):
        return ()  # a head this version cannot read: the dashboard scans instead
    table = _table(service, create=True)
    stored = {
        str(e["Rule"]): str(e["EvaluatedAt"])
        for e in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": RULE_PREFIX, "high": "rule}"},
            select=["Rule", "EvaluatedAt", "Format"],
        )
        if int(e.get("Format", 0)) == FORMAT
    }
    missing = {
        rule: at
        for rule, at in wanted.items()
        if rule not in stored or parse_time(stored[rule]) != parse_time(at)
    }
    if not missing:
        return ()
    log.info("readiness summary: rebuilding %d rules from the recorded verdicts", len(missing))
    state = store.current_state(tenant)
    records: dict[str, list[VerdictRecord]] = {rule: [] for rule in missing}
    for verdict in state.verdicts:
        if verdict.record.rule_id in records:
            records[verdict.record.rule_id].append(verdict.record)
    repaired = []
    for rule, at in missing.items():
        evaluated_at = format_time(parse_time(at))
        entity = rule_entity_of_records(
            tenant, rule, records[rule], evaluated_at, state.last_run_id or "", not_used
        )
        if _write_unless_newer(table, entity, evaluated_at):
            repaired.append(rule)
    return tuple(repaired)


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredFinding:
    rule_id: str
    status: str
    severity: str
    subject_type: str
    subject_id: str
    subject_name: str
    scope_id: str
    scope_name: str
    message: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredSummary:
    """A tenant's summary, as fresh as the store's committed head."""

    # scope ("" tenant-wide) -> status (and "blocking_fail"/"blocking_unknown") -> count
    counts: Mapping[str, Mapping[str, int]]
    names: Mapping[str, str]
    findings: tuple[StoredFinding, ...]  # the kept failing/unknown ones (see `PER_SCOPE`)
    evaluated_at: Mapping[str, str]  # rule -> its evaluation time
    # scope -> rule -> the worst severity of its blocking failures there (what RED names)
    failing: Mapping[str, Mapping[str, Severity]] = field(default_factory=dict)
    # profile -> whether it allows pre-provisioning, as the newest evaluation that says it
    # saw it; a profile no entity says it of is absent (not known).
    preprovisioning: Mapping[str, bool] = field(default_factory=dict)


def read_summary(
    service: TableServiceClient,
    tenant_id: str,
    rule_evaluated: Mapping[str, str] | None,
    *,
    with_findings: bool = True,
) -> StoredSummary | None:
    """The tenant's summary when it matches the head's `RuleEvaluated`; None otherwise.

    One partition query of at most one entity per rule (the findings left out for the
    overview). None when the head names no rule times, an entity is missing, of another
    format, or of another evaluation than the one committed.
    """
    try:
        return _read_summary(service, tenant_id, rule_evaluated, with_findings)
    except (ValueError, KeyError, TypeError) as error:  # not of this format: as if absent
        log.warning("readiness summary unreadable: %s", type(error).__name__)
        return None


def _read_summary(
    service: TableServiceClient,
    tenant_id: str,
    rule_evaluated: Mapping[str, str] | None,
    with_findings: bool,
) -> StoredSummary | None:
    if not rule_evaluated:
        return None
    tenant = tenant_key(tenant_id)
    table = _table(service, create=False)
    select = (
        None
        if with_findings
        else ["RowKey", "Format", "Rule", "EvaluatedAt", "Counts", "Names", "Failing", "Profiles"]
    )
    entities: dict[str, Mapping[str, Any]] = {}
    try:
        for entity in table.query_entities(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            parameters={"pk": tenant, "low": RULE_PREFIX, "high": "rule}"},
            select=select,
        ):
            if int(entity.get("Format", 0)) == FORMAT:
                entities[str(entity["Rule"])] = entity
    except ResourceNotFoundError:
        return None
    for rule_id, at in rule_evaluated.items():
        kept = entities.get(rule_id)
        if kept is None or parse_time(str(kept["EvaluatedAt"])) != parse_time(at):
            return None
    counts: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    findings: list[StoredFinding] = []
    failing: dict[str, dict[str, Severity]] = {}
    flags: dict[str, tuple[datetime, bool]] = {}
    for rule_id in rule_evaluated:
        kept = entities[rule_id]
        for scope, severity in json.loads(kept.get("Failing") or "{}").items():
            failing.setdefault(str(scope), {})[rule_id] = Severity(severity)
        moment = parse_time(str(kept["EvaluatedAt"]))
        for scope, allowed in json.loads(kept.get("Profiles") or "{}").items():
            if not isinstance(allowed, bool):
                raise TypeError("Profiles")
            known = flags.get(scope)
            if known is None or moment > known[0]:  # the newest evaluation's snapshot says it
                flags[scope] = (moment, allowed)
        for scope, by_status in json.loads(kept["Counts"]).items():
            into = counts.setdefault(scope, {})
            for status, number in by_status.items():
                into[status] = into.get(status, 0) + int(number)
        names.update(json.loads(kept.get("Names") or "{}"))
        if with_findings:
            findings.extend(
                StoredFinding(
                    rule_id=rule_id,
                    status=str(f["s"]),
                    severity=str(f["v"]),
                    subject_type=str(f["t"]),
                    subject_id=str(f["i"]),
                    subject_name=str(f["n"]),
                    scope_id=str(f["p"]),
                    scope_name=str(f["pn"]),
                    message=str(f["m"]),
                    reasons=tuple(str(r) for r in f["r"]),
                )
                for f in json.loads(_joined(kept, "F") or "[]")
            )
    return StoredSummary(
        counts,
        names,
        tuple(findings),
        dict(rule_evaluated),
        failing,
        {scope: allowed for scope, (_, allowed) in flags.items()},
    )


# -- per-device readiness ---------------------------------------------------------------------


def _blocker_row(blocker: DeviceBlocker) -> list[Any]:
    return [
        blocker.status.value,
        blocker.severity.value,
        _cut(blocker.message, MAX_DEVICE_MESSAGE),
        blocker.rule_id,
        blocker.profile_id,
    ]


def _device_json(device: DeviceReadiness, blockers: list[Any]) -> dict[str, Any]:
    """A device as stored; `blockers`: its first blockers, as rows or as indexes into the
    bucket's table of blockers (devices of one profile share most of theirs)."""
    return {
        "id": device.device_id,
        "sn": device.serial_number,
        "n": _cut(device.display_name, 200),
        "gt": device.group_tag,
        "p": device.profile_id,
        "pn": device.profile_name,
        "c": device.profile_certainty.value,
        "cp": list(device.competing_profiles[:10]),
        "pr": [_cut(r, MAX_REASON) for r in device.profile_reasons[:MAX_REASONS]],
        "as": device.assignment_status,
        "ap": device.assigned_profile_name,
        "g": [
            [g.group_id, _cut(g.display_name, 200), g.certain, g.paused] for g in device.groups[:10]
        ],
        "b": blockers,
        "bn": len(device.blockers),
        "r": device.readiness.value,
    }


class _BlockerTable:
    """The distinct blockers of the devices in one stored entity, each written once."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self._index: dict[tuple[Any, ...], int] = {}

    def indexes(self, blockers: Iterable[DeviceBlocker]) -> list[int]:
        found = []
        for blocker in blockers:
            row = _blocker_row(blocker)
            index = self._index.setdefault(tuple(row), len(self.rows))
            if index == len(self.rows):
                self.rows.append(row)
            found.append(index)
        return found


def _risk_json(device: DeviceReadiness, blockers: list[Any]) -> dict[str, Any]:
    """What a row of devices at risk shows: serial, readiness, profile, the first blocker."""
    return {
        "id": device.device_id,
        "sn": device.serial_number,
        "n": _cut(device.display_name, 200),
        "p": device.profile_id,
        "pn": device.profile_name,
        "b": blockers,
        "bn": len(device.blockers),
        "r": device.readiness.value,
    }


def device_from_json(
    document: Mapping[str, Any], table: Sequence[Sequence[Any]] = ()
) -> DeviceReadiness:
    rows = [table[b] if isinstance(b, int) else b for b in document["b"]]
    blockers = [DeviceBlocker(Status(s), Severity(v), str(m), r, p) for s, v, m, r, p in rows]
    hidden = int(document.get("bn", len(blockers))) - len(blockers)
    if hidden > 0 and blockers:
        blockers.append(
            DeviceBlocker(blockers[-1].status, Severity.INFO, f"… and {hidden} more blockers")
        )
    return DeviceReadiness(
        device_id=str(document["id"]),
        serial_number=document.get("sn"),
        display_name=str(document.get("n") or ""),
        group_tag=document.get("gt"),
        profile_id=document.get("p"),
        profile_name=document.get("pn"),
        profile_certainty=Certainty(document.get("c", "unknown")),
        competing_profiles=tuple(document.get("cp", ())),
        profile_reasons=tuple(document.get("pr", ())),
        assignment_status=document.get("as"),
        assigned_profile_name=document.get("ap"),
        groups=tuple(
            GroupHolding(str(i), str(n), bool(c), bool(p)) for i, n, c, p in document.get("g", ())
        ),
        blockers=DeviceBlockers(tuple(blockers)),
        readiness=Readiness(document["r"]),
    )


def serial_bucket(serial: str, buckets: int) -> int:
    hashed = hashlib.sha256(serial.strip().lower().encode()).digest()
    return int.from_bytes(hashed[:4], "big") % buckets


def _risk_key(device: DeviceReadiness) -> tuple[int, str, str]:
    return (_READINESS_ORDER[device.readiness], device.serial_number or "", device.device_id)


def device_prints(evaluation: Evaluation) -> dict[str, str]:
    """Per rule, a fingerprint of what per-device readiness takes from its findings (the
    failing/unknown ones naming devices: status, severity, message, profile, the devices)."""
    tuples: dict[int, str] = {}
    parts: dict[str, list[str]] = {rule.id: [] for rule in evaluation.rules}
    for finding in evaluation.findings:
        if finding.status not in _NOT_GREEN or not finding.devices:
            continue
        named = tuples.get(id(finding.devices))
        if named is None:
            named = hashlib.sha256("\n".join(finding.devices).encode()).hexdigest()
            tuples[id(finding.devices)] = named
        profile = finding.scope.profile_id if finding.scope else ""
        parts.setdefault(finding.rule_id, []).append(
            "\x00".join(
                (finding.status.value, finding.severity.value, finding.message, profile, named)
            )
        )
    return {
        rule: hashlib.sha256("\x01".join(sorted(items)).encode()).hexdigest()[:32]
        for rule, items in parts.items()
    }


def write_devices(
    service: TableServiceClient,
    tenant: str,
    devices: Sequence[DeviceReadiness],
    evaluation: Evaluation,
    run_id: str,
) -> bool:
    """Per-device readiness of an evaluation of every rule: lookup by serial number in one
    point read (hash buckets) and the devices at risk in pages (all, and per profile).

    The pages are written under a new generation, then the head names it (If-Match, never
    over a newer evaluation), then older generations are deleted: a reader following the
    head never sees half of one.
    """
    table = _table(service, create=True)
    evaluated_at = format_time(parse_time(evaluation.captured_at))
    generation = digest(run_id, uuid.uuid4().hex, length=12)
    at_risk = sorted((d for d in devices if d.readiness is not Readiness.GREEN), key=_risk_key)
    per_profile: dict[str, list[DeviceReadiness]] = {"*": at_risk}
    for device in at_risk:
        per_profile.setdefault(device.profile_id or "", []).append(device)
    pages: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for profile, listed in per_profile.items():
        chunks = [listed[i : i + RISK_CHUNK] for i in range(0, len(listed), RISK_CHUNK)]
        pages[profile] = len(chunks)
        for number, chunk in enumerate(chunks):
            table_of = _BlockerTable()
            page = [_risk_json(d, table_of.indexes(d.blockers[:1])) for d in chunk]
            text = json.dumps({"b": table_of.rows, "d": page}, ensure_ascii=False)
            rows.append(
                {
                    "RowKey": f"devices|{generation}|risk|{key_part(profile)}|{number:05d}",
                    **_split("D", text),
                }
            )
    with_serial = {d.serial_number.strip().lower(): d for d in devices if d.serial_number}
    # Enough buckets that each holds about `BUCKET_CHARS` (a lookup reads one bucket).
    estimate = sum(300 + 100 * min(len(d.blockers), 3) for d in with_serial.values())
    buckets = max(1, -(-estimate // BUCKET_CHARS))
    grouped: list[dict[str, DeviceReadiness]] = [{} for _ in range(buckets)]
    for serial, device in with_serial.items():
        grouped[serial_bucket(serial, buckets)][serial] = device
    for number, members in enumerate(grouped):
        shared = _BlockerTable()
        documents = {
            serial: _device_json(device, shared.indexes(device.blockers[:MAX_DEVICE_BLOCKERS]))
            for serial, device in members.items()
        }
        text = json.dumps({"b": shared.rows, "d": documents}, ensure_ascii=False)
        if len(text) > ENTITY_CHARS:  # a bucket far above its share: keep the verdicts only
            first = _BlockerTable()
            slim = {s: _risk_json(d, first.indexes(d.blockers[:1])) for s, d in members.items()}
            text = json.dumps({"b": first.rows, "d": slim}, ensure_ascii=False)
        rows.append({"RowKey": f"devices|{generation}|serial|{number:05d}", **_split("D", text)})
    batch: list[tuple[Any, ...]] = []
    batch_chars = 0
    for row in rows:  # new keys of a new generation: plain upserts, in transactions
        size = sum(len(v) for v in row.values() if isinstance(v, str))
        if batch and (
            len(batch) == TRANSACTION_OPERATIONS or batch_chars + size > TRANSACTION_CHARS
        ):
            table.submit_transaction(batch)
            batch, batch_chars = [], 0
        batch.append(("upsert", {"PartitionKey": tenant, **row}, {"mode": UpdateMode.REPLACE}))
        batch_chars += size
    if batch:
        table.submit_transaction(batch)
    head = {
        "PartitionKey": tenant,
        "RowKey": DEVICES_HEAD,
        "Format": FORMAT,
        "EvaluatedAt": evaluated_at,
        "RunId": run_id,
        "Generation": generation,
        "Devices": len(devices),
        "Buckets": buckets,
        "Pages": json.dumps(pages, sort_keys=True),
        "AtRisk": json.dumps({p: len(v) for p, v in per_profile.items()}, sort_keys=True),
        # The rule evaluations it stands for (rule -> snapshot time) and their fingerprints.
        "Stamp": json.dumps({rule.id: evaluated_at for rule in evaluation.rules}, sort_keys=True),
        "Prints": json.dumps(device_prints(evaluation), sort_keys=True),
    }
    previous = _head_generation(table, tenant)
    if not _write_unless_newer(table, {**head, "Rule": DEVICES_HEAD}, evaluated_at):
        _delete_generation(table, tenant, generation)
        return False
    if previous and previous != generation:
        _delete_generation(table, tenant, previous)
    return True


def _head_generation(table: TableClient, tenant: str) -> str | None:
    try:
        return str(table.get_entity(tenant, DEVICES_HEAD, select=["Generation"])["Generation"])
    except ResourceNotFoundError:
        return None


def _delete_generation(table: TableClient, tenant: str, generation: str) -> None:
    prefix = f"devices|{generation}|"
    for entity in table.query_entities(
        "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
        parameters={"pk": tenant, "low": prefix, "high": prefix[:-1] + "}"},
        select=["PartitionKey", "RowKey"],
    ):
        table.delete_entity(tenant, str(entity["RowKey"]))  # a missing one is no error


class GenerationGone(LookupError):
    """The per-device readiness read was replaced by a newer one meanwhile: read the head again."""


@dataclass(frozen=True, slots=True)
class StoredDevices:
    """The head of a tenant's stored per-device readiness."""

    tenant: str
    generation: str
    evaluated_at: datetime
    devices: int
    buckets: int
    pages: Mapping[str, int]
    at_risk: Mapping[str, int] = field(default_factory=dict)  # "*" all, "" no profile


def read_devices_head(
    service: TableServiceClient, tenant_id: str, rule_evaluated: Mapping[str, str] | None
) -> StoredDevices | None:
    """The stored per-device readiness when it is of the committed evaluation of every rule:
    its time equals every rule's `RuleEvaluated` (a later evaluation of some rules makes it
    stale until the next evaluation of all of them)."""
    if not rule_evaluated:
        return None
    tenant = tenant_key(tenant_id)
    try:
        head = _table(service, create=False).get_entity(tenant, DEVICES_HEAD)
    except ResourceNotFoundError:
        return None
    try:
        if int(head.get("Format", 0)) != FORMAT:
            return None
        at = parse_time(str(head["EvaluatedAt"]))
        stamp = json.loads(head.get("Stamp") or "{}")
        for rule, evaluated in rule_evaluated.items():
            if rule not in stamp or parse_time(str(stamp[rule])) != parse_time(evaluated):
                return None
        return StoredDevices(
            tenant,
            str(head["Generation"]),
            at,
            int(head["Devices"]),
            max(1, int(head["Buckets"])),
            {k: int(v) for k, v in json.loads(head["Pages"]).items()},
            {k: int(v) for k, v in json.loads(head["AtRisk"]).items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("stored device readiness unreadable: %s", type(error).__name__)
        return None


def read_device(
    service: TableServiceClient, head: StoredDevices, serial: str
) -> DeviceReadiness | None:
    """One device by serial number: one point read of its bucket."""
    key = serial.strip().lower()
    number = serial_bucket(key, head.buckets)
    try:
        entity = _table(service, create=False).get_entity(
            head.tenant, f"devices|{head.generation}|serial|{number:05d}"
        )
    except ResourceNotFoundError:
        raise GenerationGone(head.generation) from None
    bucket = json.loads(_joined(entity, "D") or "{}")
    document = bucket.get("d", {}).get(key)
    return device_from_json(document, bucket.get("b", ())) if document is not None else None


def read_at_risk(
    service: TableServiceClient, head: StoredDevices, profile: str | None, start: int, size: int
) -> list[DeviceReadiness]:
    """Devices at risk `start`..`start+size` (all, or of one profile): at most two reads."""
    profile_key = "*" if profile is None else profile
    chunks = head.pages.get(profile_key, 0)
    found: list[DeviceReadiness] = []
    first, last = start // RISK_CHUNK, (start + size - 1) // RISK_CHUNK
    for number in range(first, min(last, chunks - 1) + 1):
        try:
            entity = _table(service, create=False).get_entity(
                head.tenant, f"devices|{head.generation}|risk|{key_part(profile_key)}|{number:05d}"
            )
        except ResourceNotFoundError:
            raise GenerationGone(head.generation) from None
        chunk = json.loads(_joined(entity, "D") or "{}")
        offset = number * RISK_CHUNK
        for index, document in enumerate(chunk.get("d", ())):
            if start <= offset + index < start + size:
                found.append(device_from_json(document, chunk.get("b", ())))
    return found


def restamp_devices(
    service: TableServiceClient, evaluation: Evaluation, touched: Iterable[str]
) -> bool:
    """After an evaluation of some rules: the stored per-device readiness stands for it too
    when nothing it takes from changed: the change touched none of the collections targeting
    reads, and every evaluated rule's fingerprint (`device_prints`) is the stored one. Then
    those rules' times are added to its stamp (If-Match); otherwise it is left, stale, and
    the dashboard computes per-device readiness from the mirror until the next full read."""
    from rules import tenant_collections as tc

    targeting = {
        tc.AUTOPILOT_DEVICES,
        tc.AUTOPILOT_PROFILES,
        tc.ENROLLMENT_CONFIGURATIONS,
        tc.ASSIGNMENT_FILTERS,
        tc.GROUPS,
        tc.DEVICES,
    }
    if set(touched) & targeting:
        return False
    tenant = tenant_key(evaluation.tenant_id)
    evaluated_at = format_time(parse_time(evaluation.captured_at))
    prints = device_prints(evaluation)
    table = _table(service, create=False)
    for _ in range(MAX_ATTEMPTS):
        try:
            head = table.get_entity(tenant, DEVICES_HEAD, select=["Stamp", "Prints"])
        except ResourceNotFoundError:
            return False
        stamp = json.loads(head.get("Stamp") or "{}")
        stored = json.loads(head.get("Prints") or "{}")
        if any(stored.get(rule) != value for rule, value in prints.items()):
            return False
        for rule in prints:
            if rule not in stamp or parse_time(str(stamp[rule])) <= parse_time(evaluated_at):
                stamp[rule] = evaluated_at
        try:
            table.update_entity(
                {"PartitionKey": tenant, "RowKey": DEVICES_HEAD, "Stamp": json.dumps(stamp)},
                mode=UpdateMode.MERGE,
                etag=head.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except ResourceModifiedError:
            continue
    return False


# -- the evaluation paths' one call -----------------------------------------------------------


def summarize_recorded(
    store: VerdictStore,
    evaluation: Evaluation,
    result: RecordResult,
    snapshot: TenantSnapshot | None = None,
    touched: Iterable[str] | None = None,
) -> SummaryWrite | None:
    """After `VerdictStore.record_evaluation`: write the readiness summary of a committed run.

    With the snapshot of an evaluation of every rule, per-device readiness is written too; an
    evaluation of some rules (with the collections its change `touched`) re-stamps it when
    nothing per-device readiness takes from changed (`restamp_devices`). Rules the store's head
    names without a matching entity are rebuilt from the recorded verdicts (`repair_summary`).
    Never raises for storage: the verdicts are recorded, and without a matching summary the
    dashboard scans them instead (logged).
    """
    from azure.core.exceptions import AzureError

    from rules.catalog import all_rules
    from rules.device_readiness import device_readiness
    from rules.tenant_collections import ALL_COLLECTIONS as ALL

    if result.outcome != "committed":
        return None
    result_tenant = evaluation.tenant_id
    devices = None
    # A full read: every rule that reads Graph (the manual entries read nothing, block nothing).
    reading = {r.metadata.id for r in all_rules() if set(r.metadata.graph_reads) & set(ALL)}
    every_rule = reading <= {r.id for r in evaluation.rules}
    try:
        if snapshot is not None and every_rule:
            devices = device_readiness(snapshot, evaluation.findings, THRESHOLD)
        # The summary lives in the store's account, beside the verdicts it summarizes.
        service: TableServiceClient = store._service
        written = write_summary(
            service, evaluation, result.run_id, devices=devices, snapshot=snapshot
        )
        if devices is None and touched is not None:
            written = replace(written, devices=restamp_devices(service, evaluation, touched))
        blind = unread_rules(evaluation)
        evaluated = [rule.id for rule in evaluation.rules if rule.id not in blind]
        not_used = not_preprovisioning(snapshot) if snapshot is not None else None
        repaired = repair_summary(store, service, result_tenant, evaluated, not_used)
        return replace(written, repaired=repaired)
    except AzureError as error:
        log.warning("readiness summary not written: %s", type(error).__name__)
        return None
