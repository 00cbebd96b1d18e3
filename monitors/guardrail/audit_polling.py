"""Polling Intune's audit log: who changed which Intune object, turned into change messages.

Intune resources cannot be subscribed to (Graph's change-notification overview lists no
Intune resource), so `deviceManagement/auditEvents` is
read every few minutes from the stored cursor minus an overlap window (the API's latency is not
documented; docs/guardrail.md), de-duplicated by event id against the ids the cursor remembers.
Every new event is recorded as a change event (the actor behind a transition), and each touched
object becomes one `changes` message carrying its event ids. Records name the object's derived
type, placed through Graph's type hierarchy (`monitors.graph.type_hierarchy`), then by id in the
mirror; what neither places is counted and re-read by collection (`place_resources`). The
cursor moves only after the messages are queued, with an ETag compare-and-set so that
overlapping timer runs cannot move it backwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from monitors.graph import type_hierarchy
from monitors.graph.client import GraphClient
from monitors.graph.reader import is_safe_id
from monitors.graph.type_hierarchy import INTUNE_COLLECTIONS
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import ChangeMessage, QueueSender, send_changes
from monitors.store.keys import format_time, parse_time
from monitors.store.records import ChangeEvent, ModifiedProperty
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry.polling import record_reread, record_unmapped, resource_type_label
from rules import tenant_collections as tc

log = logging.getLogger(__name__)

CURSOR_NAME: Final = "intune-audit"
SOURCE: Final = "intune-audit"
PAGE_SIZE: Final = 1000
MAX_REMEMBERED: Final = 600  # id digests kept in the cursor (it must stay under 32 K characters)
MAX_PAGES: Final = 50  # a poll reads at most 50,000 events; the rest waits for the next run

# The version audit events are read from: Intune's own answer was that `auditEvent` is served on
# beta (v1.0 answered 400, microsoft-graph-docs#17882); Microsoft's current Intune guidance still
# reads audit logs on beta, and every other Intune read here is beta (docs/guardrail.md).
AUDIT_VERSION: Final = "beta"
# Operations that change nothing (public tooling filters `activityOperationType ne 'Get'`).
READ_OPERATIONS: Final = frozenset({"get"})
MAX_MIRROR_LOOKUPS: Final = 50  # resources per poll looked up by id in the mirror; then re-read
# What an audit record's `componentName` / `category` suggests it may touch (values as Intune
# writes them; IntuneCD filters by the same names), for records no type or id could place.
COMPONENT_COLLECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "deviceconfiguration": (
        tc.DEVICE_CONFIGURATIONS,
        tc.SETTINGS_CATALOG_POLICIES,
        tc.PLATFORM_SCRIPTS,
    ),
    "enrollment": (tc.AUTOPILOT_PROFILES, tc.ENROLLMENT_CONFIGURATIONS, tc.DOMAIN_JOIN_CONNECTORS),
    "devicecompliancepolicy": (tc.COMPLIANCE_POLICIES,),
    "compliance": (tc.COMPLIANCE_POLICIES,),
    "mobileapp": (tc.MOBILE_APPS,),
    "application": (tc.MOBILE_APPS,),
    "assignmentfilter": (tc.ASSIGNMENT_FILTERS,),
}
# Everything an unplaceable record could have touched, when its component suggests nothing:
# every Intune collection but the Autopilot device list (20,000 rows; its own reads cover it).
ALL_REREADABLE: Final[tuple[str, ...]] = tuple(
    c for c in INTUNE_COLLECTIONS if c != tc.AUTOPILOT_DEVICES
)
REREAD_REASON: Final = "unmapped_audit"


@dataclass(frozen=True, slots=True)
class PollOutcome:
    events_read: int
    new_events: int
    messages: int
    unmapped: int
    cursor: str
    reread: tuple[str, ...] = ()  # collections queued to be re-read whole


def collection_for(resource_type: str) -> str | None:
    """The snapshot collection holding objects of this Graph type (derived types included)."""
    match = type_hierarchy.load().lookup(resource_type)
    return match.collection if match.kind == "object" else None


async def poll_intune_audit(
    client: GraphClient,
    tenant_id: str,
    *,
    store: VerdictStore,
    sender: QueueSender,
    now: datetime,
    overlap: timedelta,
    mirror: TenantMirror | None = None,
) -> PollOutcome:
    cursor = AuditCursor.load(store, tenant_id, CURSOR_NAME, now, overlap)
    events = await _read_events(client, cursor.since - overlap)
    fresh = [e for e in events if cursor.is_new(e)]
    change_events = [change_event(e) for e in fresh]
    store.record_change_events(tenant_id, [c for c in change_events if c is not None])
    placed = place_resources(tenant_id, fresh, mirror)
    messages = placed.messages(tenant_id)
    send_changes(sender, messages)
    for type_name in placed.unmapped_types:
        record_unmapped(tenant_id, type_name)
    for collection in sorted(placed.reread):
        record_reread(tenant_id, collection, REREAD_REASON)
    if placed.unmapped_types:
        log.warning(
            "%d audit resources could not be placed (%s): re-reading %s",
            len(placed.unmapped_types),
            ", ".join(sorted({resource_type_label(t) for t in placed.unmapped_types})),
            ", ".join(sorted(placed.reread)),
            extra={"tenant_id": tenant_id},
        )
    newest = cursor.save(store, tenant_id, events, overlap)
    return PollOutcome(
        len(events),
        len(fresh),
        len(messages),
        len(placed.unmapped_types),
        format_time(newest),
        tuple(sorted(placed.reread)),
    )


@dataclass
class AuditCursor:
    """How far an audit log was read, and the ids the next overlap window will show again.

    Stored as one cursor value: `{"since": time, "seen": {sha256(id)[:16]: time}}`, kept under
    Table Storage's 32 K-character property limit by `MAX_REMEMBERED`.
    """

    name: str
    since: datetime
    remembered: dict[str, str]
    etag: str | None

    @classmethod
    def load(
        cls, store: VerdictStore, tenant_id: str, name: str, now: datetime, overlap: timedelta
    ) -> AuditCursor:
        stored = store.get_cursor(tenant_id, name)
        if stored is None:
            return cls(name, now - overlap, {}, None)
        since, remembered = _parse_cursor(stored[0])
        return cls(name, since, remembered, stored[1])

    def is_new(self, event: Mapping[str, Any]) -> bool:
        return _digest(str(event.get("id"))) not in self.remembered

    def save(
        self,
        store: VerdictStore,
        tenant_id: str,
        events: list[dict[str, Any]],
        overlap: timedelta,
    ) -> datetime:
        """Move the cursor (compare-and-set: an overlapping run that moved it first wins)."""
        newest = max((_event_time(e) for e in events), default=self.since)
        text = _cursor_text(max(newest, self.since), self.remembered, events, newest - overlap)
        try:
            store.set_cursor(tenant_id, self.name, text, etag=self.etag)
        except (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError):
            log.info("another poll moved the %s cursor first", self.name)
        return newest


async def _read_events(client: GraphClient, read_from: datetime) -> list[dict[str, Any]]:
    url = (
        "deviceManagement/auditEvents?$filter=activityDateTime ge "
        f"{format_time(read_from)}&$orderby=activityDateTime asc&$top={PAGE_SIZE}"
    )
    page = await client.get_json(AUDIT_VERSION, url)
    events: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        events.extend(e for e in page.get("value") or () if isinstance(e, dict) and e.get("id"))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            break
        page = await client.request_json("GET", next_link)
    return events


@dataclass
class Placement:
    """Where one poll's audit resources landed: objects to refresh, collections to re-read."""

    objects: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    reread: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    unmapped_types: list[str] = field(default_factory=list)

    def messages(self, tenant_id: str) -> list[ChangeMessage]:
        """One `intune` message per touched object, one `collections` message for the rest."""
        messages = [
            ChangeMessage.create(
                tenant_id, "audit", "intune", {"collection": collection, "id": object_id}, ids
            )
            for (collection, object_id), ids in sorted(self.objects.items())
        ]
        if self.reread:
            ids = sorted({i for event_ids in self.reread.values() for i in event_ids})
            messages.append(
                ChangeMessage.create(
                    tenant_id, "audit", "collections", {"collections": sorted(self.reread)}, ids
                )
            )
        return messages


