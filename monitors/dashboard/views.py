"""What each dashboard page shows, read from the readiness summary, the store and the mirror.

Everything here returns plain values for the templates; nothing renders HTML. The cost of a
page is bounded by the page sizes and the number of rules: the tenant page, profile view and
overview read the readiness summary written at evaluation time (`monitors.dashboard.summary`,
one entity per rule), and the device view and devices at risk the per-device readiness stored
beside it (one or two point reads). Only when no summary matches the committed evaluation
(nothing written yet, data of an older version) does a page fall back to scanning the state
partition, or to loading the mirror and running the rules; those results are computed once
per committed evaluation and kept per instance (`_RunCache`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from monitors.alerts.links import admin_center_url
from monitors.dashboard import summary as summaries
from monitors.guardrail.mirror import MirrorError, TenantMirror
from monitors.guardrail.profile_use import profiles_not_preprovisioning
from monitors.reports import profile_verdict
from monitors.reports.stored_verdicts import (
    THRESHOLD,
    blocking_failures,
    judge_profile,
    readiness_of_verdicts,
    severity_of,
)
from monitors.store.keys import HEAD_ROW_KEY, STATE_TABLE, parse_time, tenant_key
from monitors.store.records import (
    ChangeEvent,
    ChangeWithEffects,
    CurrentVerdict,
    StoredStatus,
    Transition,
    VerdictRecord,
)
from monitors.store.verdict_store import DEFAULT_RETENTION_DAYS, VerdictStore
from rules.device_readiness import DeviceReadiness, Readiness
from rules.findings import RuleMetadata, Severity

log = logging.getLogger(__name__)

FINDINGS_PAGE: Final = 50
DEVICES_PAGE: Final = 50
MAX_TENANTS: Final = 500
CHART_TRANSITIONS: Final = 1_000  # transitions walked back for the chart, at most
CHART_DAYS: Final = 30
# Change events scanned to name a timeline page's causes (the store lists each event with the
# transitions it caused: one more query per event), over the page's span and this much before.
CAUSE_LOOKUP_EVENTS: Final = 200
CAUSE_LOOKBACK: Final = timedelta(hours=6)
CACHED_TENANTS: Final = 16
_NOT_GREEN = (StoredStatus.FAIL, StoredStatus.UNKNOWN)
_ORDER = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}

T = TypeVar("T")


def _finding_row(
    verdict: VerdictRecord | summaries.StoredFinding,
    status: str,
    last_changed: datetime,
    metadata: Mapping[str, RuleMetadata],
) -> FindingRow:
    """One row of a findings table, from a recorded verdict or a summary's kept finding."""
    meta = metadata.get(verdict.rule_id)
    severity = severity_of(verdict.severity)
    return FindingRow(
        rule_id=verdict.rule_id,
        title=meta.title if meta else verdict.rule_id,
        status=status,
        severity=severity.value,
        blocking=severity.at_least(THRESHOLD),
        subject_type=verdict.subject_type,
        subject_id=verdict.subject_id,
        subject_name=verdict.subject_name,
        scope_id=verdict.scope_id,
        scope_name=verdict.scope_name,
        message=verdict.message,
        reasons=verdict.reasons,
        remediation=meta.remediation if meta else "",
        admin_url=admin_center_url(verdict.subject_type, verdict.subject_id),
        last_changed=last_changed,
    )


@dataclass(frozen=True, slots=True)
class FindingRow:
    rule_id: str
    title: str
    status: str
    severity: str
    blocking: bool
    subject_type: str
    subject_id: str
    subject_name: str
    scope_id: str
    scope_name: str
    message: str
    reasons: tuple[str, ...]
    remediation: str
    admin_url: str
    last_changed: datetime


@dataclass(frozen=True, slots=True)
class ProfileRow:
    profile_id: str
    name: str
    readiness: Readiness
    failing: int
    unknown: int
    devices_at_risk: int | None
    # Whether the profile allows pre-provisioning (None: not known); the verdict follows the
    # reports' rule (`monitors.reports.profile_verdict`).
    preprovisioning: bool | None = True
    # When RED: the failing rules that make it so, worst first ("GRP-006 (tenant-wide)").
    red_by: tuple[str, ...] = ()

    @property
    def judged(self) -> bool:
        """False for a profile not used for pre-provisioning with nothing failing or unknown."""
        return profile_verdict.judged(self.readiness, self.preprovisioning)

    @property
    def note(self) -> str:
        """What the verdict rests on, as the reports word it ('' when the badge says it)."""
        return profile_verdict.verdict_note(
            self.readiness, self.preprovisioning, self.red_by, len(self.red_by)
        )


