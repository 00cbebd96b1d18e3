"""The delivery ledger: one row per (tenant, destination, alert key), so an alert posts once.

Queues redeliver and handlers retry, so before posting, a sender *claims* the alert's row:
inserting it when absent, or taking over a row that is undelivered or whose pending claim has
outlived its lease, guarded by the row's ETag so only one claimant wins. A row that says `sent`
is never posted again. The residual window: a process that dies after the receiver accepted the
post but before `mark_sent` leaves a pending row, and the alert is posted again once the lease
expires (at-least-once toward the receiver; the webhook has no idempotency key of its own).

A post whose request went out but whose answer never came (a read timeout: Teams may answer
after the client gave up) is `unconfirmed`: it may be in the channel already, so it is never
posted again on its own (at most once); `greenscreen alerts replay` lists it and posts it only
when asked to. A `pending` claim older than the lease is *stuck* (its claimant died, or storage
failed before the outcome was written): a redelivery takes it over, and replay lists it.

The row keeps the message body, so `replay_undelivered` can post exactly what failed; it never
keeps the webhook URL (only the destination's name).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.data.tables import TableServiceClient, UpdateMode

from monitors.store.keys import format_time, key_part, parse_time

logger = logging.getLogger(__name__)

DELIVERIES_TABLE: Final = "GreenscreenAlertDeliveries"
# Longer than one claim can post (WebhookPoster: 60 s budget, 15 s read timeout), shorter than
# the queue's retries of one message (5 attempts, 30 s apart), so a later attempt takes over.
DEFAULT_LEASE: Final = timedelta(minutes=2)
# A table property holds 32,768 UTF-16 characters; bodies above this are not kept for replay.
MAX_STORED_BODY: Final = 30_000
MAX_DETAIL: Final = 500


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    UNDELIVERED = "undelivered"
    UNCONFIRMED = "unconfirmed"  # sent, no answer: maybe posted; never re-posted on its own


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a claim: `granted` means this caller may post now."""

    granted: bool
    state: DeliveryState  # the row's state: PENDING when granted, else what blocked the claim
    tenant_id: str
    destination: str
    key: str
    token: str = ""  # opaque concurrency token (the row's ETag)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    tenant_id: str
    destination: str
    key: str
    state: DeliveryState
    attempts: int  # claims so far (each claim is one round of posting with retries)
    updated: datetime
    detail: str  # why it is undelivered; never contains a URL
    body: str | None  # the JSON body, None when it was too large to keep


class AlertLedger(Protocol):
    def claim(
        self, tenant_id: str, destination: str, key: str, body: str, now: datetime
    ) -> Claim: ...

    def mark_sent(self, claim: Claim, now: datetime) -> None: ...

    def mark_undelivered(self, claim: Claim, now: datetime, detail: str) -> None: ...

    def mark_unconfirmed(self, claim: Claim, now: datetime, detail: str) -> None: ...

    def undelivered(self, tenant_id: str | None = None) -> Iterator[LedgerEntry]: ...

    def replayable(
        self, now: datetime, tenant_id: str | None = None, *, unconfirmed: bool = False
    ) -> Iterator[LedgerEntry]: ...

    def release_unconfirmed(self, entry: LedgerEntry, now: datetime) -> None: ...


def _claimable(entry: LedgerEntry, now: datetime, lease: timedelta) -> bool:
    if entry.state is DeliveryState.UNDELIVERED:
        return True
    return entry.state is DeliveryState.PENDING and entry.updated + lease <= now


def _replayable(entry: LedgerEntry, now: datetime, lease: timedelta, unconfirmed: bool) -> bool:
    """Undelivered, stuck pending (older than the lease), or, when asked, unconfirmed."""
    if entry.state is DeliveryState.UNCONFIRMED:
        return unconfirmed
    return _claimable(entry, now, lease)


def _kept_body(body: str) -> str | None:
    return body if len(body) <= MAX_STORED_BODY else None


