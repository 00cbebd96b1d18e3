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

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import quote

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
from monitors.queues import (
    ALERTS_QUEUE,
    AlertMessage,
    ChangeMessage,
    QueueSender,
    alert_batches,
)
from monitors.store.keys import digest, format_time, parse_time
from monitors.store.records import RunInfo, Transition
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import graph as graph_telemetry
from monitors.telemetry.evaluation import evaluate_observed, record_readiness, record_transitions
from monitors.tenant_mirror import TenantMirror
from rules import tenant_collections as tc
from rules.context import OperatorSettings
from rules.engine import Rule
from rules.snapshot_model import TenantSnapshot

log = logging.getLogger(__name__)

ZTDID_PREFIX: Final = "[ztdid]"
REDELIVERY_WINDOW: Final = timedelta(days=1)
MAX_HISTORY_PAGES: Final = 5
ALERTS_QUEUED_CURSOR: Final = "alerts-queued"
MAX_QUEUED_RUNS: Final = 500  # run digests the cursor keeps (it must stay under 32 K characters)
CURSOR_ATTEMPTS: Final = 5


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
) -> ChangeOutcome:
    from rules.catalog import all_rules

    tenant = message.tenant_id
    started = clock()
    began = time.monotonic()
    async with connect(tenant) as client:
        if message.kind == "reauthorize":
            from monitors.subscriptions import handle_lifecycle_event

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
            refresh = await refresh_for(message, client, mirror)
            for collection, objects in refresh.put.items():
                mirror.put_objects(tenant, collection, objects)
            for collection, ids in refresh.removed.items():
                mirror.remove_objects(tenant, collection, ids)
            touched = refresh.touched
            # Written first, timed second, loaded third: see the module docstring.
            loaded = mirror.load(tenant, captured_at=clock())
            assert loaded is not None  # the meta row was there a moment ago and is never deleted
            document = loaded
        graph_requests = client.stats.graph_requests()
    selected = tuple(
        rule
        for rule in (rules if rules is not None else all_rules())
        if set(rule.metadata.graph_reads) & touched
    )
    if not selected:
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
    evaluation = evaluate_observed(
        TenantSnapshot.from_document(document),
        trigger=trigger,
        rules=selected,
        settings=operator_settings,  # attestations (MDM scope) where Graph cannot be read
    )
    run = RunInfo(
        # One run id per message: a redelivery can find what an earlier attempt recorded.
        run_id=f"change-{message.id}",
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
    for batch in alert_batches(tenant, run.run_id, run_alerts):
        sender.send(ALERTS_QUEUE, batch.to_text())
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


def recorded_by_run(
    store: VerdictStore, tenant_id: str, run_id: str, *, since: datetime
) -> tuple[Transition, ...]:
    found: list[Transition] = []
    continuation = None
    for _ in range(MAX_HISTORY_PAGES):
        page = store.history(tenant_id, since=since, continuation=continuation, page_size=1000)
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
        from monitors.collection_refresh import refresh_collections

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