def place_resources(
    tenant_id: str, events: Iterable[Mapping[str, Any]], mirror: TenantMirror | None = None
) -> Placement:
    """Place every resource of the successful, changing events (nothing is dropped silently).

    1. By type: `auditResourceType` through Graph's type hierarchy (derived types included). An
       object of ours is refreshed by id; a navigation (an assignment, a setting) refreshes its
       parent, found in the mirror by the longest `_`-separated prefix of its id, else the
       parent's collection is re-read; a known type that none of ours is changes nothing.
    2. An unknown type: by id, in the mirror's Intune collections.
    3. Still unplaced: counted, and the collections its component suggests (if none: every
       Intune collection but the Autopilot device list) are re-read.
    """
    placement = Placement()
    hierarchy = type_hierarchy.load()
    lookups = 0
    for event in events:
        if str(event.get("activityResult", "Success")).lower() not in ("success", ""):
            continue  # a failed attempt changed nothing
        if str(event.get("activityOperationType") or "").lower() in READ_OPERATIONS:
            continue
        event_id = str(event["id"])
        for resource in event.get("resources") or ():
            if not isinstance(resource, Mapping):
                continue
            type_name = str(resource.get("auditResourceType") or resource.get("type") or "")
            object_id = str(resource.get("resourceId") or "")
            match = hierarchy.lookup(type_name)
            if match.kind == "other":
                continue
            collection = match.collection
            if match.kind == "object" and collection is not None and is_safe_id(object_id):
                placement.objects[(collection, object_id)].append(event_id)
                continue
            if match.kind == "navigation" and collection is not None:
                parent = None
                if mirror is not None and lookups < MAX_MIRROR_LOOKUPS:
                    lookups += 1
                    parent = _parent_in_mirror(mirror, tenant_id, collection, object_id)
                if parent is not None:
                    placement.objects[(collection, parent)].append(event_id)
                else:
                    placement.reread[collection].append(event_id)
                continue
            if match.kind == "object" and collection is not None:
                # Our type, but an id no request may carry: read the whole collection instead.
                placement.unmapped_types.append(type_name)
                placement.reread[collection].append(event_id)
                continue
            found = None
            if mirror is not None and is_safe_id(object_id) and lookups < MAX_MIRROR_LOOKUPS:
                lookups += 1
                found = _collection_in_mirror(mirror, tenant_id, object_id)
            if found is not None:
                placement.objects[(found, object_id)].append(event_id)
                continue
            placement.unmapped_types.append(type_name)
            for suggested in suggested_collections(event):
                placement.reread[suggested].append(event_id)
    for key in list(placement.objects):
        placement.objects[key] = placement.objects[key][-50:]
    return placement