class InMemoryAlertLedger:
    """The ledger's semantics in a dict, for tests and the demo."""

    def __init__(self, lease: timedelta = DEFAULT_LEASE) -> None:
        self._lease = lease
        self._rows: dict[tuple[str, str, str], tuple[LedgerEntry, int]] = {}

    def claim(self, tenant_id: str, destination: str, key: str, body: str, now: datetime) -> Claim:
        slot = (tenant_id, destination, key)
        current = self._rows.get(slot)
        if current is None:
            entry = LedgerEntry(
                tenant_id, destination, key, DeliveryState.PENDING, 1, now, "", _kept_body(body)
            )
            self._rows[slot] = (entry, 1)
            return Claim(True, DeliveryState.PENDING, tenant_id, destination, key, "1")
        entry, version = current
        if not _claimable(entry, now, self._lease):
            return Claim(False, entry.state, tenant_id, destination, key)
        taken = replace(
            entry, state=DeliveryState.PENDING, attempts=entry.attempts + 1, updated=now
        )
        self._rows[slot] = (taken, version + 1)
        return Claim(True, DeliveryState.PENDING, tenant_id, destination, key, str(version + 1))

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        slot = (claim.tenant_id, claim.destination, claim.key)
        entry, version = self._rows[slot]
        self._rows[slot] = (replace(entry, state=DeliveryState.SENT, updated=now), version + 1)

    def mark_undelivered(self, claim: Claim, now: datetime, detail: str) -> None:
        slot = (claim.tenant_id, claim.destination, claim.key)
        entry, version = self._rows[slot]
        if str(version) != claim.token:  # another claimant took over: its outcome wins
            return
        undelivered = replace(
            entry, state=DeliveryState.UNDELIVERED, updated=now, detail=detail[:MAX_DETAIL]
        )
        self._rows[slot] = (undelivered, version + 1)

    def mark_unconfirmed(self, claim: Claim, now: datetime, detail: str) -> None:
        slot = (claim.tenant_id, claim.destination, claim.key)
        entry, version = self._rows[slot]
        unconfirmed = replace(
            entry, state=DeliveryState.UNCONFIRMED, updated=now, detail=detail[:MAX_DETAIL]
        )
        self._rows[slot] = (unconfirmed, version + 1)

    def undelivered(self, tenant_id: str | None = None) -> Iterator[LedgerEntry]:
        for entry, _ in list(self._rows.values()):
            if entry.state is DeliveryState.UNDELIVERED and tenant_id in (None, entry.tenant_id):
                yield entry

    def replayable(
        self, now: datetime, tenant_id: str | None = None, *, unconfirmed: bool = False
    ) -> Iterator[LedgerEntry]:
        for entry, _ in list(self._rows.values()):
            if tenant_id in (None, entry.tenant_id) and _replayable(
                entry, now, self._lease, unconfirmed
            ):
                yield entry

    def release_unconfirmed(self, entry: LedgerEntry, now: datetime) -> None:
        """An operator chose to post an unconfirmed alert again: make it claimable."""
        slot = (entry.tenant_id, entry.destination, entry.key)
        current, version = self._rows[slot]
        if current.state is DeliveryState.UNCONFIRMED:
            self._rows[slot] = (replace(current, state=DeliveryState.UNDELIVERED), version + 1)

    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(entry for entry, _ in self._rows.values())


