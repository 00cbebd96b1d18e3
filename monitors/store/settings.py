"""Building the verdict store from settings, and recording a `greenscreen check` run.

The one place that reads the storage settings:

- `GREENSCREEN_STORAGE_CONNECTION`: a storage connection string (Azurite locally);
- `GREENSCREEN_STORAGE_TABLE_URL`: a table endpoint reached with the managed identity
  (`DefaultAzureCredential`), for deployments without keys; used when no connection string is set;
- `GREENSCREEN_RETENTION_DAYS`: how long history is kept (default 400).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitors.store.records import RecordResult, RunInfo
from monitors.store.verdict_store import DEFAULT_RETENTION_DAYS, VerdictStore
from rules.engine import Evaluation

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

CONNECTION_SETTING = "GREENSCREEN_STORAGE_CONNECTION"
TABLE_URL_SETTING = "GREENSCREEN_STORAGE_TABLE_URL"
RETENTION_SETTING = "GREENSCREEN_RETENTION_DAYS"
# Azurite on its default ports: what a developer's `greenscreen check --store` talks to.
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


class StoreSettingsError(ValueError):
    """The storage settings are missing or malformed (one line, names the setting)."""


def table_service_from_settings(
    environ: Mapping[str, str] | None = None,
    *,
    default_connection: str | None = DEVELOPMENT_STORAGE,
) -> TableServiceClient:
    """The Table Storage client every store of the app uses: connection string, else the
    managed identity on `GREENSCREEN_STORAGE_TABLE_URL`, else the default (Azurite)."""
    from azure.data.tables import TableServiceClient

    settings = os.environ if environ is None else environ
    connection = settings.get(CONNECTION_SETTING) or None
    table_url = settings.get(TABLE_URL_SETTING) or None
    if connection is not None:
        service = TableServiceClient.from_connection_string(connection)
    elif table_url is not None:
        from azure.identity import DefaultAzureCredential

        service = TableServiceClient(endpoint=table_url, credential=DefaultAzureCredential())
    elif default_connection is not None:
        service = TableServiceClient.from_connection_string(default_connection)
    else:
        raise StoreSettingsError(f"set {CONNECTION_SETTING} or {TABLE_URL_SETTING}")
    return service


def store_from_settings(
    environ: Mapping[str, str] | None = None,
    *,
    default_connection: str | None = DEVELOPMENT_STORAGE,
    create_tables: bool = True,
) -> VerdictStore:
    settings = os.environ if environ is None else environ
    retention = _retention_days(settings.get(RETENTION_SETTING))
    service = table_service_from_settings(settings, default_connection=default_connection)
    store = VerdictStore(service, retention_days=retention)
    if create_tables:
        store.ensure_tables()
    return store


def _retention_days(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_RETENTION_DAYS
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 36_500:
        raise StoreSettingsError(f"{RETENTION_SETTING} must be a number of days (1-36500)")
    return int(value)


def record_check(
    evaluation: Evaluation, snapshot_meta: Mapping[str, Any], store: VerdictStore
) -> RecordResult:
    """Record a `greenscreen check` evaluation.

    `snapshot_meta` keys, all optional: `trigger` (default "cli"), `startedAt` (datetime),
    `durationMs`, `graphRequests`, `causeEventIds`.
    """
    started = snapshot_meta.get("startedAt")
    run = RunInfo(
        run_id=str(uuid.uuid4()),
        trigger=str(snapshot_meta.get("trigger", "cli")),
        started_at=started if isinstance(started, datetime) else datetime.now(UTC),
        duration_ms=int(snapshot_meta.get("durationMs", 0)),
        graph_requests=int(snapshot_meta.get("graphRequests", 0)),
    )
    causes = tuple(str(cause) for cause in snapshot_meta.get("causeEventIds", ()))
    return store.record_evaluation(evaluation.tenant_id, evaluation, run, causes)
