"""Processing one `changes` message: refresh what it touched, re-evaluate what reads it, record.

1. Work out the objects the change names and read only those from Graph (an Intune object with
   its expanded navigations, a group and its direct members, up to 15 Entra devices), plus any
   group a refreshed object newly references. A `full` change, or a tenant the mirror has never
   seen, reads the whole tenant.
2. Write them to the tenant mirror, *then* take the snapshot time, then load the mirror: of two
   concurrent changes of one tenant the one that loads later sees both, and the store refuses the
   evaluation of an older snapshot, so neither can undo the other.
3. Evaluate only the rules whose `graph_reads` meet the touched collections; the store leaves
   the verdicts of the other rules as they are.
4. Record via `VerdictStore` (attributed to the change's event ids) and enqueue one `alerts`
   message carrying the run's transitions, then note the run in the tenant's `alerts-queued`
   cursor. A redelivered message re-reads the same state and finds no transition; if its run is not
   noted, an earlier attempt died between recording and queueing, and the run's recorded
   transitions (`recorded_by_run`) are queued now: once, not zero times, not twice. (Dying
   between queueing and the note queues them again on the next attempt, with the same
   idempotency keys: the delivery ledger posts them once.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import quote

from monitors.dashboard.summary import summarize_recorded
from monitors.graph.client import BatchRunner, GraphClient, GraphError
from monitors.graph.collections import (
    ENTRA_DEVICE_FIELDS,
    GROUP_FIELDS,
    GROUP_IDS_PER_FILTER,
    MEMBERS_PAGE_SIZE,
    NOT_ASSIGNED_STATUSES,
    SETTINGS_PAGE_SIZE,
    spec_for,
)
from monitors.graph.oma_values import read_plain_oma_values
from monitors.graph.reader import (
    RELATIONSHIP_COUNTS,
    TenantReader,
    assigned_devices_url,
    autopilot_device_fields,
    chunked,
    is_safe_id,
    profile_reference,
    queue_paged,
    referenced_group_ids,
    without_annotations,
)
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import (
    ALERTS_QUEUE,
    AlertBatch,
    AlertMessage,
    ChangeMessage,
    QueueSender,
    alert_batches,
    send_later,
)
from monitors.guardrail.snapshot_models import SnapshotModels
from monitors.store.keys import digest, format_time, parse_time
from monitors.store.records import RunInfo, Transition
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import graph as graph_telemetry
from monitors.telemetry.evaluation import evaluate_observed, record_readiness, record_transitions
from rules import tenant_collections as tc
from rules.context import OperatorSettings
from rules.engine import Evaluation, Rule, collector_paused, evaluate_snapshot
from rules.findings import Finding, Status
from rules.snapshot_model import TenantSnapshot

log = logging.getLogger(__name__)

ZTDID_PREFIX: Final = "[ztdid]"
REDELIVERY_WINDOW: Final = timedelta(days=1)
MAX_HISTORY_PAGES: Final = 5
ALERTS_QUEUED_CURSOR: Final = "alerts-queued"
MAX_QUEUED_RUNS: Final = 500  # run digests the cursor keeps (it must stay under 32 K characters)
CURSOR_ATTEMPTS: Final = 5
HELD: Final = "held"  # operations rows of alerts waiting for their cause (see `AlertTiming`)
ATTACH_WINDOW: Final = timedelta(hours=1)  # how long a held alert can still get its cause
MAX_HELD_TEXT: Final = 30_000  # a table property holds 32,768 UTF-16 characters
CONFIRM_DELAY_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class AlertTiming:
    """When an alert becomes visible on the `alerts` queue (docs/guardrail.md, Attribution).

    `settle_s`: every alert waits this long, so that at send time a transition of the same
    subject that followed within it is already recorded (a flap is not posted).
    `hold_s`: an alert of a change that came with no audit record yet (a change notification or
    a delta) waits this long for the audit record; when the record arrives first, the alert is
    queued at once, attributed, and the held copy finds it already sent.
    """

    settle_s: float = 0.0
    hold_s: float = 0.0


class UnconfirmedDeletion(GraphError):
    """Graph said 404 for an object, then showed it again: neither deleted nor readable now."""


class GraphConnector(Protocol):
    """Opens a Graph client for one tenant (its own credential, endpoint and request counts)."""

    def __call__(self, tenant_id: str) -> AbstractAsyncContextManager[GraphClient]: ...


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    message_id: str
    kind: str
    outcome: str  # "committed", "superseded", "reauthorized", ...
    touched: tuple[str, ...] = ()
    rules_evaluated: int = 0
    transitions: tuple[Transition, ...] = ()
    graph_requests: int = 0
    alerts_enqueued: int = 0


@dataclass
class Refresh:
    """What an incremental read found: objects to write and to forget, per collection."""

    put: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def store(self, collection: str, obj: dict[str, Any]) -> None:
        self.put.setdefault(collection, []).append(obj)
        self.touched.add(collection)

    def forget(self, collection: str, object_id: str) -> None:
        self.removed.setdefault(collection, []).append(object_id)
        self.touched.add(collection)


async def process_change(
    message: ChangeMessage,
    *,
    connect: GraphConnector,
    mirror: TenantMirror,
    store: VerdictStore,
    sender: QueueSender,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rules: Sequence[Rule] | None = None,
    redelivered: bool = False,
    operator_settings: OperatorSettings | None = None,
    timing: AlertTiming = AlertTiming(),
    confirm_delay_s: float = CONFIRM_DELAY_S,
    models: SnapshotModels | None = None,
) -> ChangeOutcome:
    """`models`: the instance's kept snapshot models; with them a change parses only the
    objects its mirror load brought in anew (`monitors.guardrail.snapshot_models`)."""
    from rules.catalog import all_rules

    tenant = message.tenant_id
    started = clock()
    began = time.monotonic()
    failure: GraphError | None = None
    version: int | None = None  # the mirror version of `document` (None: a read from Graph)
    run_id = f"change-{message.id}"  # one run id per message: a redelivery finds its work
    async with connect(tenant) as client:
        if message.kind == "reauthorize":
            from monitors.guardrail.subscriptions import handle_lifecycle_event

            outcome = await handle_lifecycle_event(client, tenant, message.resource)
            return ChangeOutcome(
                message.id, message.kind, outcome, graph_requests=client.stats.graph_requests()
            )
        full = message.kind == "full" or mirror.meta(tenant) is None
        if full:
            document = await TenantReader(client, tenant_id=tenant, clock=clock).read()
            mirror.save_snapshot(tenant, document)
            touched = set(tc.ALL_COLLECTIONS)
        else:
            try:
                refresh = await confirmed_refresh(message, client, mirror, confirm_delay_s)
            except GraphError as error:
                # Graph is out (429/503 past the retries, a broken page, 403): what the change
                # touched cannot be read. Its rules become UNKNOWN now, never stay PASS; the
                # error is raised after recording, so the queue tries the change again (and a
                # poisoned message leads to a full read).
                failure = error
                refresh = Refresh()
                touched = blind_collections(message)
                run_id = f"change-{message.id}-blind"
            for collection, objects in refresh.put.items():
                mirror.put_objects(tenant, collection, objects)
            for collection, ids in refresh.removed.items():
                mirror.remove_objects(tenant, collection, ids)
            if failure is None:
                touched = refresh.touched
            # Written first, timed second, loaded third: see the module docstring.
            loaded = mirror.load_versioned(tenant, captured_at=clock())
            assert loaded is not None  # the meta row was there a moment ago and is never deleted
            document, version = loaded
        graph_requests = client.stats.graph_requests()
    # The rest is CPU work over the whole tenant (model, rules, recording, gauges, summary):
    # the cyclic collector would walk the kept model and mirror copy again and again for
    # nothing (docs/guardrail.md, "Garbage collection"). It runs again when this returns or
    # raises.
    with collector_paused():
        selected = tuple(
            rule
            for rule in (rules if rules is not None else all_rules())
            if set(rule.metadata.graph_reads) & touched
        )
        if not selected:
            if failure is not None:
                raise failure
            attach_late_causes(store, sender, message, timing, clock())
            return ChangeOutcome(
                message.id,
                message.kind,
                "nothing-to-evaluate",
                tuple(sorted(touched)),
                0,
                (),
                graph_requests,
            )
        trigger = "reconcile" if message.kind == "full" else f"queue:{message.source}"
        changed = changed_objects(message)

        def model_of(document: Mapping[str, Any], version: int | None) -> TenantSnapshot:
            if models is None:
                return TenantSnapshot.from_document(document)
            return models.model(document, version=version)

        snapshot = (
            model_of(document, version)
            if failure is None
            else model_of(unreadable_document(document, changed, failure), None)
        )
        evaluation = evaluate_observed(
            snapshot,
            trigger=trigger,
            rules=selected,
            settings=operator_settings,  # attestations (MDM scope) where Graph cannot be read
        )
        if failure is not None:
            # The same rules over the mirror as it was: what differs is what the unreadable
            # object decides (below, "Graph outages and deletions").
            last_known = evaluate_snapshot(model_of(document, version), selected, operator_settings)
            evaluation = blind_evaluation(
                last_known,
                evaluation,
                frozenset(i for ids in changed.values() for i in ids),
                failure,
                sorted(touched),
            )
        run = RunInfo(
            run_id=run_id,
            trigger=trigger,
            started_at=started,
            duration_ms=int((time.monotonic() - began) * 1000),
            graph_requests=graph_requests,
        )
        result = store.record_evaluation(tenant, evaluation, run, message.event_ids)
        record_transitions(result.transitions)
        if result.outcome == "committed" and (result.transitions or full):
            # Readiness changes only with a transition; a full read refreshes it anyway.
            record_readiness(tenant, store)
        alerts = result.transitions
        if redelivered and not alerts_queued(store, tenant, run.run_id):
            # An earlier attempt may have recorded transitions and died before queueing their
            # alerts: queue every transition of this run (same idempotency keys as then).
            earlier = recorded_by_run(store, tenant, run.run_id, since=started - REDELIVERY_WINDOW)
            alerts = _union(earlier, alerts)
        findings = {
            (f.rule_id, f.scope.profile_id if f.scope else "", f.subject.id): f
            for f in evaluation.findings
        }
        # One message for the run's alerts (one root cause, one card: see docs/alerts.md).
        run_alerts = [
            AlertMessage.for_transition(transition).with_finding(
                findings.get(
                    (
                        transition.record.rule_id,
                        transition.record.scope_id,
                        transition.record.subject_id,
                    )
                )
            )
            for transition in alerts
        ]
        now = clock()
        queue_alerts(store, sender, message, run.run_id, alerts, run_alerts, timing, now)
        if alerts:
            from azure.core.exceptions import AzureError

            try:
                note_alerts_queued(store, tenant, run.run_id, clock())
            except AzureError as error:
                # The alerts are queued: finish the message. Only a redelivery of it (unlikely
                # now) would queue them again, under the same idempotency keys.
                log.warning(
                    "could not note the queued alerts of %s: %s", run.run_id, type(error).__name__
                )
        summarize_recorded(store, evaluation, result, snapshot, touched)  # the dashboard reads it
        if failure is not None:
            log.warning(
                "change %s: Graph failed (%s); %d rules recorded as unknown, the change is retried",
                message.id,
                failure.status,
                len(selected),
                extra={"tenant_id": tenant, "change_id": message.id},
            )
            raise failure
        attach_late_causes(store, sender, message, timing, now)
        log.info(
            "change %s (%s/%s): %d rules, %d transitions, %d Graph requests",
            message.id,
            message.source,
            message.kind,
            len(selected),
            len(result.transitions),
            graph_requests,
            extra={"tenant_id": tenant, "change_id": message.id, "graph_requests": graph_requests},
        )
        return ChangeOutcome(
            message.id,
            message.kind,
            result.outcome,
            tuple(sorted(touched)),
            len(selected),
            result.transitions,
            graph_requests,
            len(alerts),
        )


# -- Graph outages and deletions ------------------------------------------------------------------


def blind_collections(message: ChangeMessage) -> set[str]:
    """The collections an incremental change would have re-read."""
    if message.kind == "intune":
        return {str(message.resource["collection"])}
    if message.kind == "group":
        return {tc.GROUPS}
    if message.kind == "device":
        return {tc.DEVICES}
    return set()


def changed_objects(message: ChangeMessage) -> dict[str, frozenset[str]]:
    """The objects an incremental change names, per collection."""
    if message.kind == "device":
        return {tc.DEVICES: frozenset(str(i) for i in message.resource["ids"])}
    if message.kind == "group":
        return {tc.GROUPS: frozenset({str(message.resource["id"])})}
    if message.kind == "intune":
        collection = str(message.resource["collection"])
        return {collection: frozenset({str(message.resource["id"])})}
    return {}


def unreadable_document(
    document: Mapping[str, Any], changed: Mapping[str, frozenset[str]], error: GraphError
) -> dict[str, Any]:
    """The mirror's snapshot document with every navigation of the changed objects recorded as
    unread (`errors["<collection>/<id>/<navigation>"]`, as the reader records a navigation it
    could not read: docs/snapshot-format.md), so the rules' own UNKNOWN logic decides which
    verdicts rest on what could not be read (a group's members, an app's assignments...).

    The document is the mirror's cached copy: only the changed objects and the dictionaries on
    the way to them are copied, nothing shared is modified."""
    collections = dict(document.get("collections") or {})
    errors = dict(document.get("errors") or {})
    record = {"status": error.status, "message": error.message[:500]}
    for collection, ids in changed.items():
        navigations = tc.INLINED_NAVIGATIONS.get(collection, ())
        if not navigations or collection not in collections:
            continue
        objects = []
        for obj in collections[collection]:
            object_id = obj.get("id") if isinstance(obj, Mapping) else None
            if object_id not in ids:
                objects.append(obj)
                continue
            objects.append({k: v for k, v in obj.items() if k not in navigations})
            errors.update({f"{collection}/{object_id}/{n}": dict(record) for n in navigations})
        collections[collection] = objects
    return {**document, "collections": collections, "errors": errors}


def blind_evaluation(
    last_known: Evaluation,
    unread: Evaluation,
    object_ids: frozenset[str],
    error: GraphError,
    collections: Sequence[str] = (),
) -> Evaluation:
    """What an incremental change whose objects could not be re-read records: UNKNOWN for every
    verdict the unreadable objects decide, the last known value for the others (no storm of
    blind verdicts for a tenant-wide collection).

    `last_known` is the evaluation of the mirror as it is, `unread` the same rules over the
    mirror with the changed objects' data marked unread (`unreadable_document`). A verdict the
    objects decide is one the two evaluations disagree on (the rules' own UNKNOWN logic, or a
    subject that appears or disappears), or one whose subject or related objects are a changed
    object (its own properties, which no navigation error covers). Such a verdict is UNKNOWN,
    whatever it was, stored or not: a subject that passed (no record) gets an UNKNOWN record and
    a transition from `pass`, and goes back to pass when the object can be read again. Unknown
    is never green.

    The first reason is written as the rules write an unreadable collection (`<path> could not
    be read (<status> <message>)`), so the run's blind alerts make one card naming the
    collection and what Graph answered (monitors/alerts/cards.py)."""
    reason = f"the changed object could not be re-read from Graph: {error.message}"[:500]
    unreadable = tuple(
        f"{path} could not be read ({error.status} {error.message})"[:500] for path in collections
    )

    def key(finding: Finding) -> tuple[str, str, str, str]:
        scope = finding.scope.profile_id if finding.scope else ""
        return (finding.rule_id, scope, finding.subject.type, finding.subject.id)

    def blind(finding: Finding, own: Finding | None) -> Finding:
        said = own.reasons if own is not None and own.status is Status.UNKNOWN else ()
        return replace(
            finding,
            status=Status.UNKNOWN,
            message=f"Unknown: {reason}",
            reasons=(*unreadable, reason, *said, *finding.reasons),
        )

    without = {key(finding): finding for finding in unread.findings}
    findings: list[Finding] = []
    for finding in last_known.findings:
        other = without.pop(key(finding), None)
        involved = finding.subject.id in object_ids or any(
            related.id in object_ids for related in finding.related
        )
        if involved or other is None or other.status is not finding.status:
            findings.append(blind(finding, other))
        else:
            findings.append(finding)
    # Verdicts only the unread evaluation has (e.g. a scope whose members are now unknown).
    findings.extend(blind(finding, None) for finding in without.values())
    return replace(last_known, findings=tuple(findings))


def deletion_announced(message: ChangeMessage) -> bool:
    """The change itself says the object was deleted (a `deleted` change notification)."""
    return str(message.resource.get("changeType") or "") == "deleted" or (
        str(message.resource.get("operation") or "").lower() == "delete"
    )


async def confirmed_refresh(
    message: ChangeMessage, client: GraphClient, mirror: TenantMirror, confirm_delay_s: float
) -> Refresh:
    """`refresh_for`, with every 404 confirmed before it counts as a deletion.

    Graph answers a transient 404 now and then (a replica that has not caught up); taken as a
    deletion, one such answer for a group drops every assignment to it. A 404 is a deletion when
    the change says so (a `deleted` notification) or a second look after `confirm_delay_s`
    is a 404 again. If the second look finds the object, the refresh is done once more; an
    object that keeps coming and going is an `UnconfirmedDeletion` (retried later).
    """
    for _ in range(2):
        refresh = await refresh_for(message, client, mirror)
        if deletion_announced(message) or not _lookable_removals(refresh):
            return refresh
        await asyncio.sleep(confirm_delay_s)
        reappeared = [
            (collection, object_id)
            for collection, object_id in _lookable_removals(refresh)
            if await _still_there(client, collection, object_id)
        ]
        if not reappeared:
            return refresh
        log.warning(
            "Graph answered 404 for %d object(s) that a second look found: not deletions",
            len(reappeared),
            extra={"tenant_id": message.tenant_id, "change_id": message.id},
        )
    raise UnconfirmedDeletion(503, "Graph keeps answering 404 and 200 for the same object")


def _lookable_removals(refresh: Refresh) -> list[tuple[str, str]]:
    # Devices leave the snapshot when they are gone *or* lose their ZTDId: both come from one
    # filtered list read, not from a 404.
    return [
        (collection, object_id)
        for collection, ids in refresh.removed.items()
        if collection != tc.DEVICES
        for object_id in ids
    ]


async def _still_there(client: GraphClient, collection: str, object_id: str) -> bool:
    version = "v1.0" if collection == tc.GROUPS else spec_for(collection).version
    try:
        await client.get_json(version, f"{collection}/{object_id}?$select=id")
    except GraphError as error:
        if error.status == 404:
            return False
        raise
    return True


# -- queueing alerts: settle, hold for the cause, late attach --------------------------------------


def held_object_keys(message: ChangeMessage) -> tuple[str, ...]:
    """The directory objects a change names, as the directory audit will name them."""
    if message.kind == "group":
        return (f"group:{message.resource['id']}",)
    if message.kind == "device":
        return tuple(f"device:{device_id}" for device_id in message.resource["ids"])
    return ()


def queue_alerts(
    store: VerdictStore,
    sender: QueueSender,
    message: ChangeMessage,
    run_id: str,
    transitions: Sequence[Transition],
    run_alerts: Sequence[AlertMessage],
    timing: AlertTiming,
    now: datetime,
) -> int:
    """Queue the run's alerts as one batch (parts only when it does not fit one message):
    visible after the settle time, or, when the change named a directory object and came with
    no audit record for some of its transitions, held for their cause (see `AlertTiming`).

    A held batch gets an operations row (`held`) that names the objects, the run and its time
    window; `attach_late_causes` finds it when the audit record arrives. Returns how many
    messages were queued."""
    batches = alert_batches(message.tenant_id, run_id, run_alerts)
    if not batches:
        return 0
    objects = held_object_keys(message)
    hold = (
        bool(objects)
        and timing.hold_s > 0
        and any(not transition.cause_event_ids for transition in transitions)
    )
    times = [transition.at for transition in transitions]
    for batch in batches:
        text = batch.to_text()
        if not hold:
            send_later(sender, ALERTS_QUEUE, text, timing.settle_s)
            continue
        store.put_operational(
            message.tenant_id,
            HELD,
            f"{run_id}|{batch.part}",
            {
                "Objects": ",".join(objects),
                "Run": run_id,
                "Since": format_time(min(times)),
                "Until": format_time(max(times)),
                "HeldAt": format_time(now),
                "Alert": text if len(text) <= MAX_HELD_TEXT else "",
            },
        )
        send_later(sender, ALERTS_QUEUE, text, max(timing.hold_s, timing.settle_s))
    return len(batches)


def attach_late_causes(
    store: VerdictStore,
    sender: QueueSender,
    message: ChangeMessage,
    timing: AlertTiming,
    now: datetime,
) -> int:
    """A change that comes with audit event ids attributes the held batches of the same object:
    their runs' transitions get the causes (history and `/api/changes` name the actor) and each
    batch is queued again now, attributed, with the same alerts and idempotency keys (so the
    same cards: whichever copy is handled first posts, the other posts nothing). A batch too
    large to keep is not queued again: its held copy finds the causes in the store when it is
    sent (monitors/alerts/settle.py). Returns how many transitions were attributed."""
    objects = set(held_object_keys(message))
    if not message.event_ids or not objects:
        return 0
    tenant = message.tenant_id
    attached = 0
    for row, _ in store.list_operational(tenant, HELD):
        name = str(row.get("Name") or "")
        held_at = parse_time(str(row.get("HeldAt") or format_time(now)))
        if now - held_at > ATTACH_WINDOW:
            store.delete_operational(tenant, HELD, name)  # its alerts went out unattributed
            continue
        if not objects & set(str(row.get("Objects") or "").split(",")):
            continue
        recorded = recorded_by_run(
            store,
            tenant,
            str(row.get("Run") or ""),
            since=parse_time(str(row["Since"])) - timedelta(seconds=1),
            until=parse_time(str(row["Until"])) + timedelta(seconds=1),
        )
        text = str(row.get("Alert") or "")
        batch = AlertBatch.from_text(text) if text else None
        if batch is not None:
            wanted = {_alert_slot(alert.transition) for alert in batch.alerts}
            recorded = tuple(t for t in recorded if _slot(t) in wanted)
        if recorded:
            now_caused = {
                _slot(t): t for t in store.attach_causes(tenant, recorded, message.event_ids)
            }
            attached += len(now_caused)
            if batch is not None:
                send_later(
                    sender,
                    ALERTS_QUEUE,
                    _with_causes(batch, now_caused).to_text(),
                    timing.settle_s,
                )
        store.delete_operational(tenant, HELD, name)
    if attached:
        log.info(
            "change %s attributed %d held transition(s)",
            message.id,
            attached,
            extra={"tenant_id": tenant, "change_id": message.id},
        )
    return attached


_Slot = tuple[int, str, str, str, str]


def _slot(transition: Transition) -> _Slot:
    record = transition.record
    return (
        transition.seq,
        record.rule_id,
        record.scope_id,
        record.subject_type,
        record.subject_id,
    )


def _alert_slot(document: Mapping[str, Any]) -> _Slot:
    subject = document.get("subject") or {}
    scope = document.get("scope") or {}
    seq = document.get("seq", 0)
    return (
        seq if isinstance(seq, int) else 0,
        str(document.get("ruleId") or ""),
        str(scope.get("profileId") or "") if isinstance(scope, Mapping) else "",
        str(subject.get("type") or "") if isinstance(subject, Mapping) else "",
        str(subject.get("id") or "") if isinstance(subject, Mapping) else "",
    )


def _with_causes(batch: AlertBatch, caused: Mapping[_Slot, Transition]) -> AlertBatch:
    alerts = []
    for alert in batch.alerts:
        transition = caused.get(_alert_slot(alert.transition))
        if transition is not None:
            document = {**alert.transition, "causeEventIds": list(transition.cause_event_ids)}
            alert = replace(alert, transition=document)
        alerts.append(alert)
    return replace(batch, alerts=tuple(alerts))


def recorded_by_run(
    store: VerdictStore,
    tenant_id: str,
    run_id: str,
    *,
    since: datetime,
    until: datetime | None = None,
) -> tuple[Transition, ...]:
    found: list[Transition] = []
    continuation = None
    for _ in range(MAX_HISTORY_PAGES):
        page = store.history(
            tenant_id, since=since, until=until, continuation=continuation, page_size=1000
        )
        found.extend(t for t in page.items if t.run_id == run_id)
        continuation = page.continuation
        if continuation is None:
            break
    return tuple(found)


def _union(*groups: Sequence[Transition]) -> tuple[Transition, ...]:
    seen: dict[tuple[int, str, str, str, str], Transition] = {}
    for group in groups:
        for t in group:
            record = t.record
            key = (t.seq, record.rule_id, record.scope_id, record.subject_type, record.subject_id)
            seen.setdefault(key, t)
    return tuple(seen.values())


def _run_digest(run_id: str) -> str:
    return digest(run_id, length=16)


def _queued_runs(store: VerdictStore, tenant_id: str) -> tuple[dict[str, str], str | None]:
    stored = store.get_cursor(tenant_id, ALERTS_QUEUED_CURSOR)
    if stored is None:
        return {}, None
    try:
        runs = json.loads(stored[0])
    except json.JSONDecodeError:
        runs = None
    if not isinstance(runs, dict):
        log.warning("the %s cursor is not a JSON object; starting it again", ALERTS_QUEUED_CURSOR)
        return {}, stored[1]
    return {str(k): str(v) for k, v in runs.items()}, stored[1]


def alerts_queued(store: VerdictStore, tenant_id: str, run_id: str) -> bool:
    """Whether the alerts of this run's transitions were all queued by an earlier attempt."""
    return _run_digest(run_id) in _queued_runs(store, tenant_id)[0]


