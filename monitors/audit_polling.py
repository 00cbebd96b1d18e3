"""Polling Intune's audit log: who changed which Intune object, turned into change messages.

Intune resources cannot be subscribed to (GRAPH-NOTES §1), so `deviceManagement/auditEvents` is
read every few minutes from the stored cursor minus an overlap window (the API's latency is not
documented; GRAPH-NOTES §3), de-duplicated by event id against the ids the cursor remembers.
Every new event is recorded as a change event (the actor behind a transition), and each touched
object becomes one `changes` message carrying its event ids. The cursor moves only after the
messages are queued, with an ETag compare-and-set so that overlapping timer runs cannot move it
backwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from monitors.graph.client import GraphClient
from monitors.graph.reader import is_safe_id
from monitors.queues import ChangeMessage, QueueSender, send_changes
from monitors.store.keys import format_time, parse_time
from monitors.store.records import ChangeEvent, ModifiedProperty
from monitors.store.verdict_store import VerdictStore
from rules import tenant_collections as tc

log = logging.getLogger(__name__)

CURSOR_NAME: Final = "intune-audit"
SOURCE: Final = "intune-audit"
PAGE_SIZE: Final = 1000
MAX_REMEMBERED: Final = 600  # id digests kept in the cursor (it must stay under 32 K characters)
MAX_PAGES: Final = 50  # a poll reads at most 50,000 events; the rest waits for the next run

# Intune audit resource types -> snapshot collection. Real logs name the entity; assignment
# records sometimes name "<Entity>Assignment", which is the same object for our purposes.
RESOURCE_TYPES: Final[dict[str, str]] = {
    "windowsautopilotdeploymentprofile": tc.AUTOPILOT_PROFILES,
    "azureadwindowsautopilotdeploymentprofile": tc.AUTOPILOT_PROFILES,
    "activedirectorywindowsautopilotdeploymentprofile": tc.AUTOPILOT_PROFILES,
    "windowsautopilotdeviceidentity": tc.AUTOPILOT_DEVICES,
    "deviceenrollmentconfiguration": tc.ENROLLMENT_CONFIGURATIONS,
    "windows10enrollmentcompletionpageconfiguration": tc.ENROLLMENT_CONFIGURATIONS,
    "deviceconfiguration": tc.DEVICE_CONFIGURATIONS,
    "devicemanagementconfigurationpolicy": tc.SETTINGS_CATALOG_POLICIES,
    "devicemanagementscript": tc.PLATFORM_SCRIPTS,
    "devicecompliancepolicy": tc.COMPLIANCE_POLICIES,
    "deviceandappmanagementassignmentfilter": tc.ASSIGNMENT_FILTERS,
    "devicemanagementdomainjoinconnector": tc.DOMAIN_JOIN_CONNECTORS,
    "mobileapp": tc.MOBILE_APPS,
    "win32lobapp": tc.MOBILE_APPS,
    "windowsmobilemsi": tc.MOBILE_APPS,
}


@dataclass(frozen=True, slots=True)
class PollOutcome:
    events_read: int
    new_events: int
    messages: int
    unmapped: int
    cursor: str


def collection_for(resource_type: str) -> str | None:
    key = resource_type.strip().lower()
    if key.endswith("assignment"):
        key = key[: -len("assignment")]
    return RESOURCE_TYPES.get(key)


async def poll_intune_audit(
    client: GraphClient,
    tenant_id: str,
    *,
    store: VerdictStore,
    sender: QueueSender,
    now: datetime,
    overlap: timedelta,
) -> PollOutcome:
    cursor = AuditCursor.load(store, tenant_id, CURSOR_NAME, now, overlap)
    events = await _read_events(client, cursor.since - overlap)
    fresh = [e for e in events if cursor.is_new(e)]
    change_events = [change_event(e) for e in fresh]
    store.record_change_events(tenant_id, [c for c in change_events if c is not None])
    messages, unmapped = messages_for(tenant_id, fresh)
    send_changes(sender, messages)
    newest = cursor.save(store, tenant_id, events, overlap)
    return PollOutcome(len(events), len(fresh), len(messages), unmapped, format_time(newest))


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
    page = await client.get_json("v1.0", url)
    events: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        events.extend(e for e in page.get("value") or () if isinstance(e, dict) and e.get("id"))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            break
        page = await client.request_json("GET", next_link)
    return events


def messages_for(
    tenant_id: str, events: Iterable[Mapping[str, Any]]
) -> tuple[list[ChangeMessage], int]:
    """One `intune` message per touched object, carrying every event id about it."""
    by_object: dict[tuple[str, str], list[str]] = defaultdict(list)
    unmapped = 0
    for event in events:
        if str(event.get("activityResult", "Success")).lower() not in ("success", ""):
            continue  # a failed attempt changed nothing
        for resource in event.get("resources") or ():
            collection = collection_for(
                str(resource.get("auditResourceType") or resource.get("type") or "")
            )
            object_id = str(resource.get("resourceId") or "")
            if collection is None or not is_safe_id(object_id):
                unmapped += 1
                continue
            by_object[(collection, object_id)].append(str(event["id"]))
    messages = [
        ChangeMessage.create(
            tenant_id, "audit", "intune", {"collection": collection, "id": object_id}, ids[-50:]
        )
        for (collection, object_id), ids in sorted(by_object.items())
    ]
    return messages, unmapped


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
