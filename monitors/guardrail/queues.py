"""Message contracts of the `changes` and `alerts` queues, and the client that sends them.

`changes` (one change to look at, for one tenant):

    {"tenantId", "source": "notification|audit|delta|reconcile|manual",
     "kind": "group|intune|device|collections|full|reauthorize", "resource": {...},
     "eventIds": [...],
     "id": <stable idempotency id>}

`resource` per kind: `group` `{"id"}`; `intune` `{"collection", "id"}`; `device` `{"ids": [≤15]}`;
`collections` `{"collections": [paths]}` (re-read them whole: a polled tenant policy changed, or
an audit record named an object no map could place); `full` `{}`; `reauthorize`
`{"subscriptionId", "lifecycleEvent"}`.

`alerts` (every transition of one evaluation run, to tell people about together):
`{"format": "greenscreen.alert-batch/1", "tenantId", "runId", "part", "parts", "alerts":
[{"transition": {...}, "idempotencyKey", "devicesAtRisk"?, "related"?}, ...]}` (or
`"alertsZ"`: the same list, zlib-compressed and base64-encoded, when the plain form does not
fit one message). Each key is derived from its transition (tenant, write sequence, rule, scope,
subject, new status), so a transition read twice yields the same key. A single-alert message
of the earlier contract (`{"tenantId", "transition", "idempotencyKey"}`) is still accepted.

Messages are sent base64-encoded, the Functions queue trigger's default `messageEncoding`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from monitors.graph.reader import is_safe_id
from monitors.store.keys import TENANT_PATTERN, digest
from monitors.store.records import Transition
from rules import tenant_collections as tc
from rules.findings import Finding

# The monitor's own message ids and idempotency keys (digests): ASCII letters, digits, dashes.
_KEY: Final = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)

log = logging.getLogger(__name__)

CHANGES_QUEUE: Final = "changes"
ALERTS_QUEUE: Final = "alerts"
SOURCES: Final = ("notification", "audit", "delta", "reconcile", "manual")
KINDS: Final = ("group", "intune", "device", "collections", "full", "reauthorize")
INTUNE_COLLECTIONS: Final = frozenset(
    path
    for path in tc.ALL_COLLECTIONS
    if path.startswith(("deviceManagement/", "deviceAppManagement/"))
)
# Collections a `collections` message may re-read whole: the Intune ones and the tenant policies
# that have no change channel (never the 20,000-row Autopilot device list, groups or devices).
REREADABLE_COLLECTIONS: Final = frozenset(
    (INTUNE_COLLECTIONS - {tc.AUTOPILOT_DEVICES})
    | {tc.MDM_POLICIES, tc.DEVICE_REGISTRATION_POLICY, tc.CONDITIONAL_ACCESS_POLICIES}
)
DEVICE_IDS_PER_MESSAGE: Final = 15  # one `id in (...)` filter: Graph's limit for directory objects
MAX_EVENT_IDS: Final = 50  # the store keeps at most 50 cause ids per run
MAX_MESSAGE_CHARS: Final = 48_000  # base64 of it stays under the queue's 64 KiB


class MessageError(ValueError):
    """A queue message that does not follow the contract (poison: never retried into success)."""


@dataclass(frozen=True, slots=True)
class ChangeMessage:
    tenant_id: str
    source: str
    kind: str
    resource: Mapping[str, Any] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    id: str = ""

    @classmethod
    def create(
        cls,
        tenant_id: str,
        source: str,
        kind: str,
        resource: Mapping[str, Any] | None = None,
        event_ids: Sequence[str] = (),
        *,
        discriminator: str = "",
    ) -> ChangeMessage:
        """A message whose id is a digest of what it says: the same change, the same id."""
        resource = dict(resource or {})
        events = tuple(sorted(dict.fromkeys(event_ids)))[:MAX_EVENT_IDS]
        canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"))
        message_id = digest(
            tenant_id.lower(), source, kind, canonical, ",".join(events), discriminator, length=32
        )
        message = cls(tenant_id.lower(), source, kind, resource, events, message_id)
        validate_change(message)
        return message

    def as_json(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "source": self.source,
            "kind": self.kind,
            "resource": dict(self.resource),
            "eventIds": list(self.event_ids),
            "id": self.id,
        }

    def to_text(self) -> str:
        return json.dumps(self.as_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_text(cls, text: str | bytes) -> ChangeMessage:
        document = _json_object(text)
        unknown = set(document) - {"tenantId", "source", "kind", "resource", "eventIds", "id"}
        if unknown:
            raise MessageError(f"unknown fields: {', '.join(sorted(unknown))}")
        event_ids = document.get("eventIds", [])
        if not isinstance(event_ids, list) or not all(isinstance(e, str) for e in event_ids):
            raise MessageError("eventIds must be a list of strings")
        resource = document.get("resource", {})
        if not isinstance(resource, dict):
            raise MessageError("resource must be an object")
        message = cls(
            tenant_id=_string(document, "tenantId").lower(),
            source=_string(document, "source"),
            kind=_string(document, "kind"),
            resource=resource,
            event_ids=tuple(event_ids),
            id=_string(document, "id"),
        )
        validate_change(message)
        return message


def validate_change(message: ChangeMessage) -> None:
    if not TENANT_PATTERN.match(message.tenant_id):
        raise MessageError("tenantId is not a tenant GUID or domain")
    if message.source not in SOURCES:
        raise MessageError(f"source must be one of {', '.join(SOURCES)}")
    if message.kind not in KINDS:
        raise MessageError(f"kind must be one of {', '.join(KINDS)}")
    if not _KEY.fullmatch(message.id):
        raise MessageError("id must be 1-64 letters, digits or dashes")
    if len(message.event_ids) > MAX_EVENT_IDS or any(len(e) > 200 for e in message.event_ids):
        raise MessageError(f"eventIds: at most {MAX_EVENT_IDS} ids of at most 200 characters")
    resource = message.resource
    if message.kind == "group":
        _require_keys(resource, {"id"}, {"changeType", "subscriptionId"})
        _require_safe_id(resource, "id")
    elif message.kind == "intune":
        _require_keys(resource, {"collection", "id"}, {"operation"})
        if resource["collection"] not in INTUNE_COLLECTIONS:
            raise MessageError("resource.collection is not an Intune snapshot collection")
        _require_safe_id(resource, "id")
    elif message.kind == "device":
        _require_keys(resource, {"ids"}, set())
        ids = resource["ids"]
        if not isinstance(ids, list) or not 0 < len(ids) <= DEVICE_IDS_PER_MESSAGE:
            raise MessageError(f"resource.ids must list 1-{DEVICE_IDS_PER_MESSAGE} device ids")
        if not all(isinstance(i, str) and is_safe_id(i) for i in ids):
            raise MessageError("resource.ids must be Graph object ids")
    elif message.kind == "collections":
        _require_keys(resource, {"collections"}, set())
        paths = resource["collections"]
        if (
            not isinstance(paths, list)
            or not paths
            or len(set(paths)) != len(paths)
            or not all(isinstance(p, str) and p in REREADABLE_COLLECTIONS for p in paths)
        ):
            raise MessageError("resource.collections must list distinct re-readable collections")
    elif message.kind == "reauthorize":
        _require_keys(resource, {"subscriptionId", "lifecycleEvent"}, set())
        _require_safe_id(resource, "subscriptionId")
        if resource["lifecycleEvent"] not in LIFECYCLE_EVENTS:
            raise MessageError("resource.lifecycleEvent is not a lifecycle event")
    elif resource:
        raise MessageError("a full message carries no resource")


LIFECYCLE_EVENTS: Final = ("reauthorizationRequired", "subscriptionRemoved", "missed")


MAX_RELATED_IN_ALERT: Final = 25
ALERT_BATCH_FORMAT: Final = "greenscreen.alert-batch/1"
# A batch's alerts are compressed when their plain JSON would not fit one message; they are
# never inflated beyond this (a hostile message cannot make the consumer allocate more).
MAX_BATCH_CHARS: Final = 4_000_000


@dataclass(frozen=True, slots=True)
class AlertMessage:
    tenant_id: str
    transition: Mapping[str, Any]
    idempotency_key: str
    # From the evaluation's finding (the store does not keep them): how many registered
    # Autopilot devices the verdict concerns, and the other objects involved (capped).
    devices_at_risk: int | None = None
    related: tuple[Mapping[str, Any], ...] = ()

    def with_finding(self, finding: Finding | None) -> AlertMessage:
        if finding is None:
            return self
        related = tuple(subject.as_json() for subject in finding.related[:MAX_RELATED_IN_ALERT])
        return AlertMessage(
            self.tenant_id, self.transition, self.idempotency_key, len(finding.devices), related
        )

    @classmethod
    def for_transition(cls, transition: Transition) -> AlertMessage:
        record = transition.record
        key = digest(
            transition.tenant_id,
            str(transition.seq),
            record.rule_id,
            record.scope_id,
            record.subject_type,
            record.subject_id,
            transition.to_status.value,
            length=32,
        )
        # The write sequence travels with it: two breaks of one subject are two alerts.
        return cls(transition.tenant_id, {**transition.as_json(), "seq": transition.seq}, key)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "tenantId": self.tenant_id,
            "transition": dict(self.transition),
            "idempotencyKey": self.idempotency_key,
        }
        if self.devices_at_risk is not None:
            document["devicesAtRisk"] = self.devices_at_risk
        if self.related:
            document["related"] = [dict(subject) for subject in self.related]
        return document

    def to_text(self) -> str:
        return json.dumps(self.as_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_text(cls, text: str | bytes) -> AlertMessage:
        return cls.from_json(_json_object(text))

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> AlertMessage:
        transition = document.get("transition")
        if not isinstance(transition, dict):
            raise MessageError("transition must be an object")
        tenant_id = _string(document, "tenantId")
        if not TENANT_PATTERN.match(tenant_id):
            raise MessageError("tenantId is not a tenant GUID or domain")
        key = _string(document, "idempotencyKey")
        if not _KEY.fullmatch(key):
            raise MessageError("idempotencyKey must be 1-64 letters or digits")
        devices = document.get("devicesAtRisk")
        if devices is not None and (
            not isinstance(devices, int) or isinstance(devices, bool) or devices < 0
        ):
            raise MessageError("devicesAtRisk must be a count")
        related = document.get("related", [])
        if not isinstance(related, list) or not all(isinstance(r, dict) for r in related):
            raise MessageError("related must be a list of objects")
        return cls(tenant_id, transition, key, devices, tuple(related[:MAX_RELATED_IN_ALERT]))


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Every alert of one evaluation run for one tenant: one `alerts` message.

    One root cause (a reconcile that hit a 403, an admin editing one app) makes one run, so
    the consumer sees its transitions together and can group them into one card. The plain
    JSON form is used when it fits a queue message; otherwise the alerts are zlib-compressed
    (`alertsZ`), and a run too large even then is split into parts (`part` of `parts`).
    An old single-alert message (`AlertMessage`) is still read, as a batch of one.
    """

    tenant_id: str
    run_id: str
    alerts: tuple[AlertMessage, ...]
    part: int = 1
    parts: int = 1

    def to_text(self) -> str:
        entries = [_batch_entry(alert) for alert in self.alerts]
        head: dict[str, Any] = {
            "format": ALERT_BATCH_FORMAT,
            "tenantId": self.tenant_id,
            "runId": self.run_id,
            "part": self.part,
            "parts": self.parts,
        }
        plain = json.dumps({**head, "alerts": entries}, separators=(",", ":"), sort_keys=True)
        if len(plain) <= MAX_MESSAGE_CHARS:
            return plain
        packed = json.dumps(entries, separators=(",", ":"), sort_keys=True).encode()
        squeezed = base64.b64encode(zlib.compress(packed, 6)).decode("ascii")
        return json.dumps({**head, "alertsZ": squeezed}, separators=(",", ":"), sort_keys=True)

    def fits(self) -> bool:
        """Fits one queue message, and inflates within what a consumer accepts."""
        plain = json.dumps([_batch_entry(alert) for alert in self.alerts], separators=(",", ":"))
        return len(plain) <= MAX_BATCH_CHARS and len(self.to_text()) <= MAX_MESSAGE_CHARS

    @classmethod
    def from_text(cls, text: str | bytes) -> AlertBatch:
        document = _json_object(text)
        if "transition" in document:  # a message queued before batches existed
            alert = AlertMessage.from_json(document)
            run_id = str(alert.transition.get("runId") or "")
            return cls(alert.tenant_id, run_id, (alert,))
        if document.get("format") != ALERT_BATCH_FORMAT:
            raise MessageError(f"format must be {ALERT_BATCH_FORMAT}")
        unknown = set(document) - {
            "format",
            "tenantId",
            "runId",
            "part",
            "parts",
            "alerts",
            "alertsZ",
        }
        if unknown:
            raise MessageError(f"unknown fields: {', '.join(sorted(unknown))}")
        tenant_id = _string(document, "tenantId").lower()
        if not TENANT_PATTERN.match(tenant_id):
            raise MessageError("tenantId is not a tenant GUID or domain")
        run_id = _string(document, "runId")
        part, parts = document.get("part", 1), document.get("parts", 1)
        if not (_count(part) and _count(parts) and 1 <= part <= parts <= 1000):
            raise MessageError("part and parts must be counts with part <= parts")
        entries = document.get("alerts")
        if "alertsZ" in document:
            entries = _inflate(document["alertsZ"])
        if not isinstance(entries, list) or not entries:
            raise MessageError("alerts must be a non-empty list")
        alerts = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise MessageError("each alert must be an object")
            alert = AlertMessage.from_json({**entry, "tenantId": tenant_id})
            alerts.append(alert)
        return cls(tenant_id, run_id, tuple(alerts), part, parts)


