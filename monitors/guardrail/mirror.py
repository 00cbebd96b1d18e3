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
concurrent changes, the later loader sees both (`monitors.guardrail.change_processing`).

**Versioned, cached per instance.** Every write is published after its objects: one table
transaction in the `tenant` partition bumps the tenant's mirror version (`!version`, under
If-Match of its ETag, so concurrent writers get consecutive versions) and inserts a log row
`!log|<version>` naming what it wrote (collection and object ids; no ids: the whole
collection). `load` keeps the tenant in memory with the version it holds: it reads the version
(one point read); if it moved, it reads the log rows after its own version and re-reads only
the objects they name (one point read each), or whole collections for a collection-wide entry.
A version older than the oldest log row kept (`LOG_KEPT`), or no cache, loads everything.
Reading the version before the objects means an object is never older than the version the
cache claims; a later log row re-reads it at worst. A writer dying between its objects and its
publication leaves those objects unseen by other instances' caches until the change is
retried (its message is redelivered) or the next full read.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import (
    TableClient,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)

from monitors.snapshot_file import SNAPSHOT_FORMAT
from monitors.store.keys import MIRROR_TABLE, SEPARATOR, format_time, key_part, tenant_key
from rules import tenant_collections as tc

META_ROW_KEY: Final = "!meta"
VERSION_ROW_KEY: Final = "!version"
LOG_PREFIX: Final = "!log|"
LOG_KEPT: Final = 1_000  # log rows kept; a cache further behind loads the whole tenant
MAX_LOGGED_IDS: Final = 500  # more objects in one write: logged as the whole collection
PUBLISH_ATTEMPTS: Final = 30
CACHED_TENANTS: Final = 4
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


@dataclass
class _Cached:
    """One tenant as this instance last loaded it: objects per collection by row key."""

    version: int
    collections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoadStats:
    """How the last `load` got the tenant (for benchmarks and tests)."""

    mode: str  # "full", "cached" or "patched"
    entities_read: int


