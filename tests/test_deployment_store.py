"""`GreenscreenDeployments` on Azurite: per-tenant keys, idempotent writes, windows, retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from azure.data.tables import TableServiceClient

from monitors.store.deployment_store import DEPLOYMENTS_TABLE, DeploymentStore
from monitors.store.keys import format_time

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def attempt(event_id: str, at: datetime, category: str = "green") -> dict[str, object]:
    return {"eventId": event_id, "at": format_time(at), "category": category, "failing": []}


def test_attempts_are_kept_per_tenant_once_each_newest_first_and_purged_by_retention(
    table_service: TableServiceClient,
) -> None:
    store = DeploymentStore(table_service, retention_days=400)
    store.ensure_table()
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    old = attempt("old", NOW - timedelta(days=401))
    recent = attempt("recent", NOW - timedelta(days=2), "unexplained")
    newest = attempt("newest", NOW - timedelta(hours=1), "explained")
    assert store.record(tenant, [old, recent, newest, recent]) == 3  # one row per event
    store.record(tenant, [attempt("recent", NOW - timedelta(days=2), "explained")])  # updated
    store.record(other, [attempt("elsewhere", NOW - timedelta(hours=2))])

    window = store.between(tenant, NOW - timedelta(days=30), NOW)
    assert [(d["eventId"], d["category"]) for d in window] == [
        ("newest", "explained"),
        ("recent", "explained"),
    ]
    table = table_service.get_table_client(DEPLOYMENTS_TABLE)
    keys = [e["PartitionKey"] for e in table.query_entities("EventId eq 'recent'")]
    assert keys == [f"{tenant}|202611"]  # one row, under the tenant and the month

    assert store.purge_expired(tenant, NOW) == 1
    assert [d["eventId"] for d in store.between(tenant, NOW - timedelta(days=800), NOW)] == [
        "newest",
        "recent",
    ]
    assert [d["eventId"] for d in store.between(other, NOW - timedelta(days=30), NOW)] == [
        "elsewhere"
    ]


def test_a_tenant_with_no_table_yet_has_no_attempts(table_service: TableServiceClient) -> None:
    store = DeploymentStore(table_service)
    assert store.between(str(uuid.uuid4()), NOW - timedelta(days=30), NOW) == []
