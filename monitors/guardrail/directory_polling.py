"""Polling Entra ID: `groups/delta` for the groups that matter, `devices/delta`, directory audits.

- Groups: the groups the mirrored tenant references (assignments, MDM scope), 50 per delta query
  (`$filter=id eq ... or ...`, Graph's limit), `$select` with `members` so membership changes are
  reported. The delta link is stored per set of ids: when the set changes a new link starts.
- Devices: `devices/delta` with `$select`; only changes of Autopilot devices (a ZTDId) or of
  devices the mirror holds become messages, 15 ids per message.
- A new link starts with `$deltatoken=latest` (one request, "from now on": the last full read
  is the baseline). `410 Gone` (token expired, Graph's delta query overview) starts a new link and
  queues a `full` message, since changes may have been missed.
- `auditLogs/directoryAudits` since a cursor gives the actor (recorded as change events and
  attached to the messages of their targets). Without `AuditLog.Read.All` Graph answers 403:
  polling carries on without actors.
- Tenant policies no change channel reports (the MDM user scope, the device registration policy,
  Conditional Access) are read every poll and compared with the mirror
  (`monitors.guardrail.collection_refresh`); a difference becomes one `collections` message,
  attributed to the directory audits that report such changes (`POLICY_ACTIVITIES`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.graph.client import GraphClient, GraphError
from monitors.graph.collections import ENTRA_DEVICE_FIELDS, GROUP_FIELDS, spec_for
from monitors.graph.reader import chunked, is_safe_id, referenced_group_ids
from monitors.guardrail.audit_polling import AuditCursor, _seven_digits_to_six
from monitors.guardrail.change_processing import is_autopilot_device
from monitors.guardrail.collection_refresh import changed_policies
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import (
    DEVICE_IDS_PER_MESSAGE,
    ChangeMessage,
    QueueSender,
    send_changes,
)
from monitors.store.keys import digest, format_time, parse_time
from monitors.store.records import ChangeEvent, ModifiedProperty
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry.polling import record_policy_change, record_reread
from rules import tenant_collections as tc

log = logging.getLogger(__name__)

GROUPS_PER_DELTA: Final = 50
AUDIT_CURSOR: Final = "directory-audit"
SOURCE: Final = "entra-directory-audit"
MAX_PAGES: Final = 50


# Directory audit activities that report a change of a polled tenant policy, by collection
# (Microsoft Entra audit log activity reference; compared case-insensitively, as the reference
# itself spells "Conditional Access" both ways).
POLICY_ACTIVITIES: Final[dict[str, frozenset[str]]] = {
    tc.CONDITIONAL_ACCESS_POLICIES: frozenset(
        {
            "add conditional access policy",
            "update conditional access policy",
            "delete conditional access policy",
        }
    ),
    tc.DEVICE_REGISTRATION_POLICY: frozenset({"set device registration policies"}),
    tc.MDM_POLICIES: frozenset({"update mobility management policy"}),
}
POLICY_REREAD_REASON: Final = "policy_changed"


@dataclass
class DirectoryOutcome:
    messages: int = 0
    resynced: list[str] = field(default_factory=list)  # delta links that had to start again
    audits_read: int = 0
    audits_forbidden: bool = False
    policies_changed: list[str] = field(default_factory=list)
    policies_unreadable: dict[str, int] = field(default_factory=dict)


async def poll_directory_changes(
    client: GraphClient,
    tenant_id: str,
    *,
    store: VerdictStore,
    mirror: TenantMirror,
    sender: QueueSender,
    now: datetime,
    overlap: timedelta,
) -> DirectoryOutcome:
    outcome = DirectoryOutcome()
    policy_events: dict[str, list[str]] = defaultdict(list)
    events_by_target = await _read_directory_audits(
        client, tenant_id, store, now, overlap, outcome, policy_events
    )
    messages: dict[str, ChangeMessage] = {}

    def add(message: ChangeMessage) -> None:
        messages.setdefault(message.id, message)

    with_groups = [p for p, navs in tc.INLINED_NAVIGATIONS.items() if "assignments" in navs]
    referencing = {p: mirror.objects(tenant_id, p) for p in (*with_groups, tc.MDM_POLICIES)}
    wanted_groups = sorted(referenced_group_ids(referencing))
    select = ",".join((*GROUP_FIELDS, "members"))
    changed_groups: set[str] = set()
    resync = False
    for chunk in chunked(wanted_groups, GROUPS_PER_DELTA):
        name = "groups:" + digest(*chunk, length=16)
        id_filter = " or ".join(f"id eq '{group_id}'" for group_id in chunk)
        items, gone = await _delta(
            client, store, tenant_id, name, f"groups/delta?$filter={id_filter}&$select={select}"
        )
        resync |= gone
        if gone:
            outcome.resynced.append(name)
        changed_groups.update(str(item["id"]) for item in items if is_safe_id(str(item.get("id"))))
    # Audited group changes count too: delta may lag behind the audit log.
    changed_groups.update(g for g in events_by_target if g in set(wanted_groups))
    for group_id in sorted(changed_groups):
        add(
            ChangeMessage.create(
                tenant_id, "delta", "group", {"id": group_id}, events_by_target.get(group_id, ())
            )
        )
    device_select = ",".join(ENTRA_DEVICE_FIELDS)
    items, gone = await _delta(
        client, store, tenant_id, "devices", f"devices/delta?$select={device_select}"
    )
    if gone:
        outcome.resynced.append("devices")
    resync |= gone
    known = {str(d.get("id")) for d in mirror.objects(tenant_id, tc.DEVICES)} if items else set()
    device_ids = sorted(
        str(item["id"])
        for item in items
        if is_safe_id(str(item.get("id")))
        and (is_autopilot_device(item) or str(item["id"]) in known)
    )
    for chunk in chunked(device_ids, DEVICE_IDS_PER_MESSAGE):
        events = [e for device_id in chunk for e in events_by_target.get(device_id, ())]
        add(ChangeMessage.create(tenant_id, "delta", "device", {"ids": chunk}, events))
    policies = await _policy_message(client, tenant_id, mirror, policy_events, outcome)
    if policies is not None:
        add(policies)
    if resync:
        add(ChangeMessage.create(tenant_id, "delta", "full", discriminator=format_time(now)))
    send_changes(sender, list(messages.values()))
    outcome.messages = len(messages)
    return outcome


async def _policy_message(
    client: GraphClient,
    tenant_id: str,
    mirror: TenantMirror,
    policy_events: Mapping[str, list[str]],
    outcome: DirectoryOutcome,
) -> ChangeMessage | None:
    """One `collections` message for the polled policies that differ from the mirror.

    Its id digests the new content, so two polls that see the same change queue it once.
    A policy that cannot be read now is left to the next poll and the reconcile (logged).
    """
    try:
        check = await changed_policies(client, tenant_id, mirror)
    except GraphError as error:
        log.warning("could not poll the tenant policies: %s", error.status)
        return None
    outcome.policies_unreadable = dict(check.unreadable)
    for path, status in check.unreadable.items():
        if not (spec_for(path).delegated_only and status in (401, 403)):
            log.warning("could not poll %s: %s", path, status, extra={"tenant_id": tenant_id})
    if not check.changed:
        return None
    outcome.policies_changed = list(check.changed)
    for path in check.changed:
        record_policy_change(tenant_id, path)
        record_reread(tenant_id, path, POLICY_REREAD_REASON)
    events = [e for path in check.changed for e in policy_events.get(path, ())]
    return ChangeMessage.create(
        tenant_id,
        "delta",
        "collections",
        {"collections": sorted(check.changed)},
        events,
        discriminator=check.digest,
    )


async def _delta(
    client: GraphClient, store: VerdictStore, tenant_id: str, name: str, first_url: str
) -> tuple[list[dict[str, Any]], bool]:
    """Changes since the stored link (or none, starting a new link); True if the link was gone."""
    stored = store.get_delta_link(tenant_id, name)
    if stored is None:
        link = await _latest_link(client, first_url)
        store.set_delta_link(tenant_id, name, link)
        return [], False
    try:
        items, link = await _follow(client, stored[0])
    except GraphError as error:
        if error.status not in (400, 404, 410) or (
            error.status != 410 and "sync" not in error.code.lower()
        ):
            raise
        link = await _latest_link(client, first_url)
        store.set_delta_link(tenant_id, name, link)
        return [], True
    store.set_delta_link(tenant_id, name, link)
    return items, False


async def _latest_link(client: GraphClient, first_url: str) -> str:
    _, link = await _follow(client, client.url("v1.0", f"{first_url}&$deltatoken=latest"))
    return link


async def _follow(client: GraphClient, url: str) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = await client.request_json("GET", url)
        items.extend(v for v in page.get("value") or () if isinstance(v, dict))
        delta_link = page.get("@odata.deltaLink")
        if isinstance(delta_link, str) and delta_link:
            client.relative_to_version(delta_link, "v1.0")  # refuses links to another host
            return items, delta_link
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            raise GraphError(502, "delta page with neither nextLink nor deltaLink")
        client.relative_to_version(next_link, "v1.0")
        url = next_link
    raise GraphError(502, f"delta round longer than {MAX_PAGES} pages")


async def _read_directory_audits(
    client: GraphClient,
    tenant_id: str,
    store: VerdictStore,
    now: datetime,
    overlap: timedelta,
    outcome: DirectoryOutcome,
    policy_events: dict[str, list[str]],
) -> dict[str, list[str]]:
    cursor = AuditCursor.load(store, tenant_id, AUDIT_CURSOR, now, overlap)
    url = (
        "auditLogs/directoryAudits?$filter=activityDateTime ge "
        f"{format_time(cursor.since - overlap)}&$orderby=activityDateTime asc&$top=999"
    )
    try:
        audits = await _list(client, url)
    except GraphError as error:
        if error.status in (401, 403):
            outcome.audits_forbidden = True
            log.warning(
                "directory audits not readable (%s): carrying on without actors",
                error.status,
                extra={"tenant_id": tenant_id},
            )
            return {}
        raise
    outcome.audits_read = len(audits)
    by_target: dict[str, list[str]] = defaultdict(list)
    events = []
    for audit in audits:
        event = directory_change_event(audit) if cursor.is_new(audit) else None
        if event is None:
            continue
        events.append(event)
        activity = str(audit.get("activityDisplayName") or "").casefold()
        for path, activities in POLICY_ACTIVITIES.items():
            if activity in activities and str(audit.get("result") or "success") == "success":
                policy_events[path].append(event.event_id)
        for target in audit.get("targetResources") or ():
            target_id = str((target or {}).get("id") or "")
            if is_safe_id(target_id):
                by_target[target_id].append(event.event_id)
    store.record_change_events(tenant_id, events)
    cursor.save(store, tenant_id, audits, overlap)
    return by_target


async def _list(client: GraphClient, url: str) -> list[dict[str, Any]]:
    page = await client.get_json("v1.0", url)
    values: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        values.extend(v for v in page.get("value") or () if isinstance(v, dict))
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not next_link:
            break
        page = await client.request_json("GET", next_link)
    return values


def directory_change_event(audit: Mapping[str, Any]) -> ChangeEvent | None:
    try:
        at = parse_time(_seven_digits_to_six(str(audit.get("activityDateTime"))))
    except ValueError:
        return None
    initiated = audit.get("initiatedBy") or {}
    user = initiated.get("user") or {}
    app = initiated.get("app") or {}
    targets: Iterable[Mapping[str, Any]] = audit.get("targetResources") or [{}]
    first = next(iter(targets), {}) or {}
    return ChangeEvent(
        event_id=str(audit.get("id")),
        at=at,
        actor_type="user" if user else "app",
        actor_id=str(user.get("id") or app.get("appId") or app.get("servicePrincipalId") or ""),
        actor_name=str(user.get("userPrincipalName") or app.get("displayName") or ""),
        activity=str(audit.get("activityDisplayName") or ""),
        resource_type=str(first.get("type") or ""),
        resource_id=str(first.get("id") or ""),
        source=SOURCE,
        correlation_id=str(audit.get("correlationId") or ""),
        modified_properties=tuple(
            ModifiedProperty(str(p.get("displayName") or ""), p.get("oldValue"), p.get("newValue"))
            for p in first.get("modifiedProperties") or ()
            if isinstance(p, dict)
        ),
    )
