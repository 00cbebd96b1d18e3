"""What Greenscreen said about a device and its profile at the time of a deployment attempt.

The verdicts valid at time T are rebuilt from the store: the current verdict rows, walked back
through the transitions recorded after T (each transition is undone: its subject returns to the
status it came from). A verdict that was never reported before T did not exist then. One read of
the state and one of the transitions since the oldest attempt serve a whole poll.

A *prediction* for an attempt is a verdict valid at its time with status `fail` and severity
`blocker` or `error`, scoped to the attempt's profile (matched by display name, the only profile
field an Autopilot event carries) or tenant-wide, and about either a tenant/profile object or
this very device (per-device verdicts of other devices do not count). A prediction *explains* a
failure when its subject is the app or policy the ESP reported as failed (by display name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.deployments.attempts import Attempt
from monitors.store.keys import format_time
from monitors.store.records import ChangeEvent, StoredStatus, Transition, VerdictRecord
from monitors.store.verdict_store import VerdictStore

PREDICTING_SEVERITIES: Final = frozenset({"blocker", "error"})
DEVICE_SUBJECT: Final = "autopilotDevice"
MAX_TRANSITION_PAGES: Final = 50  # 50,000 transitions since the oldest attempt of a poll
CAUSE_LOOKBACK: Final = timedelta(days=1)
MAX_CHANGE_PAGES: Final = 10
CAUSE_LOOKAHEAD: Final = timedelta(minutes=10)

# Categories of an assessed attempt.
EXPLAINED: Final = "explained"  # failed; a prediction names the failing app/policy
PREDICTED: Final = "predicted"  # failed; predicted, but no prediction names what failed
UNEXPLAINED: Final = "unexplained"  # failed; Greenscreen said the profile was ready
FALSE_ALARM: Final = "false_alarm"  # went green although a prediction said it would fail
GREEN: Final = "green"  # went green, none predicted otherwise
NOT_COVERED: Final = "not_covered"  # Greenscreen had no verdict for the profile then
FAILURE_CATEGORIES: Final = (EXPLAINED, PREDICTED, UNEXPLAINED)

Key = tuple[str, str, str, str]  # rule, scope, subject type, subject id


@dataclass(frozen=True, slots=True)
class PastVerdict:
    record: VerdictRecord
    status: StoredStatus
    since: datetime | None  # when it took this status (None: before the history kept)
    cause_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Prediction:
    rule_id: str
    severity: str
    subject_type: str
    subject_id: str
    subject_name: str
    scope_name: str
    since: datetime | None
    actor: str  # who made the change that turned it red ("" when the trail does not say)
    activity: str
    explains: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "severity": self.severity,
            "subject": {
                "type": self.subject_type,
                "id": self.subject_id,
                "displayName": self.subject_name,
            },
            "profile": self.scope_name,
            "since": format_time(self.since) if self.since else None,
            "actor": self.actor,
            "activity": self.activity,
            "explains": self.explains,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    attempt: Attempt
    category: str
    predictions: tuple[Prediction, ...]

    @property
    def explaining(self) -> tuple[Prediction, ...]:
        return tuple(p for p in self.predictions if p.explains)


class HistoryAt:
    """The tenant's verdicts as they stood at any moment since `since`."""

    def __init__(
        self,
        current: Iterable[VerdictRecord],
        transitions: Iterable[Transition],
        changes: Iterable[ChangeEvent] = (),
    ) -> None:
        self._current = {_key(r): r for r in current}
        self._timeline: dict[Key, list[Transition]] = defaultdict(list)
        for transition in transitions:
            self._timeline[_key(transition.record)].append(transition)
        for timeline in self._timeline.values():
            timeline.sort(key=lambda t: (t.at, t.seq))
        self._changes = {c.event_id: c for c in changes}
        self._store: VerdictStore | None = None
        self._tenant = ""
        self._looked_up: dict[Key, ChangeEvent | None] = {}

    @classmethod
    def load(cls, store: VerdictStore, tenant_id: str, since: datetime) -> HistoryAt:
        current = [v.record for v in store.current_state(tenant_id).verdicts]
        transitions: list[Transition] = []
        continuation: str | None = None
        for _ in range(MAX_TRANSITION_PAGES):
            page = store.history(tenant_id, since=since, continuation=continuation, page_size=1000)
            transitions.extend(page.items)
            continuation = page.continuation
            if continuation is None:
                break
        wanted = {
            c for t in transitions if t.to_status is StoredStatus.FAIL for c in t.cause_event_ids
        }
        changes: list[ChangeEvent] = []
        if wanted:
            earliest = min(t.at for t in transitions)
            changes = _changes_named(store, tenant_id, wanted, earliest - CAUSE_LOOKBACK, None)
        history = cls(current, transitions, changes)
        history._store, history._tenant = store, tenant_id
        return history

    def at(self, moment: datetime) -> list[PastVerdict]:
        verdicts: list[PastVerdict] = []
        for key in set(self._current) | set(self._timeline):
            verdict = self._verdict_at(key, moment)
            if verdict is not None:
                verdicts.append(verdict)
        return verdicts

    def _verdict_at(self, key: Key, moment: datetime) -> PastVerdict | None:
        timeline = self._timeline.get(key, [])
        before = [t for t in timeline if t.at <= moment]
        if before:
            last = before[-1]
            return PastVerdict(last.record, last.to_status, last.at, last.cause_event_ids)
        record = self._current.get(key)
        if timeline:  # changed only after `moment`: it stood as the first change found it
            first = timeline[0]
            if first.from_status is None:
                return None
            base = record or first.record
            return PastVerdict(base, first.from_status, _seen(base, moment))
        if record is None or record.first_seen > moment:
            return None
        # Unchanged since before the transitions read: it took this status at `last_changed`.
        return PastVerdict(record, record.status, min(record.last_changed, moment))

    def cause(self, verdict: PastVerdict) -> ChangeEvent | None:
        for event_id in reversed(verdict.cause_event_ids):
            found = self._changes.get(event_id)
            if found is not None:
                return found
        if verdict.cause_event_ids or self._store is None or verdict.since is None:
            return None
        # It turned red before the transitions this poll read: find that one transition.
        key = _key(verdict.record)
        if key not in self._looked_up:
            self._looked_up[key] = self._older_cause(verdict.record, verdict.since)
        return self._looked_up[key]

    def _older_cause(self, record: VerdictRecord, at: datetime) -> ChangeEvent | None:
        assert self._store is not None
        page = self._store.history(
            self._tenant,
            rule=record.rule_id,
            subject=record.subject_id,
            since=at - timedelta(seconds=1),
            until=at + timedelta(seconds=1),
            page_size=50,
        )
        causes = {
            c
            for t in page.items
            if _key(t.record) == _key(record) and t.to_status is record.status
            for c in t.cause_event_ids
        }
        if not causes:
            return None
        found = _changes_named(
            self._store, self._tenant, causes, at - CAUSE_LOOKBACK, at + CAUSE_LOOKAHEAD
        )
        return max(found, key=lambda c: c.at) if found else None