def alert_batches(
    tenant_id: str, run_id: str, alerts: Sequence[AlertMessage]
) -> tuple[AlertBatch, ...]:
    """The messages that carry a run's alerts: one, unless even compressed they do not fit."""
    if not alerts:
        return ()
    chunks: list[Sequence[AlertMessage]] = [alerts]
    while True:
        batches = [AlertBatch(tenant_id, run_id, tuple(chunk)) for chunk in chunks]
        oversized = [i for i, batch in enumerate(batches) if not batch.fits()]
        if not oversized:
            break
        split: list[Sequence[AlertMessage]] = []
        for index, chunk in enumerate(chunks):
            if index in oversized and len(chunk) > 1:
                middle = len(chunk) // 2
                split.extend((chunk[:middle], chunk[middle:]))
            elif index in oversized:
                raise MessageError("one alert does not fit a queue message")
            else:
                split.append(chunk)
        chunks = split
    parts = len(batches)
    return tuple(
        AlertBatch(tenant_id, run_id, batch.alerts, index, parts)
        for index, batch in enumerate(batches, start=1)
    )


def _batch_entry(alert: AlertMessage) -> dict[str, Any]:
    entry = alert.as_json()
    del entry["tenantId"]  # the batch's
    return entry


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _inflate(value: Any) -> Any:
    if not isinstance(value, str):
        raise MessageError("alertsZ must be base64 text")
    try:
        packed = base64.b64decode(value, validate=True)
        inflater = zlib.decompressobj()
        text = inflater.decompress(packed, MAX_BATCH_CHARS)
        if inflater.unconsumed_tail or not inflater.eof:
            raise MessageError("alertsZ is too large or truncated")
        return json.loads(text)
    except (ValueError, zlib.error, RecursionError):
        raise MessageError("alertsZ is not compressed JSON") from None