class TenantMirror:
    def __init__(
        self, service: TableServiceClient, *, cached_tenants: int = CACHED_TENANTS
    ) -> None:
        self._service = service
        self._table_client: TableClient | None = None
        self._cached_tenants = cached_tenants
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.last_load = LoadStats("none", 0)

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
        loaded = self.load_versioned(tenant_id, captured_at)
        return None if loaded is None else loaded[0]

    def load_versioned(
        self, tenant_id: str, captured_at: datetime | None = None
    ) -> tuple[dict[str, Any], int] | None:
        """`load`, with the mirror version the objects are as of (0: a mirror never published).

        The objects are this instance's cached ones: unchanged objects are the same dicts from
        one load to the next, a changed one is a new dict (`SnapshotModels` relies on both)."""
        meta = self.meta(tenant_id)
        if meta is None:
            return None
        wanted = [path for path in tc.ALL_COLLECTIONS if path in meta.collections]
        with self._lock:
            cached = self._current(tenant_id, wanted)
            # Objects are shared with the cache: callers read them, never change them.
            collections = {
                path: [objects[key] for key in sorted(objects)]
                for path, objects in cached.collections.items()
                if path in meta.collections
            }
            version = cached.version
        at = format_time(captured_at) if captured_at is not None else meta.captured_at
        document = {
            "format": SNAPSHOT_FORMAT,
            "tenantId": tenant_id,
            "capturedAt": at,
            "collections": collections,
            "errors": dict(meta.errors),
        }
        return document, version

    def _current(self, tenant_id: str, wanted: Sequence[str]) -> _Cached:
        """The tenant's objects as of its current version: from the cache, patched, or read."""
        key = tenant_key(tenant_id)
        version = self._version(tenant_id)
        cached = self._cache.get(key)
        reads = 1
        if cached is not None and version and cached.version <= version:
            if cached.version < version:
                patched = self._patch(tenant_id, cached, version, wanted)
                if patched is not None:
                    self._cache.move_to_end(key)
                    self.last_load = LoadStats("patched", reads + patched)
                    return cached
            else:
                if any(path not in cached.collections for path in wanted):
                    for path in wanted:
                        if path not in cached.collections:
                            cached.collections[path] = self._by_key(tenant_id, path)
                            reads += len(cached.collections[path])
                    self.last_load = LoadStats("patched", reads)
                else:
                    self.last_load = LoadStats("cached", reads)
                self._cache.move_to_end(key)
                return cached
        fresh = _Cached(version)
        for path in wanted:
            fresh.collections[path] = self._by_key(tenant_id, path)
            reads += len(fresh.collections[path])
        self.last_load = LoadStats("full", reads)
        if version:  # never published (a mirror from before versions): nothing to check against
            self._cache[key] = fresh
            self._cache.move_to_end(key)
            while len(self._cache) > self._cached_tenants:
                self._cache.popitem(last=False)
        return fresh

    def _patch(
        self, tenant_id: str, cached: _Cached, version: int, wanted: Sequence[str]
    ) -> int | None:
        """Apply the log rows after the cached version; None when some are gone (trimmed)."""
        entries = list(
            self._table.query_entities(
                "PartitionKey eq @pk and RowKey gt @low and RowKey le @high",
                parameters={
                    "pk": tenant_key(tenant_id),
                    "low": _log_row_key(cached.version),
                    "high": _log_row_key(version),
                },
            )
        )
        if len(entries) != version - cached.version:
            return None
        whole: set[str] = set()
        objects: dict[str, set[str]] = {}
        for entry in entries:
            for collection, ids in json.loads(str(entry["Entries"])):
                if ids is None:
                    whole.add(collection)
                else:
                    objects.setdefault(collection, set()).update(ids)
        reads = len(entries)
        for path in set(wanted) | whole:
            if path in whole or path not in cached.collections:
                if path in wanted:
                    cached.collections[path] = self._by_key(tenant_id, path)
                    reads += len(cached.collections[path])
                else:
                    cached.collections.pop(path, None)
        for collection, ids in objects.items():
            held = cached.collections.get(collection)
            if held is None or collection in whole:
                continue
            for object_id in sorted(ids):
                row_key = key_part(object_id)
                obj = self.get_object(tenant_id, collection, object_id)
                reads += 1
                if obj is None:
                    held.pop(row_key, None)
                else:
                    held[row_key] = obj
        cached.version = version
        return reads

    def _by_key(self, tenant_id: str, collection: str) -> dict[str, dict[str, Any]]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _partition(tenant_id, collection)}
        )
        return {str(entity["RowKey"]): _object_of(entity) for entity in entities}

    def _version(self, tenant_id: str) -> int:
        try:
            entity = self._table.get_entity(tenant_key(tenant_id), VERSION_ROW_KEY)
        except ResourceNotFoundError:
            return 0
        return int(entity.get("Version", 0))

    def version(self, tenant_id: str) -> int:
        """The tenant's mirror version: it moves with every published write (0: never)."""
        return self._version(tenant_id)

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
        self._publish(tenant_id, [(path, None) for path in tc.ALL_COLLECTIONS])
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
        self._publish(tenant_id, [(collection, None)])
        return len(operations)

    def put_objects(
        self, tenant_id: str, collection: str, objects: Iterable[Mapping[str, Any]]
    ) -> int:
        partition = _partition(tenant_id, collection)
        written = list(objects)
        operations: list[tuple[Any, ...]] = [
            ("upsert", _entity(partition, obj), {"mode": UpdateMode.REPLACE}) for obj in written
        ]
        self._submit(operations)
        ids = [str(obj["id"]) for obj in written]
        if ids:
            self._publish(tenant_id, [(collection, ids)])
        return len(operations)

    def remove_objects(self, tenant_id: str, collection: str, object_ids: Iterable[str]) -> int:
        removed = 0
        ids = list(object_ids)
        for object_id in ids:
            try:
                self._table.delete_entity(_partition(tenant_id, collection), key_part(object_id))
            except ResourceNotFoundError:
                continue
            removed += 1
        if ids:
            self._publish(tenant_id, [(collection, ids)])
        return removed

    def _publish(self, tenant_id: str, entries: list[tuple[str, list[str] | None]]) -> int:
        """Bump the tenant's version and log what was written, in one transaction."""
        logged = [
            (collection, None if ids is None or len(ids) > MAX_LOGGED_IDS else sorted(set(ids)))
            for collection, ids in entries
        ]
        text = json.dumps(logged, ensure_ascii=True, separators=(",", ":"))
        if len(text) > CHUNK_CHARS:
            text = json.dumps([(collection, None) for collection, _ in entries])
        tenant = tenant_key(tenant_id)
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                head = self._table.get_entity(tenant, VERSION_ROW_KEY)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    self._table.create_entity(
                        {"PartitionKey": tenant, "RowKey": VERSION_ROW_KEY, "Version": 0}
                    )
                continue
            version = int(head.get("Version", 0)) + 1
            bump = {"PartitionKey": tenant, "RowKey": VERSION_ROW_KEY, "Version": version}
            log_row = {
                "PartitionKey": tenant,
                "RowKey": _log_row_key(version),
                "Entries": text,
                "At": format_time(datetime.now(UTC)),
            }
            try:
                self._table.submit_transaction(
                    [
                        (
                            "update",
                            bump,
                            {
                                "mode": UpdateMode.MERGE,
                                "etag": head.metadata["etag"],
                                "match_condition": MatchConditions.IfNotModified,
                            },
                        ),
                        ("create", log_row),
                    ]
                )
            except (TableTransactionError, ResourceModifiedError, ResourceExistsError) as error:
                if isinstance(error, HttpResponseError) and error.status_code not in (409, 412):
                    raise
                time.sleep(random.uniform(0.005, 0.03) * min(attempt, 8))
                continue  # another writer published first: take the next version
            if version > LOG_KEPT:
                with contextlib.suppress(ResourceNotFoundError):
                    self._table.delete_entity(tenant, _log_row_key(version - LOG_KEPT))
            return version
        raise MirrorError(f"could not publish a mirror write after {PUBLISH_ATTEMPTS} attempts")

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


def _log_row_key(version: int) -> str:
    return f"{LOG_PREFIX}{version:012d}"


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