class TableAlertLedger:
    """The ledger in Azure Table Storage: PartitionKey tenant, RowKey destination|key."""

    def __init__(self, service: TableServiceClient, lease: timedelta = DEFAULT_LEASE) -> None:
        self._table = service.get_table_client(DELIVERIES_TABLE)
        self._service = service
        self._lease = lease

    def ensure_table(self) -> None:
        self._service.create_table_if_not_exists(DELIVERIES_TABLE)

    def claim(self, tenant_id: str, destination: str, key: str, body: str, now: datetime) -> Claim:
        partition, row = key_part(tenant_id), f"{key_part(destination)}|{key_part(key)}"
        kept = _kept_body(body)
        entity: dict[str, Any] = {
            "PartitionKey": partition,
            "RowKey": row,
            "TenantId": tenant_id,
            "Destination": destination,
            "AlertKey": key,
            "State": DeliveryState.PENDING.value,
            "Attempts": 1,
            "Updated": format_time(now),
            "Detail": "",
            "Body": kept if kept is not None else "",
            "BodyKept": kept is not None,
        }
        try:
            metadata = self._table.create_entity(entity)
        except ResourceExistsError:
            pass
        else:
            return Claim(
                True, DeliveryState.PENDING, tenant_id, destination, key, str(metadata["etag"])
            )
        stored = self._table.get_entity(partition, row)
        entry = _entry(stored)
        if not _claimable(entry, now, self._lease):
            return Claim(False, entry.state, tenant_id, destination, key)
        update = {
            "PartitionKey": partition,
            "RowKey": row,
            "State": DeliveryState.PENDING.value,
            "Attempts": entry.attempts + 1,
            "Updated": format_time(now),
        }
        try:
            metadata = self._table.update_entity(
                update,
                mode=UpdateMode.MERGE,
                etag=str(stored.metadata["etag"]),
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:  # another claimant won the race
            return Claim(False, DeliveryState.PENDING, tenant_id, destination, key)
        return Claim(
            True, DeliveryState.PENDING, tenant_id, destination, key, str(metadata["etag"])
        )

    def mark_sent(self, claim: Claim, now: datetime) -> None:
        # Unconditional: "the receiver accepted it" is true whoever else holds the row now.
        self._table.update_entity(
            {
                "PartitionKey": key_part(claim.tenant_id),
                "RowKey": f"{key_part(claim.destination)}|{key_part(claim.key)}",
                "State": DeliveryState.SENT.value,
                "Updated": format_time(now),
                "Detail": "",
            },
            mode=UpdateMode.MERGE,
        )

    def mark_undelivered(self, claim: Claim, now: datetime, detail: str) -> None:
        try:
            self._table.update_entity(
                {
                    "PartitionKey": key_part(claim.tenant_id),
                    "RowKey": f"{key_part(claim.destination)}|{key_part(claim.key)}",
                    "State": DeliveryState.UNDELIVERED.value,
                    "Updated": format_time(now),
                    "Detail": detail[:MAX_DETAIL],
                },
                mode=UpdateMode.MERGE,
                etag=claim.token,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:  # another claimant took over: its outcome wins
            logger.info(
                "alert %s for %s was taken over by another delivery",
                claim.key,
                claim.destination,
                extra={"tenant_id": claim.tenant_id},
            )

    def mark_unconfirmed(self, claim: Claim, now: datetime, detail: str) -> None:
        # Unconditional, like `mark_sent`: the request reached the receiver, whoever holds the
        # row now must not post it again on its own.
        self._table.update_entity(
            {
                "PartitionKey": key_part(claim.tenant_id),
                "RowKey": f"{key_part(claim.destination)}|{key_part(claim.key)}",
                "State": DeliveryState.UNCONFIRMED.value,
                "Updated": format_time(now),
                "Detail": detail[:MAX_DETAIL],
            },
            mode=UpdateMode.MERGE,
        )

    def replayable(
        self, now: datetime, tenant_id: str | None = None, *, unconfirmed: bool = False
    ) -> Iterator[LedgerEntry]:
        states = [DeliveryState.UNDELIVERED.value, DeliveryState.PENDING.value]
        if unconfirmed:
            states.append(DeliveryState.UNCONFIRMED.value)
        # Spaces around the parentheses: the SDK finds @parameters by splitting on spaces.
        query = "( " + " or ".join(f"State eq @s{i}" for i in range(len(states))) + " )"
        parameters: dict[str, Any] = {f"s{i}": state for i, state in enumerate(states)}
        if tenant_id is not None:
            query = "PartitionKey eq @partition and " + query
            parameters["partition"] = key_part(tenant_id)
        for entity in self._table.query_entities(query, parameters=parameters):
            entry = _entry(entity)
            if _replayable(entry, now, self._lease, unconfirmed):
                yield entry

    def release_unconfirmed(self, entry: LedgerEntry, now: datetime) -> None:
        """An operator chose to post an unconfirmed alert again: make it claimable."""
        self._table.update_entity(
            {
                "PartitionKey": key_part(entry.tenant_id),
                "RowKey": f"{key_part(entry.destination)}|{key_part(entry.key)}",
                "State": DeliveryState.UNDELIVERED.value,
                "Updated": format_time(now),
            },
            mode=UpdateMode.MERGE,
        )

    def undelivered(self, tenant_id: str | None = None) -> Iterator[LedgerEntry]:
        query = "State eq @state"
        parameters: dict[str, Any] = {"state": DeliveryState.UNDELIVERED.value}
        if tenant_id is not None:
            query = "PartitionKey eq @partition and " + query
            parameters["partition"] = key_part(tenant_id)
        for entity in self._table.query_entities(query, parameters=parameters):
            yield _entry(entity)


def _entry(entity: Any) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=str(entity["TenantId"]),
        destination=str(entity["Destination"]),
        key=str(entity["AlertKey"]),
        state=DeliveryState(str(entity["State"])),
        attempts=int(entity.get("Attempts", 1)),
        updated=parse_time(str(entity["Updated"])),
        detail=str(entity.get("Detail", "")),
        body=str(entity.get("Body", "")) if entity.get("BodyKept") else None,
    )
