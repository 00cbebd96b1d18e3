"""The Graph change-notification webhook: validation handshake, clientState check, enqueue.

The webhook only acknowledges (docs/architecture.md, invariant 3): no Graph call, no rule work.
Graph waits 3 s for an answer and marks an endpoint slow above 2.9 s, so the handshake does no I/O
at all and a notification costs one queue write per accepted item. 5xx only when an enqueue failed,
so Graph retries instead of losing the change.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from monitors.graph.reader import is_safe_id
from monitors.guardrail.queues import LIFECYCLE_EVENTS, ChangeMessage, QueueSender, send_changes

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 1_048_576  # Graph batches notifications; 1 MiB is far above a batch
MAX_VALIDATION_TOKEN: Final = 1_024
MAX_ITEMS: Final = 1_000
TEXT: Final = "text/plain"


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: str = ""
    content_type: str = TEXT


@dataclass(slots=True)
class NotificationCounts:
    accepted: int = 0  # items that became (or joined) a queued message
    wrong_client_state: int = 0
    unknown_tenant: int = 0
    unusable: int = 0  # well-formed JSON but not a group notification we can act on
    messages: list[ChangeMessage] = field(default_factory=list)


def answer_validation(token: str) -> WebhookReply:
    """Echo the (already URL-decoded) token as text/plain; never interpreted, never logged."""
    if not token or len(token) > MAX_VALIDATION_TOKEN:
        return WebhookReply(400, "validation token missing or too long")
    try:
        token.encode()
    except UnicodeEncodeError:  # a lone surrogate cannot be echoed as UTF-8 text
        return WebhookReply(400, "validation token is not text")
    return WebhookReply(200, token)


def answer_notification(
    params: Mapping[str, str],
    body: bytes,
    *,
    client_state: str | None,
    tenant_ids: Collection[str],
    sender: QueueSender | None,
) -> tuple[WebhookReply, NotificationCounts]:
    counts = NotificationCounts()
    token = params.get("validationToken")
    if token is not None:
        # The Functions host hands query parameters over URL-decoded: do not decode again.
        return answer_validation(token), counts
    if len(body) > MAX_BODY_BYTES:
        return WebhookReply(413, "body too large"), counts
    items = _items(body)
    if items is None:
        return WebhookReply(400, "expected a JSON object with a 'value' list"), counts
    if not client_state or sender is None:
        # Misconfigured: nothing can be verified. 503 makes Graph retry for hours while the
        # settings get fixed, instead of losing the changes.
        log.error("notification refused: clientState or queue settings are missing")
        return WebhookReply(503, "not configured"), counts
    expected = client_state.encode()
    # Items without an id of their own: one discriminator per POST, so each real change is its
    # own message (and run), while repeats within one POST stay one message.
    delivery = uuid.uuid4().hex
    by_id: dict[str, ChangeMessage] = {}
    for item in items:
        if not _client_state_matches(item, expected):
            counts.wrong_client_state += 1
            continue
        tenant = str(item.get("tenantId") or "").lower()
        if tenant not in tenant_ids:
            counts.unknown_tenant += 1
            continue
        try:
            message = message_for(item, tenant, delivery=delivery)
        except ValueError:  # e.g. an id that is not UTF-8 text: as unusable as a missing one
            message = None
        if message is None:
            counts.unusable += 1
            continue
        counts.accepted += 1
        by_id.setdefault(message.id, message)
    counts.messages = list(by_id.values())
    if counts.wrong_client_state or counts.unknown_tenant or counts.unusable:
        log.warning(
            "notification items dropped: %d wrong clientState, %d unknown tenant, %d unusable",
            counts.wrong_client_state,
            counts.unknown_tenant,
            counts.unusable,
            extra={
                "dropped_client_state": counts.wrong_client_state,
                "dropped_unknown_tenant": counts.unknown_tenant,
            },
        )
    try:
        send_changes(sender, counts.messages)
    except Exception:  # isolation boundary: any enqueue failure means "Graph, try again"
        log.exception("could not enqueue %d change messages", len(counts.messages))
        return WebhookReply(503, "could not enqueue; retry"), counts
    return WebhookReply(202), counts


def _items(body: bytes) -> list[Mapping[str, Any]] | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError: not JSON, not UTF-8/16/32, or an integer beyond Python's digit limit;
        # RecursionError: nesting deeper than the parser's stack.
        return None
    if not isinstance(document, dict):
        return None
    values = document.get("value")
    if not isinstance(values, list) or len(values) > MAX_ITEMS:
        return None
    if not all(isinstance(item, dict) for item in values):
        return None
    return values


def _client_state_matches(item: Mapping[str, Any], expected: bytes) -> bool:
    given = item.get("clientState")
    if not isinstance(given, str):
        return False
    # Constant time: the comparison must not tell an attacker how much of a guess was right.
    # surrogatepass: JSON `\ud800` escapes decode to lone surrogates; they never match.
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected)


def message_for(
    item: Mapping[str, Any], tenant: str, *, delivery: str = ""
) -> ChangeMessage | None:
    """The change message for one verified notification item, or None if it names nothing usable.

    `delivery` names the POST the item came in: it tells two changes of one group apart when
    Graph sends no item id."""
    subscription_id = item.get("subscriptionId")
    if not isinstance(subscription_id, str) or not is_safe_id(subscription_id):
        return None
    lifecycle = item.get("lifecycleEvent")
    if lifecycle is not None:
        if lifecycle not in LIFECYCLE_EVENTS:
            return None
        if lifecycle == "missed":
            # Notifications were dropped: only a full read is sure to catch up.
            return ChangeMessage.create(tenant, "notification", "full", discriminator=lifecycle)
        resource = {"subscriptionId": subscription_id, "lifecycleEvent": lifecycle}
        expiry = str(item.get("subscriptionExpirationDateTime") or "")
        return ChangeMessage.create(
            tenant, "notification", "reauthorize", resource, discriminator=expiry
        )
    group_id = _group_id(item)
    if group_id is None:
        return None
    change_type = item.get("changeType")
    resource = {
        "id": group_id,
        "subscriptionId": subscription_id,
        "changeType": change_type
        if change_type in ("created", "updated", "deleted")
        else "updated",
    }
    # Graph may resend one notification for hours: the item's own id (when Graph gives one)
    # keeps a resend the same message. Without one, the POST names it: a second break of the
    # same group is a new message and a new run (its own alert), and a resent POST only costs a
    # harmless re-read (it finds the state already recorded).
    item_id = item.get("id")
    return ChangeMessage.create(
        tenant,
        "notification",
        "group",
        resource,
        discriminator=item_id if isinstance(item_id, str) and item_id else f"post:{delivery}",
    )


def _group_id(item: Mapping[str, Any]) -> str | None:
    resource = item.get("resource")
    if not isinstance(resource, str):
        return None
    parts = resource.strip("/").split("/")
    # "Groups/{id}" or "groups/{id}/members": only group subscriptions are ever created.
    if len(parts) < 2 or parts[0].lower() != "groups":
        return None
    data = item.get("resourceData")
    candidate = data.get("id") if isinstance(data, dict) else None
    if not isinstance(candidate, str):
        candidate = parts[1]
    return candidate if is_safe_id(candidate) else None
