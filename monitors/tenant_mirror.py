"""The tenant mirror: the last-read Graph objects of each tenant, in Table Storage.

A change costs a re-read of the objects it touched, not of the tenant, and a cold instance
loads the mirror instead of reading Graph (docs/storage.md, `GreenscreenTenantMirror`).

- `tenant|collection` partitions, one entity per object (row key: the object id through
  `key_part`), the object's JSON split over `Data0..DataN` string properties of at most 32,000
  characters (Table Storage's limit is 32 K UTF-16 characters; JSON is written ASCII-only so a
  character is a byte).
- `tenant` partition, row `!meta`: which collections the last full read could read, its errors
  and time. A collection not listed is loaded as absent (unknown is never green).

Writes are idempotent upserts and deletes; two writers updating different objects of one
tenant never conflict. Callers write first, then take their snapshot time, then load: of two
concurrent changes, the later loader sees both (`monitors.change_processing`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from monitors.snapshot_file import SNAPSHOT_FORMAT
from monitors.store.keys import MIRROR_TABLE, SEPARATOR, format_time, key_part, tenant_key
from rules import tenant_collections as tc

META_ROW_KEY: Final = "!meta"
CHUNK_CHARS: Final = 32_000
MAX_CHUNKS: Final = 30  # ~960 K characters: under the 1 MiB entity limit with the keys
TRANSACTION_LIMIT: Final = 100
TRANSACTION_CHARS: Final = 3_000_000  # a transaction's payload must stay under 4 MiB


class MirrorError(RuntimeError):
    """An object too large to mirror, or a mirror that cannot be read back."""


@dataclass(frozen=True, slots=True)
class MirrorMeta:
    captured_at: str
    collections: tuple[str, ...]
    errors: Mapping[str, Any]


class TenantMirror:
    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._table_client: TableClient | None = None

    @property
    def _table(self) -> TableClient:
        if self._table_client is None:
            self._table_client = self._service.get_table_client(MIRROR_TABLE)
        return self._table_client

    def ensure_table(self) -> None:
        self._service.create_table_if_not_exists(MIRROR_TABLE)

    # -- reading ----------------------------------------------------------------------------

    def meta(self, tenant_id: str) -> MirrorMeta | None:
        try:
            entity = self._table.get_entity(tenant_key(tenant_id), META_ROW_KEY)
        except ResourceNotFoundError:
            return None
        return MirrorMeta(
            captured_at=str(entity["CapturedAt"]),
            collections=tuple(json.loads(entity["Collections"])),
            errors=dict(json.loads(entity["Errors"])),
        )

    def load(self, tenant_id: str, captured_at: datetime | None = None) -> dict[str, Any] | None:
        """The mirrored tenant as a snapshot document, or None if it was never fully read.

        `captured_at` replaces the time of the last full read: after an incremental refresh the
        snapshot is as fresh as the moment the refreshed objects were written.
        """
        meta = self.meta(tenant_id)
        if meta is None:
            return None
        collections = {
            path: self.objects(tenant_id, path)
            for path in tc.ALL_COLLECTIONS
            if path in meta.collections
        }
        at = format_time(captured_at) if captured_at is not None else meta.captured_at
        return {
            "format": SNAPSHOT_FORMAT,
            "tenantId": tenant_id,
            "capturedAt": at,
            "collections": collections,
            "errors": dict(meta.errors),
        }

    def objects(self, tenant_id: str, collection: str) -> list[dict[str, Any]]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _partition(tenant_id, collection)}
        )
        return [_object_of(entity) for entity in entities]

    def get_object(self, tenant_id: str, collection: str, object_id: str) -> dict[str, Any] | None:
        try:
            entity = self._table.get_entity(_partition(tenant_id, collection), key_part(object_id))
        except ResourceNotFoundError:
            return None
        return _object_of(entity)

    # -- writing ----------------------------------------------------------------------------

    def save_snapshot(self, tenant_id: str, document: Mapping[str, Any]) -> int:
        """Replace the mirror with a full read (objects first, then the meta row)."""
        collections: Mapping[str, list[dict[str, Any]]] = document.get("collections") or {}
        written = 0
        for path in tc.ALL_COLLECTIONS:
            if path in collections:
                written += self.replace_collection(tenant_id, path, collections[path])
        meta = {
            "PartitionKey": tenant_key(tenant_id),
            "RowKey": META_ROW_KEY,
            "CapturedAt": str(document["capturedAt"]),
            "Collections": json.dumps([p for p in tc.ALL_COLLECTIONS if p in collections]),
            "Errors": json.dumps(document.get("errors") or {})[:CHUNK_CHARS],
            "UpdatedAt": format_time(datetime.now(UTC)),
        }
        self._table.upsert_entity(meta, mode=UpdateMode.REPLACE)
        return written + 1

    def replace_collection(
        self, tenant_id: str, collection: str, objects: Sequence[Mapping[str, Any]]
    ) -> int:
        partition = _partition(tenant_id, collection)
        existing = {
            str(entity["RowKey"])
            for entity in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition}, select=["RowKey"]
            )
        }
        entities = [_entity(partition, obj) for obj in objects]
        kept = {str(entity["RowKey"]) for entity in entities}
        operations: list[tuple[Any, ...]] = [
            ("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities
        ]
        operations += [
            ("delete", {"PartitionKey": partition, "RowKey": row_key})
            for row_key in sorted(existing - kept)
        ]
        self._submit(operations)
        return len(operations)

    def put_objects(
        self, tenant_id: str, collection: str, objects: Iterable[Mapping[str, Any]]
    ) -> int:
        partition = _partition(tenant_id, collection)
        operations: list[tuple[Any, ...]] = [
            ("upsert", _entity(partition, obj), {"mode": UpdateMode.REPLACE}) for obj in objects
        ]
        self._submit(operations)
        return len(operations)

    def remove_objects(self, tenant_id: str, collection: str, object_ids: Iterable[str]) -> int:
        removed = 0
        for object_id in object_ids:
            try:
                self._table.delete_entity(_partition(tenant_id, collection), key_part(object_id))
            except ResourceNotFoundError:
                continue
            removed += 1
        return removed

    def _submit(self, operations: list[tuple[Any, ...]]) -> None:
        chunk: list[tuple[Any, ...]] = []
        size = 0
        for operation in operations:
            weight = sum(len(str(v)) for v in operation[1].values())
            if chunk and (len(chunk) == TRANSACTION_LIMIT or size + weight > TRANSACTION_CHARS):
                self._table.submit_transaction(chunk)
                chunk, size = [], 0
            chunk.append(operation)
            size += weight
        if chunk:
            self._table.submit_transaction(chunk)


def _partition(tenant_id: str, collection: str) -> str:
    return f"{tenant_key(tenant_id)}{SEPARATOR}{key_part(collection)}"


def _entity(partition: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        raise MirrorError("an object without an id cannot be mirrored")
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    parts = [text[start : start + CHUNK_CHARS] for start in range(0, len(text), CHUNK_CHARS)]
    if len(parts) > MAX_CHUNKS:
        raise MirrorError(f"object {object_id} is {len(text)} characters: too large to mirror")
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": key_part(object_id),
        "Parts": len(parts),
    }
    entity.update({f"Data{index}": part for index, part in enumerate(parts)})
    return entity


def _object_of(entity: Mapping[str, Any]) -> dict[str, Any]:
    try:
        text = "".join(str(entity[f"Data{index}"]) for index in range(int(entity["Parts"])))
        document = json.loads(text)
    except (KeyError, ValueError) as error:
        raise MirrorError(f"mirror entity {entity.get('RowKey')} is damaged: {error}") from None
    if not isinstance(document, dict):
        raise MirrorError(f"mirror entity {entity.get('RowKey')} is not an object")
    return document
