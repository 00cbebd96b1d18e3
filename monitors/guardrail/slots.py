"""A per-tenant concurrency limit that holds across Function instances.

Queue triggers scale out: a burst of changes in one tenant (an admin editing fifty assignments)
could start dozens of `process_change` runs reading the same tenant's Graph at once and trip
Intune's per-tenant throttling, while other tenants' messages wait behind them. Each run of a
tenant first takes one of `limit` *slots*: leased rows in `GreenscreenOperations` (partition
`tenant`, row `slot|i`), taken with ETag compare-and-set, so two instances can never hold the
same slot. A lease expires on its own (a crashed holder blocks nobody for longer than the lease).

A lease is short (`lease_s`, 90 s) and renewed by its holder every third of it while the run
lasts, so a holder that dies, or whose release fails because storage is unreachable, blocks its
slot for at most one lease, never for the length of the function timeout. The release itself
never raises: a failed release only leaves a lease that expires.

A run that finds no free slot waits (polling with jitter) up to a bound, then gives up with
`TenantBusyError`; the guardrail puts the message back on the queue with a delay instead of
failing it (a busy tenant must not use up a message's delivery attempts). Other tenants are
never affected: their slots live in their own partitions.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from monitors.store.keys import OPERATIONS_TABLE, SEPARATOR, tenant_key

DEFAULT_LIMIT: Final = 2
DEFAULT_LEASE_S: Final = 90.0  # renewed every third of it while held
DEFAULT_WAIT_S: Final = 60.0
SLOT_PREFIX: Final = f"slot{SEPARATOR}"

log = logging.getLogger(__name__)


class TenantBusyError(RuntimeError):
    """Every slot of the tenant stayed taken for the whole wait: retry later."""


@dataclass(frozen=True, slots=True)
class Lease:
    tenant_id: str
    slot: int
    holder: str
    etag: str


class TenantSlots:
    def __init__(
        self,
        service: TableServiceClient,
        *,
        limit: int = DEFAULT_LIMIT,
        lease_s: float = DEFAULT_LEASE_S,
        wait_s: float = DEFAULT_WAIT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("a tenant needs at least one slot")
        self._service = service
        self._table_client: TableClient | None = None
        self.limit = limit
        self.lease_s = lease_s
        self.wait_s = wait_s
        self._clock = clock
        self._sleep = sleep

    @property
    def _table(self) -> TableClient:
        if self._table_client is None:
            self._service.create_table_if_not_exists(OPERATIONS_TABLE)
            self._table_client = self._service.get_table_client(OPERATIONS_TABLE)
        return self._table_client

    def try_acquire(self, tenant_id: str) -> Lease | None:
        """Take a free or expired slot now, or None if all `limit` are held."""
        holder = uuid.uuid4().hex
        now = self._clock()
        until = (now + timedelta(seconds=self.lease_s)).isoformat()
        partition = tenant_key(tenant_id)
        for slot in random.sample(range(self.limit), self.limit):
            row = f"{SLOT_PREFIX}{slot:03d}"
            entity = {"PartitionKey": partition, "RowKey": row, "Holder": holder, "Until": until}
            try:
                current = self._table.get_entity(partition, row)
            except ResourceNotFoundError:
                try:
                    metadata = self._table.create_entity(entity)
                except ResourceExistsError:
                    continue
                return Lease(tenant_id, slot, holder, str(metadata["etag"]))
            if current.get("Holder") and datetime.fromisoformat(str(current["Until"])) > now:
                continue
            try:
                metadata = self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            return Lease(tenant_id, slot, holder, str(metadata["etag"]))
        return None

    def renew(self, lease: Lease) -> Lease | None:
        """Extend the lease by `lease_s`; None when it was lost (taken over after it expired)."""
        entity = {
            "PartitionKey": tenant_key(lease.tenant_id),
            "RowKey": f"{SLOT_PREFIX}{lease.slot:03d}",
            "Holder": lease.holder,
            "Until": (self._clock() + timedelta(seconds=self.lease_s)).isoformat(),
        }
        try:
            metadata = self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return Lease(lease.tenant_id, lease.slot, lease.holder, str(metadata["etag"]))

    def release(self, lease: Lease) -> None:
        """Free the slot unless someone took it over after the lease expired. Never raises:
        when storage is unreachable the lease simply runs out (at most `lease_s`)."""
        entity = {
            "PartitionKey": tenant_key(lease.tenant_id),
            "RowKey": f"{SLOT_PREFIX}{lease.slot:03d}",
            "Holder": "",
            "Until": self._clock().isoformat(),
        }
        try:
            self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=lease.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            pass
        except AzureError as error:
            log.warning(
                "could not release a tenant slot (%s); its lease runs out within %.0f s",
                type(error).__name__,
                self.lease_s,
                extra={"tenant_id": lease.tenant_id},
            )

    @contextmanager
    def hold(self, tenant_id: str) -> Iterator[Lease]:
        """Wait up to `wait_s` for a slot, hold it (renewed) for the block, then free it."""
        deadline = time.monotonic() + self.wait_s
        while (lease := self.try_acquire(tenant_id)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TenantBusyError(
                    f"all {self.limit} slots of the tenant are busy; the message will be retried"
                )
            self._sleep(min(remaining, random.uniform(0.5, 2.0)))
        held = [lease]
        stop = threading.Event()

        def keep_alive() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    renewed = self.renew(held[0])
                except AzureError:
                    continue  # storage is out: try again; the lease runs out if it stays out
                if renewed is None:
                    return
                held[0] = renewed

        renewer = threading.Thread(target=keep_alive, name="tenant-slot-lease", daemon=True)
        renewer.start()
        try:
            yield lease
        finally:
            stop.set()
            renewer.join(timeout=5)
            self.release(held[0])