def messages_for(
    tenant_id: str,
    events: Iterable[Mapping[str, Any]],
    mirror: TenantMirror | None = None,
) -> tuple[list[ChangeMessage], int]:
    """The `changes` messages for these events, and how many resources nothing could place."""
    placement = place_resources(tenant_id, events, mirror)
    return placement.messages(tenant_id), len(placement.unmapped_types)


def suggested_collections(event: Mapping[str, Any]) -> tuple[str, ...]:
    """The collections an audit record's component or category points at (all if none)."""
    suggested: list[str] = []
    for key in ("componentName", "category"):
        for collection in COMPONENT_COLLECTIONS.get(str(event.get(key) or "").lower(), ()):
            if collection not in suggested:
                suggested.append(collection)
    return tuple(suggested) or ALL_REREADABLE


def _collection_in_mirror(mirror: TenantMirror, tenant_id: str, object_id: str) -> str | None:
    """The Intune collection the mirror holds this id in (point reads, one per collection)."""
    for collection in INTUNE_COLLECTIONS:
        if mirror.get_object(tenant_id, collection, object_id) is not None:
            return collection
    return None


def _parent_in_mirror(
    mirror: TenantMirror, tenant_id: str, collection: str, object_id: str
) -> str | None:
    """The mirrored object a navigation item belongs to: its id is the parent's id, or starts
    with it and `_` (assignment ids are `<parent id>_<group id>`; enrollment configuration ids
    carry `_` themselves, so every prefix is tried, longest first)."""
    parts = object_id.split("_")
    for end in range(len(parts), 0, -1):
        candidate = "_".join(parts[:end])
        if is_safe_id(candidate) and mirror.get_object(tenant_id, collection, candidate):
            return candidate
    return None


