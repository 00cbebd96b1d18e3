"""Graph change-notification subscriptions for the Autopilot groups of a tenant.

Only Entra groups can be subscribed to (Graph's change-notification overview); Intune is
polled. Per tenant:

- wanted: `groups/{id}` for every group an Autopilot profile targets or excludes, and
  `groups/{id}/members` too when the group is assigned (dynamic membership follows the rule,
  which `groups/{id}` already reports). Above `MAX_PER_GROUP_SUBSCRIPTIONS` one `groups`
  subscription replaces them (Graph allows 100 per app and tenant).
- one `GET /subscriptions` lists what exists (this app's, in this tenant); ours are those
  whose `notificationUrl` is this deployment's. Missing ones are created (the handshake goes to
  our webhook), ones expiring within the renewal window are renewed (`404` on renewal: lost,
  created again), ones no longer wanted are deleted.

clientState goes to Graph only: it is never logged nor stored (`VerdictStore.set_subscription`
drops it as well).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from monitors.graph.client import GraphClient, GraphError
from monitors.graph.reader import is_safe_id
from monitors.guardrail.mirror import TenantMirror
from monitors.store.keys import parse_time
from monitors.store.verdict_store import VerdictStore
from rules import tenant_collections as tc

log = logging.getLogger(__name__)

MAX_LIFETIME: Final = timedelta(
    minutes=41_760
)  # directory resources (Graph's subscription resource)
LIFETIME: Final = MAX_LIFETIME - timedelta(hours=1)  # margin for clock skew
MAX_PER_GROUP_SUBSCRIPTIONS: Final = 50


@dataclass
class SubscriptionOutcome:
    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # resource -> reason (no secrets)


def wanted_resources(
    snapshot_groups: list[dict[str, Any]], profiles: list[dict[str, Any]]
) -> list[str]:
    group_ids: set[str] = set()
    for profile in profiles:
        for assignment in profile.get("assignments") or ():
            group_id = (assignment.get("target") or {}).get("groupId")
            if isinstance(group_id, str) and is_safe_id(group_id):
                group_ids.add(group_id.lower())
    dynamic = {
        str(g.get("id", "")).lower()
        for g in snapshot_groups
        if "DynamicMembership" in (g.get("groupTypes") or ())
    }
    resources: list[str] = []
    for group_id in sorted(group_ids):
        resources.append(f"groups/{group_id}")
        if group_id not in dynamic:
            resources.append(f"groups/{group_id}/members")
    if len(resources) > MAX_PER_GROUP_SUBSCRIPTIONS:
        return ["groups"]
    return resources


async def maintain_subscriptions(
    client: GraphClient,
    tenant_id: str,
    *,
    mirror: TenantMirror,
    store: VerdictStore,
    notification_url: str,
    client_state: str,
    now: datetime,
    renew_before: timedelta,
) -> SubscriptionOutcome:
    outcome = SubscriptionOutcome()
    wanted = wanted_resources(
        mirror.objects(tenant_id, tc.GROUPS), mirror.objects(tenant_id, tc.AUTOPILOT_PROFILES)
    )
    listing = await client.get_json("v1.0", "subscriptions")
    ours: dict[str, dict[str, Any]] = {}
    for subscription in listing.get("value") or ():
        if (
            isinstance(subscription, dict)
            and subscription.get("notificationUrl") == notification_url
        ):
            ours.setdefault(str(subscription.get("resource", "")).lower(), subscription)
    expiry = _format(now + LIFETIME)
    for resource in wanted:
        existing = ours.get(resource)
        try:
            if existing is None:
                created = await _create(client, resource, notification_url, client_state, expiry)
                store.set_subscription(tenant_id, str(created["id"]), created)
                outcome.created.append(resource)
                continue
            expires = parse_time(str(existing.get("expirationDateTime")))
            if expires - now > renew_before:
                outcome.kept.append(resource)
                continue
            subscription_id = str(existing["id"])
            try:
                renewed = await client.request_json(
                    "PATCH",
                    client.url("v1.0", f"subscriptions/{subscription_id}"),
                    body={"expirationDateTime": expiry},
                )
                store.set_subscription(tenant_id, subscription_id, renewed)
                outcome.renewed.append(resource)
            except GraphError as error:
                if error.status != 404:
                    raise
                created = await _create(client, resource, notification_url, client_state, expiry)
                store.set_subscription(tenant_id, str(created["id"]), created)
                outcome.created.append(resource)
        except GraphError as error:
            # One resource failing (quota, handshake) never stops the others.
            outcome.failed[resource] = f"{error.status} {error.message}"[:300]
            log.warning(
                "subscription for %s failed: %s",
                resource,
                outcome.failed[resource],
                extra={"tenant_id": tenant_id},
            )
    for resource, subscription in ours.items():
        if resource in wanted:
            continue
        subscription_id = str(subscription.get("id"))
        try:
            await client.request_json(
                "DELETE", client.url("v1.0", f"subscriptions/{subscription_id}")
            )
        except GraphError as error:
            if error.status != 404:
                outcome.failed[resource] = f"{error.status} {error.message}"[:300]
                continue
        store.set_subscription(
            tenant_id,
            subscription_id,
            {"id": subscription_id, "resource": resource, "state": "deleted"},
        )
        outcome.deleted.append(resource)
    return outcome


async def _create(
    client: GraphClient, resource: str, notification_url: str, client_state: str, expiry: str
) -> dict[str, Any]:
    body = {
        "changeType": "updated,deleted",
        "notificationUrl": notification_url,
        "lifecycleNotificationUrl": notification_url,
        "resource": resource,
        "expirationDateTime": expiry,
        "clientState": client_state,
    }
    created = await client.request_json("POST", client.url("v1.0", "subscriptions"), body=body)
    return {key: value for key, value in created.items() if key != "clientState"}


async def handle_lifecycle_event(
    client: GraphClient, tenant_id: str, resource: Mapping[str, Any]
) -> str:
    """`reauthorizationRequired`: reauthorize now. A removed or lost subscription is created
    again by the next `maintain_subscriptions` run (the delta poll covers the gap)."""
    subscription_id = str(resource["subscriptionId"])
    if resource.get("lifecycleEvent") != "reauthorizationRequired":
        return "left-to-maintenance"
    try:
        await client.request_json(
            "POST", client.url("v1.0", f"subscriptions/{subscription_id}/reauthorize")
        )
    except GraphError as error:
        if error.status == 404:
            return "lost"
        raise
    log.info("subscription %s reauthorized", subscription_id, extra={"tenant_id": tenant_id})
    return "reauthorized"


def _format(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
