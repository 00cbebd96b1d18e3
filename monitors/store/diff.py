"""Comparing one evaluation with the remembered verdicts: which records change, which transit.

Pure: no I/O. The store feeds it the last *committed* state and writes what it returns.

- The first evaluation of a rule (or of a new rule version) is a baseline: records are written,
  no transitions. A rule whose version changed is re-baselined, never diffed across semantics.
- A subject without a record (it passed, was not applicable, or is new) that fails, is unknown
  or manual after the rule's baseline transits from `pass`: passes are not stored per subject,
  so "was not failing" is all the store knows, and that is what `pass` says.
- A subject that disappears is `resolved` (if it was failing or unknown) only when the rule
  could read its data; otherwise it becomes `unknown`: unknown is never green. A subject that
  passed and disappears with readable data is simply forgotten.
- Rules not part of the evaluation keep their records untouched.

Passing is the quiet case and is not remembered per subject: a subject that passes (or is not
applicable) needs no record, and a subject not recorded that passes is not an event. Only a
change from a remembered status (fail, unknown, manual, resolved) to a quiet one is a
transition; its record is written with the quiet status (a *tombstone*, so the transition can
be derived from the committed rows) and forgotten by the next evaluation of the rule. What
passes is a count per (rule, scope) (`Diff.quiet_counts`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from monitors.attestation import attested_basis
from monitors.store.keys import state_row_key
from monitors.store.records import (
    MAX_MESSAGE,
    MAX_NAME,
    StoredStatus,
    VerdictRecord,
    truncate,
    truncate_reasons,
)
from rules.engine import Evaluation
from rules.findings import Finding, RuleMetadata, Status

_WORST_FIRST = {
    Status.FAIL: 0,
    Status.UNKNOWN: 1,
    Status.MANUAL: 2,
    Status.PASS: 3,
    Status.NOT_APPLICABLE: 4,
}
RESOLVED_MESSAGE = "no longer reported by the rule"


@dataclass(frozen=True, slots=True)
class Change:
    """A record to write (None: forget the record) and, when its status changed, the old one."""

    row_key: str
    record: VerdictRecord | None
    transition: bool
    from_status: StoredStatus | None


QUIET = frozenset({StoredStatus.PASS, StoredStatus.NOT_APPLICABLE})


# What a subject without a record was, as far as a transition says: not failing.
QUIET_FROM = StoredStatus.PASS


def is_quiet(status: StoredStatus) -> bool:
    """Statuses that need no record of their own: what passes is counted, not stored."""
    return status in QUIET


def is_counted(record: VerdictRecord) -> bool:
    """A quiet verdict that is a count, not a record. A pass that rests on an operator's
    attestation keeps its record: readers must be able to say it was attested, not read."""
    return is_quiet(record.status) and attested_basis(record.reasons) is None


# Per rule: per scope id, [passing subjects, not applicable subjects, scope display name].
QuietCounts = dict[str, dict[str, list[Any]]]


@dataclass(frozen=True, slots=True)
class Diff:
    changes: tuple[Change, ...]
    rule_versions: dict[str, int]
    quiet_counts: QuietCounts = field(default_factory=dict)

    @property
    def transitions(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.transition)


def finding_row_key(finding: Finding) -> str:
    scope_id = finding.scope.profile_id if finding.scope else ""
    return state_row_key(finding.rule_id, scope_id, finding.subject.type, finding.subject.id)


def record_of(finding: Finding, rule_version: int, at: datetime, extra: int) -> VerdictRecord:
    message = finding.message if not extra else f"{finding.message} (+{extra} more findings)"
    return VerdictRecord(
        rule_id=finding.rule_id,
        rule_version=rule_version,
        scope_id=finding.scope.profile_id if finding.scope else "",
        scope_name=truncate(finding.scope.profile_name, MAX_NAME) if finding.scope else "",
        subject_type=finding.subject.type,
        subject_id=finding.subject.id,
        subject_name=truncate(finding.subject.display_name, MAX_NAME),
        status=StoredStatus(finding.status.value),
        severity=finding.severity.value,
        message=truncate(message, MAX_MESSAGE),
        reasons=truncate_reasons(finding.reasons),
        first_seen=at,
        last_changed=at,
    )


def rule_could_read(rule: RuleMetadata, evaluation: Evaluation, findings: list[Finding]) -> bool:
    if set(rule.graph_reads) & set(evaluation.unreadable):
        return False
    return not any(finding.rule_error for finding in findings)


def diff_evaluation(
    previous: Mapping[str, VerdictRecord],
    rule_versions: Mapping[str, int],
    evaluation: Evaluation,
    at: datetime,
) -> Diff:
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in evaluation.findings:
        by_rule[finding.rule_id].append(finding)
    previous_by_rule: dict[str, dict[str, VerdictRecord]] = defaultdict(dict)
    for row_key, record in previous.items():
        previous_by_rule[record.rule_id][row_key] = record

    changes: list[Change] = []
    versions = dict(rule_versions)
    quiet_counts: QuietCounts = {}
    for rule in evaluation.rules:
        known_version = rule_versions.get(rule.id)
        baseline = known_version is None or known_version != rule.version
        versions[rule.id] = rule.version
        findings = by_rule.get(rule.id, [])
        current = _current_records(findings, rule.version, at)
        old_records = previous_by_rule.get(rule.id, {})
        counts: dict[str, list[Any]] = {}
        for row_key, record in current.items():
            if is_counted(record):
                count = counts.setdefault(record.scope_id, [0, 0, record.scope_name])
                count[0 if record.status == StoredStatus.PASS else 1] += 1
                change = _quiet(row_key, old_records.get(row_key), record, baseline)
            elif is_quiet(record.status):
                change = _attested(row_key, old_records.get(row_key), record, baseline)
            else:
                change = _compare(row_key, old_records.get(row_key), record, baseline)
            if change is not None:
                changes.append(change)
        quiet_counts[rule.id] = counts
        readable = rule_could_read(rule, evaluation, findings)
        for row_key, old in old_records.items():
            if row_key in current:
                continue
            change = _disappeared(row_key, old, baseline, readable, rule, evaluation, at)
            if change is not None:
                changes.append(change)
    return Diff(tuple(changes), versions, quiet_counts)


def _current_records(
    findings: list[Finding], rule_version: int, at: datetime
) -> dict[str, VerdictRecord]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[finding_row_key(finding)].append(finding)
    records = {}
    for row_key, same_subject in grouped.items():
        # Several findings about one subject in one scope: the worst one speaks for them.
        worst = min(same_subject, key=lambda f: (_WORST_FIRST[f.status], -f.severity.rank))
        records[row_key] = record_of(worst, rule_version, at, len(same_subject) - 1)
    return records


def _quiet(
    row_key: str, old: VerdictRecord | None, new: VerdictRecord, baseline: bool
) -> Change | None:
    """A subject that passes (or is not applicable) now: no record, unless it transits."""
    if old is None:
        return None  # not recorded, quiet now: nothing happened
    if baseline or is_quiet(old.status):
        return Change(row_key, None, transition=False, from_status=old.status)
    # From a remembered status to a quiet one: a transition, kept as a tombstone until the
    # next evaluation of the rule forgets it.
    kept = replace(new, first_seen=old.first_seen)
    return Change(row_key, kept, transition=True, from_status=old.status)


def _attested(
    row_key: str, old: VerdictRecord | None, new: VerdictRecord, baseline: bool
) -> Change | None:
    """A quiet verdict kept as a record (attested): a transition only from a loud status."""
    if old is not None and not baseline and not is_quiet(old.status):
        return Change(row_key, replace(new, first_seen=old.first_seen), True, old.status)
    if old is None or baseline:
        return Change(row_key, new, transition=False, from_status=None)
    if old.same_verdict(new):
        return None
    kept = replace(new, first_seen=old.first_seen, last_changed=old.last_changed)
    return Change(row_key, kept, transition=False, from_status=old.status)


def _compare(
    row_key: str, old: VerdictRecord | None, new: VerdictRecord, baseline: bool
) -> Change | None:
    if old is None or baseline:
        # A rule (version) seen for the first time: remember, no transition. After the
        # baseline, a subject without a record was not failing: passing or not applicable
        # (neither is stored), or not there yet. It transits from `pass`, the quiet status.
        return Change(
            row_key, new, transition=not baseline, from_status=None if baseline else QUIET_FROM
        )
    if old.status != new.status:
        kept = replace(new, first_seen=old.first_seen)
        return Change(row_key, kept, transition=True, from_status=old.status)
    if old.same_verdict(new):
        return None
    kept = replace(new, first_seen=old.first_seen, last_changed=old.last_changed)
    return Change(row_key, kept, transition=False, from_status=old.status)


def _disappeared(
    row_key: str,
    old: VerdictRecord,
    baseline: bool,
    readable: bool,
    rule: RuleMetadata,
    evaluation: Evaluation,
    at: datetime,
) -> Change | None:
    if baseline or is_quiet(old.status):
        # A quiet record is the tombstone of a transition already recorded: forget it.
        return Change(row_key, None, transition=False, from_status=old.status)
    if not readable:
        if old.status == StoredStatus.UNKNOWN:
            return None
        missing = sorted(set(rule.graph_reads) & set(evaluation.unreadable))
        why = (
            f"the rule could not read {', '.join(missing)}"
            if missing
            else "the rule could not be evaluated"
        )
        unknown = _replace_status(old, StoredStatus.UNKNOWN, truncate(why, MAX_MESSAGE), at)
        return Change(row_key, unknown, transition=True, from_status=old.status)
    if old.status == StoredStatus.RESOLVED:
        return None
    if old.status == StoredStatus.MANUAL:
        return Change(row_key, None, transition=False, from_status=old.status)
    resolved = _replace_status(old, StoredStatus.RESOLVED, RESOLVED_MESSAGE, at)
    return Change(row_key, resolved, transition=True, from_status=old.status)


def _replace_status(
    old: VerdictRecord, status: StoredStatus, message: str, at: datetime
) -> VerdictRecord:
    return replace(old, status=status, message=message, reasons=(), last_changed=at)