def note_alerts_queued(store: VerdictStore, tenant_id: str, run_id: str, now: datetime) -> None:
    """Remember (compare-and-set) that this run's alerts are queued: the runs of the last
    `REDELIVERY_WINDOW`, at most `MAX_QUEUED_RUNS` of them."""
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

    cutoff = now - REDELIVERY_WINDOW
    for _ in range(CURSOR_ATTEMPTS):
        runs, etag = _queued_runs(store, tenant_id)
        runs[_run_digest(run_id)] = format_time(now)
        kept = sorted(
            ((k, v) for k, v in runs.items() if parse_time(v) >= cutoff),
            key=lambda item: item[1],
        )[-MAX_QUEUED_RUNS:]
        try:
            store.set_cursor(tenant_id, ALERTS_QUEUED_CURSOR, json.dumps(dict(kept)), etag=etag)
            return
        except (ResourceModifiedError, ResourceExistsError):
            continue  # another change of this tenant noted its run first: read again
    # Not fatal: a later redelivery of this message would queue these alerts again, with the
    # same idempotency keys (the delivery ledger posts them once).
    log.warning("could not note the queued alerts of run %s", run_id)


# -- incremental reads ---------------------------------------------------------------------------


async def refresh_for(message: ChangeMessage, client: GraphClient, mirror: TenantMirror) -> Refresh:
    refresh = Refresh()
    resource = message.resource
    if message.kind == "intune" and resource["collection"] == tc.AUTOPILOT_DEVICES:
        await _refresh_autopilot_device(
            client, mirror, message.tenant_id, str(resource["id"]), refresh
        )
    elif message.kind == "intune":
        await _refresh_intune_object(
            client, str(resource["collection"]), str(resource["id"]), refresh
        )
        await _refresh_new_groups(client, message.tenant_id, mirror, refresh)
    elif message.kind == "group":
        await _refresh_groups(client, [str(resource["id"])], refresh, forget_missing=True)
    elif message.kind == "device":
        await _refresh_devices(client, [str(i) for i in resource["ids"]], refresh)
    elif message.kind == "collections":
        from monitors.guardrail.collection_refresh import refresh_collections

        paths = [str(path) for path in resource["collections"]]
        await refresh_collections(client, message.tenant_id, mirror, paths, refresh)
        await _refresh_new_groups(client, message.tenant_id, mirror, refresh)
    return refresh