@dataclass(frozen=True, slots=True)
class TenantSummary:
    tenant_id: str
    readiness: Readiness
    captured_at: datetime | None
    run_id: str | None
    failing: int
    unknown: int
    blocking: int
    profiles: tuple[ProfileRow, ...]
    tenant_wide: Readiness
    findings: tuple[FindingRow, ...]  # fail and unknown, blocking first, worst first
    verdicts: int
    # "summary": read from the readiness summary; "scan": the state partition scanned.
    source: str = "scan"
    # Failing and unknown verdicts in all; `findings` keeps fewer when read from the summary.
    findings_total: int | None = None

    @property
    def not_green(self) -> int:
        return len(self.findings) if self.findings_total is None else self.findings_total


@dataclass(frozen=True, slots=True)
class Head:
    """What the store's head says about the committed evaluation."""

    run: str
    captured_at: datetime | None
    rule_evaluated: Mapping[str, str]  # rule -> the snapshot time it was last evaluated on


@dataclass(frozen=True, slots=True)
class Paged:
    items: tuple[Any, ...]
    page: int
    pages: int
    total: int


def page_of(items: Sequence[T], page: int, size: int) -> Paged:
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    return Paged(tuple(items[start : start + size]), page, pages, len(items))


@dataclass(frozen=True, slots=True)
class DeviceIndex:
    """Per-device readiness of a tenant, from its mirror; `error` when it could not be made."""

    devices: tuple[DeviceReadiness, ...] = ()
    error: str | None = None
    by_serial: Mapping[str, DeviceReadiness] = field(default_factory=dict)
    # Not green, red before unknown, by serial number: ranked once, paged by every view.
    at_risk: tuple[DeviceReadiness, ...] = ()
    # Read from the per-device readiness stored at evaluation time (then `devices`, `by_serial`
    # and `at_risk` stay empty and the views read pages of it).
    stored: summaries.StoredDevices | None = None

    @property
    def count(self) -> int:
        return self.stored.devices if self.stored is not None else len(self.devices)

    @classmethod
    def of(cls, devices: Sequence[DeviceReadiness]) -> DeviceIndex:
        ranked = [d for d in devices if d.readiness is not Readiness.GREEN]
        ranked.sort(key=lambda d: (_ORDER[d.readiness], d.serial_number or "", d.device_id))
        by_serial = {d.serial_number.strip().lower(): d for d in devices if d.serial_number}
        return cls(tuple(devices), None, by_serial, tuple(ranked))


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    transition: Transition
    causes: tuple[ChangeEvent | str, ...]  # the event, or its id when it was not found


@dataclass(frozen=True, slots=True)
class ChartPoint:
    at: datetime
    blocking: int


class _RunCache:
    """Values computed once per (tenant, committed run), for the last few tenants."""

    def __init__(self, size: int = CACHED_TENANTS) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()

    def get(self, kind: str, tenant: str, run: str, make: Callable[[], T]) -> T:
        key = (kind, tenant)
        with self._lock:
            found = self._values.get(key)
            if found is not None and found[0] == run:
                self._values.move_to_end(key)
                return found[1]  # type: ignore[no-any-return]
        value = make()
        with self._lock:
            self._values[key] = (run, value)
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value


