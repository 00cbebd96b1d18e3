"""Autopilot deployment attempts and what Greenscreen had said about them, per tenant.

Table `GreenscreenDeployments`: PartitionKey `tenant|yyyymm` (month of the attempt's end),
RowKey `invertedTime|sha(eventId)`, so a 30-day report reads two month partitions newest first
and retention drops whole months, like the other history tables. The attempt and its
assessment are JSON columns; upserts are idempotent (one event, one entity).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from monitors.store.keys import (
    SEPARATOR,
    digest,
    format_time,
    inverted_time,
    month_of,
    months_back,
    parse_time,
    tenant_key,
    time_partition,
)
from monitors.store.records import truncate
from monitors.store.verdict_store import VerdictStore

DEPLOYMENTS_TABLE: Final = "GreenscreenDeployments"
TRANSACTION_LIMIT: Final = 100
MAX_DOCUMENT: Final = 30_000  # characters of one JSON column (a property holds 32 K)
MAX_READ: Final = 20_000  # attempts one report reads at most (a month of a 20,000-device tenant)
PURGE_LOOKBACK_MONTHS: Final = 24


class DeploymentStore:
    """Stored deployment attempts: `record` (idempotent), `between` (newest first), `purge`."""

    def __init__(self, service: TableServiceClient, *, retention_days: int = 400) -> None:
        self._service = service
        self.retention_days = retention_days
        self._table = service.get_table_client(DEPLOYMENTS_TABLE)

    @classmethod
    def beside(cls, store: VerdictStore) -> DeploymentStore:
        """The deployment table in the same account as a verdict store."""
        return cls(store._service, retention_days=store.retention_days)

    def ensure_table(self) -> None:
        self._service.create_table_if_not_exists(DEPLOYMENTS_TABLE)

    def record(self, tenant_id: str, documents: Iterable[Mapping[str, Any]]) -> int:
        """Upsert each attempt document (needs `eventId` and `at`); returns how many."""
        tenant = tenant_key(tenant_id)
        # One entity per row key (a transaction may not touch a row twice): the last one wins.
        by_partition: dict[str, dict[str, tuple[str, dict[str, Any], Mapping[str, Any]]]] = {}
        for document in documents:
            entity = _entity(tenant, document)
            by_partition.setdefault(entity["PartitionKey"], {})[entity["RowKey"]] = (
                "upsert",
                entity,
                {"mode": UpdateMode.REPLACE},
            )
        written = 0
        for rows in by_partition.values():
            operations = list(rows.values())
            for start in range(0, len(operations), TRANSACTION_LIMIT):
                chunk = operations[start : start + TRANSACTION_LIMIT]
                try:
                    self._table.submit_transaction(chunk)
                except ResourceNotFoundError:
                    self.ensure_table()
                    self._table.submit_transaction(chunk)
                written += len(chunk)
        return written

    def between(
        self, tenant_id: str, since: datetime, until: datetime, limit: int = MAX_READ
    ) -> list[dict[str, Any]]:
        """Attempt documents that ended in [since, until], newest first (at most `limit`)."""
        tenant = tenant_key(tenant_id)
        found: list[dict[str, Any]] = []
        for month in months_back(until, since):
            for entity in self._query(
                "PartitionKey eq @pk and RowKey ge @newest and RowKey le @oldest",
                {
                    "pk": f"{tenant}{SEPARATOR}{month}",
                    "newest": inverted_time(until),
                    "oldest": inverted_time(since) + "~",
                },
            ):
                found.append(json.loads(entity["Document"]))
                if len(found) >= limit:
                    return found
        return found

    def purge_expired(self, tenant_id: str, now: datetime) -> int:
        """Delete attempts older than the retention period, month partition by month."""
        tenant = tenant_key(tenant_id)
        cutoff = now - timedelta(days=self.retention_days)
        oldest = cutoff - timedelta(days=31 * PURGE_LOOKBACK_MONTHS)
        deleted = 0
        for month in months_back(cutoff, oldest):
            query, values = "PartitionKey eq @pk", {"pk": f"{tenant}{SEPARATOR}{month}"}
            if month == month_of(cutoff):
                query += " and RowKey gt @older"
                values["older"] = inverted_time(cutoff) + "~"
            expired = [
                ("delete", {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"]})
                for e in self._query(query, values)
            ]
            for start in range(0, len(expired), TRANSACTION_LIMIT):
                self._table.submit_transaction(expired[start : start + TRANSACTION_LIMIT])
            deleted += len(expired)
        return deleted

    def _query(self, query: str, parameters: Mapping[str, Any]) -> Iterator[Any]:
        try:
            yield from self._table.query_entities(
                query, parameters=dict(parameters), results_per_page=1000
            )
        except ResourceNotFoundError:  # nothing recorded yet
            return


def _entity(tenant: str, document: Mapping[str, Any]) -> dict[str, Any]:
    at = parse_time(str(document["at"]))
    event_id = str(document["eventId"])
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_DOCUMENT:
        trimmed = dict(document)
        trimmed["failing"] = list(document.get("failing") or ())[:20]
        trimmed["predictions"] = list(document.get("predictions") or ())[:20]
        trimmed["failureDetails"] = truncate(str(document.get("failureDetails") or ""), 2_000)
        text = json.dumps(trimmed, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return {
        "PartitionKey": time_partition(tenant, at),
        "RowKey": f"{inverted_time(at)}{SEPARATOR}{digest(event_id, length=32)}",
        "EventId": event_id,
        "At": format_time(at),
        "Category": str(document.get("category") or ""),
        "Serial": str(document.get("serialNumber") or "")[:200],
        "Document": text,
    }