# Navigations whose single-object `$expand` Graph answers wrongly: read them by path instead.
# Endpoint-security settings policies answer `$expand=assignments` on one policy with an empty
# list (msgraph-sdk-powershell#3337); the list's expand is right, so only refreshes need this.
READ_BY_PATH: Final[dict[str, str]] = {tc.SETTINGS_CATALOG_POLICIES: "assignments"}


async def _refresh_intune_object(
    client: GraphClient, collection: str, object_id: str, refresh: Refresh
) -> None:
    spec = spec_for(collection)
    by_path = READ_BY_PATH.get(collection)
    # Top-level expand items (none of the specs' nested ones holds a comma).
    expand = ",".join(part for part in spec.expand.split(",") if part and part != by_path)
    params = []
    if spec.select:
        params.append("$select=" + ",".join(spec.select))
    if expand:
        params.append(f"$expand={expand}")
    url = f"{collection}/{object_id}" + ("?" + "&".join(params) if params else "")
    try:
        obj = without_annotations(await client.get_json(spec.version, url))
    except GraphError as error:
        if error.status == 404:
            refresh.forget(collection, object_id)
            return
        if not (error.status == 400 and spec.per_object_fallback):
            raise
        # Graph refused the expand on this object: read it plain, the navigation by path.
        plain = [p for p in params if not p.startswith("$expand")]
        obj = without_annotations(
            await client.get_json(
                spec.version, f"{collection}/{object_id}" + ("?" + "&".join(plain) if plain else "")
            )
        )
        graph_telemetry.record_refused(spec.version, url, error.status)
        graph_telemetry.record_fallback(graph_telemetry.FALLBACK_PER_OBJECT, collection)
        for navigation in spec.per_object_fallback:
            obj[navigation] = await _list_all(client, f"{collection}/{object_id}/{navigation}")
    if collection == tc.DEVICE_CONFIGURATIONS:
        await read_plain_oma_values(client, [obj])
    if by_path is not None:
        obj[by_path] = await _list_all(client, f"{collection}/{object_id}/{by_path}")
        graph_telemetry.record_fallback(graph_telemetry.FALLBACK_ASSIGNMENTS_PATH, collection)
    if collection == tc.SETTINGS_CATALOG_POLICIES:
        obj["settings"] = (
            []
            if obj.get("settingCount") == 0
            else await _list_all(
                client, f"{collection}/{object_id}/settings?$top={SETTINGS_PAGE_SIZE}"
            )
        )
    if collection == tc.MOBILE_APPS:
        counts = [obj.get(name) for name in RELATIONSHIP_COUNTS]
        obj["relationships"] = (
            []
            if all(count == 0 for count in counts)
            else await _list_all(client, f"{collection}/{object_id}/relationships")
        )
    refresh.store(collection, obj)