class Dashboard:
    """The read side of the dashboard over one storage account."""

    def __init__(
        self,
        service: TableServiceClient,
        store: VerdictStore,
        mirror: TenantMirror,
        guarded_tenants: Sequence[str] = (),
    ) -> None:
        self._service = service
        self.store = store
        self.mirror = mirror
        self._guarded = tuple(t.lower() for t in guarded_tenants)
        self._cache = _RunCache()

    @classmethod
    def over(
        cls,
        service: TableServiceClient,
        guarded_tenants: Sequence[str] = (),
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> Dashboard:
        """The dashboard over one storage account's store and mirror."""
        return cls(
            service,
            VerdictStore(service, retention_days=retention_days),
            TenantMirror(service),
            guarded_tenants,
        )

    # -- tenants ----------------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """The guarded tenants: from `TENANTS` when configured, else every tenant in the store."""
        if self._guarded:
            return list(self._guarded)
        found = []
        table = self._service.get_table_client(STATE_TABLE)
        try:
            for entity in table.query_entities(
                "RowKey eq @head", parameters={"head": HEAD_ROW_KEY}, select=["PartitionKey"]
            ):
                found.append(str(entity["PartitionKey"]))
                if len(found) == MAX_TENANTS:
                    break
        except ResourceNotFoundError:
            return []
        return sorted(found)

    def head(self, tenant_id: str) -> Head:
        """The tenant's committed evaluation as the store's head names it: one entity read."""
        table = self._service.get_table_client(STATE_TABLE)
        try:
            entity = table.get_entity(
                tenant_key(tenant_id),
                HEAD_ROW_KEY,
                select=["CommittedRun", "CapturedAt", "RuleEvaluated"],
            )
        except ResourceNotFoundError:
            return Head("", None, {})
        try:
            evaluated = json.loads(entity.get("RuleEvaluated") or "{}")
            captured = parse_time(entity["CapturedAt"]) if entity.get("CapturedAt") else None
        except (ValueError, TypeError):
            evaluated, captured = {}, None  # unreadable: no summary can match it
        if not isinstance(evaluated, dict):
            evaluated = {}
        return Head(
            str(entity.get("CommittedRun") or ""),
            captured,
            {str(k): str(v) for k, v in evaluated.items()},
        )

    def committed_run(self, tenant_id: str) -> str:
        """The committed run of the tenant ('' when nothing was recorded): one entity read."""
        return self.head(tenant_id).run

    def overview(self, tenant_ids: Sequence[str]) -> list[TenantSummary]:
        """Every tenant's summary, worst first: red, then unknown, then green."""
        summaries = [self.summary(tenant, findings=False) for tenant in tenant_ids]
        summaries.sort(
            key=lambda s: (_ORDER[s.readiness], -s.blocking, -s.failing - s.unknown, s.tenant_id)
        )
        return summaries

    def summary(self, tenant_id: str, *, findings: bool = True) -> TenantSummary:
        """The tenant's readiness: from the readiness summary when it matches the committed
        evaluation (one partition query of one entity per rule), else a scan of the state."""
        tenant = tenant_key(tenant_id)
        head = self.head(tenant)
        kind = "summary" if findings else "counts"
        return self._cache.get(
            kind, tenant, head.run, lambda: self._summary_of(tenant, head, findings)
        )

    def _summary_of(self, tenant: str, head: Head, findings: bool) -> TenantSummary:
        found = summaries.read_summary(
            self._service, tenant, head.rule_evaluated, with_findings=findings
        )
        if found is None:
            log.info("no readiness summary matches the committed evaluation; scanning the state")
            return self._summary(tenant)
        return _from_stored(tenant, head, found)

    def _summary(self, tenant: str) -> TenantSummary:
        from rules.catalog import all_rules

        state = self.store.current_state(tenant)
        metadata = {rule.metadata.id: rule.metadata for rule in all_rules()}
        verdicts = state.verdicts
        tenant_wide = [v for v in verdicts if not v.record.scope_id]
        wide_passed = any(not count.scope_id for count in state.passing)
        by_profile: dict[str, list[CurrentVerdict]] = {}
        names: dict[str, str] = {}
        for verdict in verdicts:
            if verdict.record.scope_id:
                by_profile.setdefault(verdict.record.scope_id, []).append(verdict)
                names.setdefault(verdict.record.scope_id, verdict.record.scope_name)
        passed_profiles = {count.scope_id for count in state.passing if count.scope_id}
        for count in state.passing:
            if count.scope_id:
                names.setdefault(count.scope_id, count.scope_name)
        # No tenant-wide verdict blocks nothing (as in the reports); nothing recorded at all is
        # the tenant's unknown, below.
        wide = readiness_of_verdicts(tenant_wide, True)
        wide_failing = blocking_failures(tenant_wide)
        not_used = self._not_preprovisioning(tenant) if names else None
        profiles = []
        for profile_id in sorted(names, key=lambda profile: names[profile].lower()):
            own = by_profile.get(profile_id, [])
            counts = Counter(v.record.status for v in own)
            preprovisioning = None if not_used is None else profile_id not in not_used
            readiness, red_by = judge_profile(
                readiness_of_verdicts(own, profile_id in passed_profiles),
                wide,
                blocking_failures(own),
                wide_failing,
                preprovisioning,
            )
            profiles.append(
                ProfileRow(
                    profile_id=profile_id,
                    name=names[profile_id] or profile_id,
                    readiness=readiness,
                    failing=counts[StoredStatus.FAIL],
                    unknown=counts[StoredStatus.UNKNOWN],
                    devices_at_risk=None,  # per-device readiness is the tenant page's, not ours
                    preprovisioning=preprovisioning,
                    red_by=red_by,
                )
            )
        rows = []
        for verdict in verdicts:
            record = verdict.record
            if record.status not in _NOT_GREEN:
                continue
            rows.append(_finding_row(record, record.status.value, record.last_changed, metadata))
        rank = {s: i for i, s in enumerate((Severity.BLOCKER, Severity.ERROR, Severity.WARNING))}
        rows.sort(
            key=lambda r: (
                not r.blocking,
                r.status != StoredStatus.FAIL.value,
                rank.get(Severity(r.severity), 3),
                r.rule_id,
                r.scope_name,
                r.subject_name,
                r.subject_id,
            )
        )
        counts = Counter(v.record.status for v in verdicts)
        return TenantSummary(
            tenant_id=tenant,
            readiness=readiness_of_verdicts(verdicts, bool(state.passing)),
            captured_at=state.captured_at,
            run_id=state.last_run_id,
            failing=counts[StoredStatus.FAIL],
            unknown=counts[StoredStatus.UNKNOWN],
            blocking=sum(1 for r in rows if r.blocking),
            profiles=tuple(profiles),
            tenant_wide=readiness_of_verdicts(tenant_wide, wide_passed)
            if verdicts or state.passing
            else Readiness.UNKNOWN,
            findings=tuple(rows),
            # Every verdict, the passing ones counted (as the summary counts them).
            verdicts=len(verdicts)
            + sum(count.passing + count.not_applicable for count in state.passing),
        )

    def _not_preprovisioning(self, tenant: str) -> frozenset[str] | None:
        """For the scan: the mirror's profiles that do not allow pre-provisioning (the recorded
        verdicts do not say it); None when the mirror cannot tell."""
        return profiles_not_preprovisioning(self.mirror, tenant)

    # -- devices ----------------------------------------------------------------------------

    def devices(self, tenant_id: str) -> DeviceIndex:
        """Per-device readiness: the stored one of the committed evaluation (its head only),
        else the mirror loaded and the rules run (once per committed evaluation)."""
        tenant = tenant_key(tenant_id)
        head = self.head(tenant)
        found = summaries.read_devices_head(self._service, tenant, head.rule_evaluated)
        if found is not None:
            return DeviceIndex(stored=found)
        return self._cache.get("devices", tenant, head.run, lambda: self._devices(tenant))

    def _devices(self, tenant: str) -> DeviceIndex:
        from rules.device_readiness import device_readiness
        from rules.engine import evaluate_snapshot
        from rules.snapshot_model import SnapshotModelError, TenantSnapshot

        try:
            document = self.mirror.load(tenant)
        except (MirrorError, ResourceNotFoundError) as error:
            return DeviceIndex(error=f"the tenant mirror cannot be read: {error}")
        if document is None:
            return DeviceIndex(
                error="no mirror of this tenant yet: the guardrail keeps one once it has read "
                "the tenant in full"
            )
        try:
            snapshot = TenantSnapshot.from_document(document)
        except SnapshotModelError as error:
            return DeviceIndex(error=f"the tenant mirror is not a readable snapshot: {error}")
        evaluation = evaluate_snapshot(snapshot)
        return DeviceIndex.of(device_readiness(snapshot, evaluation.findings, THRESHOLD))

    def with_devices_at_risk(self, summary: TenantSummary) -> tuple[TenantSummary, DeviceIndex]:
        """The summary with each profile's devices at risk (per-device readiness is costly, so
        only the tenant page asks; the all-tenants overview does not)."""
        if not summary.verdicts:
            return summary, DeviceIndex(error="nothing has been recorded for this tenant yet")
        index = self.devices(summary.tenant_id)
        if index.error is not None:
            return summary, index
        if index.stored is not None:
            at_risk = Counter(index.stored.at_risk)
        else:
            at_risk = Counter(d.profile_id or "" for d in index.at_risk)
        profiles = tuple(
            replace(p, devices_at_risk=at_risk.get(p.profile_id, 0)) for p in summary.profiles
        )
        return replace(summary, profiles=profiles), index

    def device(self, tenant_id: str, serial: str) -> tuple[DeviceIndex, DeviceReadiness | None]:
        for _ in range(2):
            index = self.devices(tenant_id)
            if index.stored is None:
                break
            try:
                return index, summaries.read_device(self._service, index.stored, serial)
            except summaries.GenerationGone:
                continue  # a newer per-device readiness replaced it meanwhile: read that
        return index, index.by_serial.get(serial.strip().lower())

    def at_risk_page(self, index: DeviceIndex, profile: str | None, page: int) -> Paged:
        """One page of the devices at risk (of one profile): stored pages, or the ranked list."""
        if index.stored is None:
            listed = [d for d in index.at_risk if profile is None or d.profile_id == profile]
            return page_of(listed, page, DEVICES_PAGE)
        total = index.stored.at_risk.get("*" if profile is None else profile, 0)
        pages = max(1, -(-total // DEVICES_PAGE))
        page = min(max(page, 1), pages)
        start = (page - 1) * DEVICES_PAGE
        try:
            items = summaries.read_at_risk(
                self._service, index.stored, profile, start, DEVICES_PAGE
            )
        except summaries.GenerationGone:
            # Replaced by a newer evaluation's since the page began: its counts and its devices
            # would not match; show the page on the next view.
            items = []
        return Paged(tuple(items), page, pages, total)

    # -- history ----------------------------------------------------------------------------

    def timeline(
        self,
        tenant_id: str,
        *,
        rule: str | None,
        subject: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        continuation: str | None,
        page_size: int,
    ) -> tuple[list[TimelineEntry], str | None]:
        """A page of transitions, newest first, each with the change events that caused it."""
        page = self.store.history(
            tenant_id,
            rule=rule,
            subject=subject,
            status=status,
            since=since,
            until=until,
            continuation=continuation,
            page_size=page_size,
        )
        events = self._events_around(tenant_id, page.items)
        entries = [
            TimelineEntry(t, tuple(events.get(cause, cause) for cause in t.cause_event_ids))
            for t in page.items
        ]
        return entries, page.continuation

    def _events_around(
        self, tenant_id: str, transitions: Sequence[Transition]
    ) -> dict[str, ChangeEvent]:
        """The change events a page of transitions names: one bounded query over its span."""
        wanted = {cause for t in transitions for cause in t.cause_event_ids}
        if not wanted:
            return {}
        newest = max(t.at for t in transitions)
        oldest = min(t.at for t in transitions) - CAUSE_LOOKBACK
        found: dict[str, ChangeEvent] = {}
        continuation = None
        scanned = 0
        while scanned < CAUSE_LOOKUP_EVENTS:
            page = self.store.changes(
                tenant_id, since=oldest, until=newest, continuation=continuation, page_size=50
            )
            for change in page.items:
                if change.event.event_id in wanted:
                    found[change.event.event_id] = change.event
            scanned += len(page.items)
            continuation = page.continuation
            if continuation is None or len(found) == len(wanted):
                break
        return found

    def changes(
        self,
        tenant_id: str,
        *,
        actor: str,
        since: datetime | None,
        until: datetime | None,
        continuation: str | None,
        page_size: int,
    ) -> tuple[list[ChangeWithEffects], str | None]:
        """Filtered by actor: that actor's change events, each with the transitions it caused."""
        page = self.store.changes(
            tenant_id,
            actor=actor,
            since=since,
            until=until,
            continuation=continuation,
            page_size=page_size,
        )
        return list(page.items), page.continuation

    def chart(self, tenant_id: str, summary: TenantSummary, now: datetime) -> list[ChartPoint]:
        """Blocking findings over the last days, walked back from now through the transitions."""
        current = summary.blocking
        points = [ChartPoint(now, current)]
        since = now - timedelta(days=CHART_DAYS)
        continuation = None
        walked = 0
        while walked < CHART_TRANSITIONS:
            page = self.store.history(
                tenant_id, since=since, until=now, continuation=continuation, page_size=200
            )
            for transition in page.items:
                blocking = severity_of(transition.record.severity).at_least(THRESHOLD)
                after = blocking and transition.to_status in _NOT_GREEN
                before = blocking and transition.from_status in _NOT_GREEN
                points.append(ChartPoint(transition.at, current))
                current = max(current - int(after) + int(before), 0)
                points.append(ChartPoint(transition.at, current))
            walked += len(page.items)
            continuation = page.continuation
            if continuation is None:
                break
        points.append(ChartPoint(max(since, points[-1].at - timedelta(days=1)), current))
        points.reverse()
        return points


_SEVERITY_RANK = {s: i for i, s in enumerate((Severity.BLOCKER, Severity.ERROR, Severity.WARNING))}


def _finding_order(row: FindingRow) -> tuple[Any, ...]:
    return (
        not row.blocking,
        row.status != StoredStatus.FAIL.value,
        _SEVERITY_RANK.get(Severity(row.severity), 3),
        row.rule_id,
        row.scope_name,
        row.subject_name,
        row.subject_id,
    )


def _readiness_of_counts(counts: Iterable[Mapping[str, int]]) -> Readiness:
    """`readiness_of_verdicts` over per-status counts (nothing recorded is unknown)."""
    listed = list(counts)
    if not any(sum(v for k, v in c.items() if not k.startswith("blocking_")) for c in listed):
        return Readiness.UNKNOWN
    if any(c.get("blocking_fail", 0) for c in listed):
        return Readiness.RED
    if any(c.get("blocking_unknown", 0) for c in listed):
        return Readiness.UNKNOWN
    return Readiness.GREEN


def _from_stored(tenant: str, head: Head, found: summaries.StoredSummary) -> TenantSummary:
    """The tenant summary from the stored readiness summary (same verdicts as a scan)."""
    from rules.catalog import all_rules

    metadata = {rule.metadata.id: rule.metadata for rule in all_rules()}
    tenant_wide = found.counts.get("", {})
    # No tenant-wide verdict blocks nothing, as in the reports.
    wide = _readiness_of_counts([tenant_wide]) if tenant_wide else Readiness.GREEN
    profiles = []
    for scope, counts in found.counts.items():
        if not scope:
            continue
        preprovisioning = found.preprovisioning.get(scope)
        readiness, red_by = judge_profile(
            _readiness_of_counts([counts]),
            wide,
            found.failing.get(scope, {}),
            found.failing.get("", {}),
            preprovisioning,
        )
        profiles.append(
            ProfileRow(
                profile_id=scope,
                name=found.names.get(scope) or scope,
                readiness=readiness,
                failing=counts.get(StoredStatus.FAIL.value, 0),
                unknown=counts.get(StoredStatus.UNKNOWN.value, 0),
                devices_at_risk=None,
                preprovisioning=preprovisioning,
                red_by=red_by,
            )
        )
    profiles.sort(key=lambda p: p.name.lower())
    rows = []
    for f in found.findings:
        rows.append(_finding_row(f, f.status, parse_time(found.evaluated_at[f.rule_id]), metadata))
    rows.sort(key=_finding_order)
    total = Counter[str]()
    for counts in found.counts.values():
        total.update(counts)
    verdicts = sum(v for k, v in total.items() if not k.startswith("blocking_"))
    return TenantSummary(
        tenant_id=tenant,
        readiness=_readiness_of_counts(found.counts.values()),
        captured_at=head.captured_at,
        run_id=head.run or None,
        failing=total[StoredStatus.FAIL.value],
        unknown=total[StoredStatus.UNKNOWN.value],
        blocking=total["blocking_fail"] + total["blocking_unknown"],
        profiles=tuple(profiles),
        tenant_wide=_readiness_of_counts([tenant_wide]) if verdicts else Readiness.UNKNOWN,
        findings=tuple(rows),
        verdicts=verdicts,
        source="summary",
        findings_total=total[StoredStatus.FAIL.value] + total[StoredStatus.UNKNOWN.value],
    )