def _json_object(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError("message too large")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise MessageError("message is not JSON") from None
    if not isinstance(document, dict):
        raise MessageError("message is not a JSON object")
    return document


def _string(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise MessageError(f"{name} must be a non-empty string")
    return value


def _require_keys(resource: Mapping[str, Any], required: set[str], optional: set[str]) -> None:
    missing = required - set(resource)
    if missing:
        raise MessageError(f"resource lacks {', '.join(sorted(missing))}")
    unknown = set(resource) - required - optional
    if unknown:
        raise MessageError(f"resource has unknown keys: {', '.join(sorted(unknown))}")


def _require_safe_id(resource: Mapping[str, Any], name: str) -> None:
    value = resource.get(name)
    if not isinstance(value, str) or not is_safe_id(value):
        raise MessageError(f"resource.{name} is not a Graph object id")


# -- sending ---------------------------------------------------------------------------------


class QueueSender(Protocol):
    """Puts one text message on a named queue; raises when it could not."""

    def send(self, queue: str, text: str) -> None: ...


class StorageQueueSender:
    """Azure Storage queues (Azurite locally); creates a queue on first use if it is missing."""

    def __init__(self, service: Any) -> None:  # azure.storage.queue.QueueServiceClient
        self._service = service
        self._clients: dict[str, Any] = {}

    def _client(self, queue: str) -> Any:
        if queue not in self._clients:
            from azure.storage.queue import TextBase64EncodePolicy

            self._clients[queue] = self._service.get_queue_client(
                queue, message_encode_policy=TextBase64EncodePolicy()
            )
        return self._clients[queue]

    def send(self, queue: str, text: str) -> None:
        self.send_later(queue, text, 0)

    def send_later(self, queue: str, text: str, delay_s: float) -> None:
        """Queue `text`, invisible to consumers for `delay_s` seconds (the queue's initial
        visibility timeout, whole seconds)."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self._client(queue)
        delay = max(0, round(delay_s)) or None
        try:
            client.send_message(text, visibility_timeout=delay)
        except ResourceNotFoundError:
            client.create_queue()
            client.send_message(text, visibility_timeout=delay)


def send_later(sender: QueueSender, queue: str, text: str, delay_s: float) -> None:
    """Queue a message that becomes visible after `delay_s` (senders without delays: now)."""
    later = getattr(sender, "send_later", None)
    if delay_s > 0 and callable(later):
        later(queue, text, delay_s)
    else:
        sender.send(queue, text)


def send_changes(sender: QueueSender, messages: Sequence[ChangeMessage]) -> int:
    for message in messages:
        sender.send(CHANGES_QUEUE, message.to_text())
    return len(messages)
