"""What the store remembers, as plain values: verdict records, transitions, change events, runs.

Text that reaches a table is bounded here: a property holds at most 64 KiB (32,768 UTF-16
characters) and an entity 1 MiB, so long messages and reason chains are truncated with a
visible marker instead of being rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from monitors.store.keys import format_time, parse_time

MAX_MESSAGE = 2_000
MAX_REASON = 2_000
# Budget for the whole reason chain of one record (JSON text), well under one property's limit.
MAX_REASONS_TOTAL = 12_000
MAX_CAUSES = 50
MAX_NAME = 400
TRUNCATION_MARKER = "… [truncated {count} characters]"


class StoredStatus(StrEnum):
    """A finding's status, plus `resolved`: a failing subject the rule no longer reports."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    MANUAL = "manual"  # a person checks it: never green, never alerting (rules/manual.py)
    RESOLVED = "resolved"


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = TRUNCATION_MARKER.format(count=len(text) - limit)
    return text[: max(0, limit - len(marker))] + marker


def truncate_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    """Keep the chain's order; cut each reason, then drop the tail once the budget is spent."""
    kept: list[str] = []
    used = 0
    for index, reason in enumerate(reasons):
        cut = truncate(reason, MAX_REASON)
        if used + len(cut) > MAX_REASONS_TOTAL:
            kept.append(f"… [truncated {len(reasons) - index} more reasons]")
            break
        kept.append(cut)
        used += len(cut) + 4
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """The remembered verdict of one (rule, scope, subject)."""

    rule_id: str
    rule_version: int
    scope_id: str  # the pre-provisioning profile id, "" for tenant-wide verdicts
    scope_name: str
    subject_type: str
    subject_id: str
    subject_name: str
    status: StoredStatus
    severity: str
    message: str
    reasons: tuple[str, ...]
    first_seen: datetime
    last_changed: datetime

    def same_verdict(self, other: VerdictRecord) -> bool:
        """Equal apart from the timestamps: nothing worth a write."""
        return (
            self.status,
            self.severity,
            self.message,
            self.reasons,
            self.subject_name,
            self.scope_name,
            self.rule_version,
        ) == (
            other.status,
            other.severity,
            other.message,
            other.reasons,
            other.subject_name,
            other.scope_name,
            other.rule_version,
        )

    def as_columns(self) -> dict[str, Any]:
        return {
            "Rule": self.rule_id,
            "RuleVersion": self.rule_version,
            "ScopeId": self.scope_id,
            "ScopeName": self.scope_name,
            "SubjectType": self.subject_type,
            "SubjectId": self.subject_id,
            "SubjectName": self.subject_name,
            "Status": self.status.value,
            "Severity": self.severity,
            "Message": self.message,
            "Reasons": json.dumps(list(self.reasons), ensure_ascii=False),
            "FirstSeen": format_time(self.first_seen),
            "LastChanged": format_time(self.last_changed),
        }

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> VerdictRecord:
        return cls(
            rule_id=str(columns["Rule"]),
            rule_version=int(columns["RuleVersion"]),
            scope_id=str(columns.get("ScopeId", "")),
            scope_name=str(columns.get("ScopeName", "")),
            subject_type=str(columns["SubjectType"]),
            subject_id=str(columns["SubjectId"]),
            subject_name=str(columns.get("SubjectName", "")),
            status=StoredStatus(columns["Status"]),
            severity=str(columns["Severity"]),
            message=str(columns.get("Message", "")),
            reasons=tuple(json.loads(columns.get("Reasons") or "[]")),
            first_seen=parse_time(str(columns["FirstSeen"])),
            last_changed=parse_time(str(columns["LastChanged"])),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "ruleVersion": self.rule_version,
            "scope": {"profileId": self.scope_id, "displayName": self.scope_name}
            if self.scope_id
            else None,
            "subject": {
                "type": self.subject_type,
                "id": self.subject_id,
                "displayName": self.subject_name,
            },
            "status": self.status.value,
            "severity": self.severity,
            "message": self.message,
            "reasons": list(self.reasons),
            "firstSeen": format_time(self.first_seen),
            "lastChanged": format_time(self.last_changed),
        }


@dataclass(frozen=True, slots=True)
class CurrentVerdict:
    record: VerdictRecord
    last_evaluated: datetime | None

    def as_json(self) -> dict[str, Any]:
        document = self.record.as_json()
        document["lastEvaluated"] = (
            format_time(self.last_evaluated) if self.last_evaluated else None
        )
        return document