async def _refresh_autopilot_device(
    client: GraphClient, mirror: TenantMirror, tenant_id: str, object_id: str, refresh: Refresh
) -> None:
    """One Autopilot device as the list shows it, with its assigned profile.

    A single-object GET reports `deploymentProfileAssignmentStatus` as `unknown`, and neither
    `$expand=deploymentProfile` nor the navigation's path is served: the device is found in the
    list filtered on its serial number (`contains`: `eq` is unreliable there), matched by id.
    Its profile is the mirror's while its status and assignment date are unchanged, null when
    the status says none is assigned, and otherwise looked up in each profile's
    `assignedDevices`.
    """
    known = mirror.get_object(tenant_id, tc.AUTOPILOT_DEVICES, object_id)
    serial = known.get("serialNumber") if known else None
    if not isinstance(serial, str) or not serial.strip():
        # Not in the mirror yet: one GET by id for its serial number (not for its status).
        graph_telemetry.record_fallback(graph_telemetry.FALLBACK_DEVICE_BY_ID, tc.AUTOPILOT_DEVICES)
        try:
            single = await client.get_json("beta", f"{tc.AUTOPILOT_DEVICES}/{object_id}")
        except GraphError as error:
            if error.status == 404:
                refresh.forget(tc.AUTOPILOT_DEVICES, object_id)
                return
            raise
        serial = single.get("serialNumber")
        if not isinstance(serial, str) or not serial.strip():
            raise GraphError(502, "the Autopilot device has no serial number to look it up by")
    device = await _device_from_list(client, object_id, serial)
    if device is None:
        refresh.forget(tc.AUTOPILOT_DEVICES, object_id)
        return
    device = autopilot_device_fields(device)
    status = device.get("deploymentProfileAssignmentStatus")
    if status in NOT_ASSIGNED_STATUSES:
        device["deploymentProfile"] = None
    elif (
        known is not None
        and "deploymentProfile" in known
        and known.get("deploymentProfileAssignmentStatus") == status
        and known.get("deploymentProfileAssignedDateTime")
        == device.get("deploymentProfileAssignedDateTime")
    ):
        device["deploymentProfile"] = known["deploymentProfile"]  # the same assignment
    else:
        graph_telemetry.record_fallback(
            graph_telemetry.FALLBACK_PROFILE_LOOKUP, tc.AUTOPILOT_PROFILES
        )
        device["deploymentProfile"] = await _assigned_profile(client, mirror, tenant_id, object_id)
    refresh.store(tc.AUTOPILOT_DEVICES, device)