def _changes_named(
    store: VerdictStore,
    tenant_id: str,
    wanted: set[str],
    since: datetime,
    until: datetime | None,
) -> list[ChangeEvent]:
    """The change events with these ids in a time range (a few pages at most)."""
    found: list[ChangeEvent] = []
    continuation: str | None = None
    for _ in range(MAX_CHANGE_PAGES):
        page = store.changes(
            tenant_id, since=since, until=until, continuation=continuation, page_size=1000
        )
        found.extend(c.event for c in page.items if c.event.event_id in wanted)
        continuation = page.continuation
        if continuation is None or len(found) >= len(wanted):
            break
    return found


def assess(attempt: Attempt, history: HistoryAt) -> Assessment:
    verdicts = [v for v in history.at(attempt.at) if _about(v.record, attempt)]
    failing_names = {item.name.casefold() for item in attempt.failing if item.name}
    predictions = []
    for verdict in verdicts:
        if verdict.status is not StoredStatus.FAIL:
            continue
        if verdict.record.severity not in PREDICTING_SEVERITIES:
            continue
        record = verdict.record
        cause = history.cause(verdict)
        predictions.append(
            Prediction(
                rule_id=record.rule_id,
                severity=record.severity,
                subject_type=record.subject_type,
                subject_id=record.subject_id,
                subject_name=record.subject_name,
                scope_name=record.scope_name,
                since=verdict.since,
                actor=cause.actor_name if cause else "",
                activity=cause.activity if cause else "",
                explains=attempt.failed and record.subject_name.casefold() in failing_names,
            )
        )
    predictions.sort(
        key=lambda p: (not p.explains, p.severity != "blocker", p.rule_id, p.subject_id)
    )
    if not verdicts:
        category = NOT_COVERED
    elif attempt.failed:
        category = (
            EXPLAINED
            if any(p.explains for p in predictions)
            else PREDICTED
            if predictions
            else UNEXPLAINED
        )
    else:
        category = FALSE_ALARM if predictions else GREEN
    return Assessment(attempt, category, tuple(predictions))


def assessment_document(assessment: Assessment, model: str = "") -> dict[str, Any]:
    """What the store keeps of an assessed attempt (also the API's item shape)."""
    attempt = assessment.attempt
    return {
        "eventId": attempt.event_id,
        "at": format_time(attempt.at),
        "serialNumber": attempt.serial,
        "deviceName": attempt.device_name,
        "deviceId": attempt.device_id,
        "model": model,
        "profile": attempt.profile_name,
        "esp": attempt.esp_name,
        "enrollmentType": attempt.enrollment_type,
        "deploymentState": attempt.deployment_state,
        "deviceSetupStatus": attempt.device_setup_status,
        "accountSetupStatus": attempt.account_setup_status,
        "durationSeconds": attempt.duration_s,
        "phase": attempt.phase,
        "failureDetails": attempt.failure_details,
        "failing": [item.as_json() for item in attempt.failing],
        "category": assessment.category,
        "predictions": [p.as_json() for p in assessment.predictions],
    }


def _about(record: VerdictRecord, attempt: Attempt) -> bool:
    in_scope = (
        not record.scope_id or record.scope_name.casefold() == attempt.profile_name.casefold()
    )
    if not in_scope:
        return False
    if record.subject_type == DEVICE_SUBJECT:
        return bool(attempt.serial) and record.subject_name.casefold() == attempt.serial.casefold()
    return True


def _key(record: VerdictRecord) -> Key:
    return (record.rule_id, record.scope_id, record.subject_type, record.subject_id)


def _seen(record: VerdictRecord, moment: datetime) -> datetime | None:
    return record.first_seen if record.first_seen <= moment else None