@dataclass(frozen=True, slots=True)
class PassingCount:
    """Subjects of one (rule, scope) that pass or are not applicable: counted, not stored."""

    rule_id: str
    scope_id: str
    scope_name: str
    passing: int
    not_applicable: int


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of status of one (rule, scope, subject) between two complete evaluations."""

    tenant_id: str
    at: datetime
    run_id: str
    seq: int
    # None: the subject was not reported before (transitions recorded before passes were
    # counted); since then a subject without a record transits from `pass`.
    from_status: StoredStatus | None
    to_status: StoredStatus
    record: VerdictRecord
    cause_event_ids: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "ruleId": self.record.rule_id,
            "ruleVersion": self.record.rule_version,
            "scope": {"profileId": self.record.scope_id, "displayName": self.record.scope_name}
            if self.record.scope_id
            else None,
            "subject": {
                "type": self.record.subject_type,
                "id": self.record.subject_id,
                "displayName": self.record.subject_name,
            },
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "severity": self.record.severity,
            "message": self.record.message,
            "reasons": list(self.record.reasons),
            "runId": self.run_id,
            "causeEventIds": list(self.cause_event_ids),
        }


@dataclass(frozen=True, slots=True)
class ModifiedProperty:
    name: str
    old_value: str | None
    new_value: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"name": self.name, "oldValue": self.old_value, "newValue": self.new_value}


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change to the tenant, as an audit trail reported it."""

    event_id: str
    at: datetime
    actor_type: str  # "user" or "app"
    actor_id: str
    actor_name: str  # user principal name or application display name
    activity: str
    resource_type: str
    resource_id: str
    source: str  # e.g. "intune-audit", "entra-directory-audit", "graph-notification"
    correlation_id: str = ""
    modified_properties: tuple[ModifiedProperty, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "at": format_time(self.at),
            "actor": {"type": self.actor_type, "id": self.actor_id, "name": self.actor_name},
            "activity": self.activity,
            "resource": {"type": self.resource_type, "id": self.resource_id},
            "modifiedProperties": [prop.as_json() for prop in self.modified_properties],
            "correlationId": self.correlation_id,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class CausedTransition:
    """A transition as listed beside the change event believed to have caused it."""

    at: datetime
    rule_id: str
    scope_id: str
    subject_type: str
    subject_id: str
    subject_name: str
    from_status: StoredStatus | None
    to_status: StoredStatus
    severity: str
    run_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "at": format_time(self.at),
            "ruleId": self.rule_id,
            "scopeProfileId": self.scope_id or None,
            "subject": {
                "type": self.subject_type,
                "id": self.subject_id,
                "displayName": self.subject_name,
            },
            "from": self.from_status.value if self.from_status else None,
            "to": self.to_status.value,
            "severity": self.severity,
            "runId": self.run_id,
        }


@dataclass(frozen=True, slots=True)
class ChangeWithEffects:
    event: ChangeEvent
    transitions: tuple[CausedTransition, ...]

    def as_json(self) -> dict[str, Any]:
        document = self.event.as_json()
        document["transitions"] = [transition.as_json() for transition in self.transitions]
        return document


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How an evaluation came about; `duration_ms` and `graph_requests` cover the reading."""

    run_id: str
    trigger: str  # "cli", "timer", "queue", "http", "reconcile"
    started_at: datetime
    duration_ms: int = 0
    graph_requests: int = 0


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    trigger: str
    started_at: datetime
    captured_at: datetime
    duration_ms: int
    graph_requests: int
    counts: Mapping[str, int]
    unreadable: tuple[str, ...]
    transitions: int
    outcome: str  # "committed" or "superseded" (an older snapshot than the stored state)
    seq: int

    def as_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "trigger": self.trigger,
            "startedAt": format_time(self.started_at),
            "capturedAt": format_time(self.captured_at),
            "durationMs": self.duration_ms,
            "graphRequests": self.graph_requests,
            "counts": dict(self.counts),
            "unreadable": list(self.unreadable),
            "transitions": self.transitions,
            "outcome": self.outcome,
        }


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    continuation: str | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    run_id: str
    outcome: str  # "committed" or "superseded"
    transitions: tuple[Transition, ...] = ()
    # Entities this call wrote (state rows, head updates, transitions, links, the run record).
    entities_written: int = 0
    attempts: int = 1
    notes: tuple[str, ...] = field(default=())
    # Verdict records in the state entities this call read (the evaluated rules' buckets and
    # rows, and any left to repair).
    entities_read: int = 0