async def _device_from_list(
    client: GraphClient, object_id: str, serial: str
) -> dict[str, Any] | None:
    """The device's row of the list: filtered on its serial number (on its first word, as
    WindowsAutopilotIntune does for serials with spaces), else, if a GET by id says it exists,
    the whole list (bounded, and rare). None when the device is gone."""

    def matching(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        wanted = object_id.lower()
        return next((row for row in rows if str(row.get("id", "")).lower() == wanted), None)

    quoted = quote(serial.split()[0].replace("'", "''"), safe="")
    url = f"{tc.AUTOPILOT_DEVICES}?$filter=contains(serialNumber,'{quoted}')"
    found = matching(await _list_all(client, url))
    if found is not None:
        return found
    try:
        await client.get_json("beta", f"{tc.AUTOPILOT_DEVICES}/{object_id}")
    except GraphError as error:
        if error.status == 404:
            return None
        raise
    graph_telemetry.record_fallback(graph_telemetry.FALLBACK_DEVICE_LIST, tc.AUTOPILOT_DEVICES)
    spec = spec_for(tc.AUTOPILOT_DEVICES)
    return matching(await _list_all(client, spec.list_url()))


async def _assigned_profile(
    client: GraphClient, mirror: TenantMirror, tenant_id: str, device_id: str
) -> dict[str, Any] | None:
    """The profile whose `assignedDevices` lists the device (profiles as the mirror holds them),
    every profile's list read in the same JSON batches."""
    runner = BatchRunner(client, "beta")
    found: list[dict[str, Any]] = []
    failures: list[GraphError] = []
    for profile in mirror.objects(tenant_id, tc.AUTOPILOT_PROFILES):

        def done(devices: list[dict[str, Any]], profile: dict[str, Any] = profile) -> None:
            if any(str(d.get("id", "")).lower() == device_id.lower() for d in devices):
                found.append(profile_reference(profile))

        queue_paged(
            client,
            runner,
            "beta",
            assigned_devices_url(str(profile["id"])),
            on_done=done,
            on_error=failures.append,
        )
    await runner.drain()
    if found:
        return found[0]
    if failures:
        raise failures[0]  # the profile may be in the list that could not be read
    return None


async def _refresh_new_groups(
    client: GraphClient, tenant_id: str, mirror: TenantMirror, refresh: Refresh
) -> None:
    """Groups a refreshed object now targets that the mirror does not hold yet."""
    wanted = referenced_group_ids(refresh.put)
    missing = [g for g in sorted(wanted) if mirror.get_object(tenant_id, tc.GROUPS, g) is None]
    if missing:
        await _refresh_groups(client, missing, refresh, forget_missing=False)


async def _refresh_groups(
    client: GraphClient, group_ids: Sequence[str], refresh: Refresh, *, forget_missing: bool
) -> None:
    select = ",".join(GROUP_FIELDS)
    found: dict[str, dict[str, Any]] = {}
    if len(group_ids) == 1:
        try:
            group = await client.get_json("v1.0", f"groups/{group_ids[0]}?$select={select}")
            found[group_ids[0]] = without_annotations(group)
        except GraphError as error:
            if error.status != 404:
                raise
    else:
        for chunk in chunked(list(group_ids), GROUP_IDS_PER_FILTER):
            ids = ",".join(f"'{group_id}'" for group_id in chunk)
            for group in await _list_all(
                client, f"groups?$filter=id in ({ids})&$select={select}", version="v1.0"
            ):
                found[str(group["id"])] = group
    for group_id in group_ids:
        found_group = found.get(group_id)
        if found_group is None:
            # Deleted (or never existed): the rules report the dangling assignment.
            if forget_missing:
                refresh.forget(tc.GROUPS, group_id)
            continue
        if "DynamicMembership" not in (found_group.get("groupTypes") or ()):
            found_group["members"] = await _list_all(
                client,
                f"groups/{group_id}/members?$select=id&$top={MEMBERS_PAGE_SIZE}",
                version="v1.0",
            )
        refresh.store(tc.GROUPS, found_group)


async def _refresh_devices(
    client: GraphClient, device_ids: Sequence[str], refresh: Refresh
) -> None:
    ids = ",".join(f"'{device_id}'" for device_id in device_ids if is_safe_id(device_id))
    select = ",".join(ENTRA_DEVICE_FIELDS)
    found = {
        str(device["id"]): device
        for device in await _list_all(
            client, f"devices?$filter=id in ({ids})&$select={select}", version="v1.0"
        )
    }
    for device_id in device_ids:
        device = found.get(device_id)
        if device is not None and is_autopilot_device(device):
            refresh.store(tc.DEVICES, device)
        else:
            # The snapshot holds Autopilot device objects only (those with a ZTDId).
            refresh.forget(tc.DEVICES, device_id)


def is_autopilot_device(device: Mapping[str, Any]) -> bool:
    return any(
        isinstance(p, str) and p.lower().startswith(ZTDID_PREFIX)
        for p in device.get("physicalIds") or ()
    )


async def _list_all(
    client: GraphClient, url: str, *, version: str = "beta"
) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = []
    page = await client.get_json("v1.0" if version == "v1.0" else "beta", url)
    seen: set[str] = set()
    while True:
        items = page.get("value")
        if not isinstance(items, list):
            raise GraphError(502, "malformed collection page: no 'value' array")
        values.extend(without_annotations(item) for item in items if isinstance(item, dict))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            return values
        if next_link in seen:
            raise GraphError(502, "Graph returned a nextLink that loops; stopped paging")
        seen.add(next_link)
        page = await client.request_json("GET", next_link)