def change_event(event: Mapping[str, Any]) -> ChangeEvent | None:
    try:
        at = _event_time(event)
    except ValueError:
        return None
    actor = event.get("actor") or {}
    upn = actor.get("userPrincipalName")
    resources = event.get("resources") or [{}]
    first = resources[0] if isinstance(resources[0], dict) else {}
    return ChangeEvent(
        event_id=str(event["id"]),
        at=at,
        actor_type="user" if upn else "app",
        actor_id=str(actor.get("userId") or actor.get("applicationId") or ""),
        actor_name=str(
            upn or actor.get("applicationDisplayName") or actor.get("servicePrincipalName") or ""
        ),
        activity=str(event.get("activity") or event.get("displayName") or ""),
        resource_type=str(first.get("auditResourceType") or first.get("type") or ""),
        resource_id=str(first.get("resourceId") or ""),
        source=SOURCE,
        correlation_id=str(event.get("correlationId") or ""),
        modified_properties=tuple(
            ModifiedProperty(
                str(p.get("displayName") or ""),
                None if p.get("oldValue") is None else str(p.get("oldValue")),
                None if p.get("newValue") is None else str(p.get("newValue")),
            )
            for p in first.get("modifiedProperties") or ()
            if isinstance(p, dict)
        ),
    )


def _event_time(event: Mapping[str, Any]) -> datetime:
    return parse_time(_seven_digits_to_six(str(event.get("activityDateTime"))))


def _seven_digits_to_six(text: str) -> str:
    """Graph writes 7 fractional digits; Python 3.11 reads at most 6."""
    if "." not in text:
        return text
    head, tail = text.split(".", 1)
    digits = "".join(c for c in tail if c.isdigit())
    zone = tail[len(digits) :]
    return f"{head}.{digits[:6]}{zone}"


def _digest(event_id: str) -> str:
    return hashlib.sha256(event_id.encode()).hexdigest()[:16]


def _parse_cursor(text: str) -> tuple[datetime, dict[str, str]]:
    document = json.loads(text)
    return parse_time(document["since"]), dict(document.get("seen", {}))


def _cursor_text(
    since: datetime,
    remembered: Mapping[str, str],
    events: Iterable[Mapping[str, Any]],
    keep_after: datetime,
) -> str:
    """The newest time seen, and the digests of events the next overlap window will re-read."""
    seen = dict(remembered)
    for event in events:
        seen[_digest(str(event.get("id")))] = format_time(_event_time(event))
    kept = {d: at for d, at in seen.items() if parse_time(at) >= keep_after}
    newest = dict(sorted(kept.items(), key=lambda item: item[1])[-MAX_REMEMBERED:])
    return json.dumps({"since": format_time(since), "seen": newest}, separators=(",", ":"))
