"""The tenant mirror: the last-read Graph objects of each tenant, in Table Storage.

A change costs a re-read of the objects it touched, not of the tenant, and a cold instance
loads the mirror instead of reading Graph (docs/storage.md, `GreenscreenTenantMirror`).

- `tenant|collection` partitions. The objects are *packed*: a bucket entity `!b|<prefix>`
  holds every object of the collection whose id hashes (SHA-256, hex) to `prefix`, as one
  JSON list, zlib-compressed, split over binary `Data0..N` properties; all buckets of a
  collection use one prefix length (0-4 hex characters), chosen from the collection's size so
  that a bucket holds ~256 K characters of JSON at most on average. The row `!layout` records
  the layout (`Layout` 2 and `Length`) and is the collection's write fence: every write
  updates it under If-Match of the ETag it read, in the same transaction as its buckets, so
  writers of one collection are serialized and a writer that read a stale layout or bucket
  gets 412 and starts again. A collection without a packed `!layout` is in the first layout,
  one entity per object (row key: the object id through `key_part`, JSON over `Data0..DataN`
  of at most 32,000 characters): it is still read and written as it is, and the next full
  write of the collection moves it into buckets (written first, the layout flipped in the
  last bucket transaction, the old rows deleted after it: cut anywhere, readers see one
  complete layout).
- `tenant` partition, row `!meta`: which collections the last full read could read, its errors
  and time. A collection not listed is loaded as absent (unknown is never green).

Callers write first, then take their snapshot time, then load: of two concurrent changes, the
later loader sees both (`monitors.guardrail.change_processing`).

**Versioned, cached per instance.** Every write is published after its objects: one table
transaction in the `tenant` partition bumps the tenant's mirror version (`!version`, under
If-Match of its ETag, so concurrent writers get consecutive versions) and inserts a log row
`!log|<version>` naming what it wrote (per collection: the buckets rewritten, object ids for
the first layout, or the whole collection). `load` keeps the tenant in memory with the version
it holds: it reads the version (one point read); if it moved, it reads the log rows after its
own version and re-reads only the buckets (or objects) they name, one point read each, or
whole collections for a collection-wide entry (a changed layout). Objects that did not change
keep their identity in the copy. A version older than the oldest log row kept (`LOG_KEPT`),
or no cache, loads everything. Reading the version before the objects means an object is
never older than the version the cache claims; a later log row re-reads it at worst. A writer
dying between its objects and its publication leaves those objects unseen by other instances'
caches until the change is retried (its message is redelivered) or the next full read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from monitors.store.buckets import joined_bytes, split_columns
from monitors.store.keys import (
    MIRROR_TABLE,
    SEPARATOR,
    digest,
    format_time,
    key_part,
    tenant_key,
)
from monitors.store.transactions import TRANSACTION_LIMIT, transaction_chunks
from rules import tenant_collections as tc

META_ROW_KEY: Final = "!meta"
VERSION_ROW_KEY: Final = "!version"
LOG_PREFIX: Final = "!log|"
LOG_KEPT: Final = 1_000  # log rows kept; a cache further behind loads the whole tenant
MAX_LOGGED_IDS: Final = 500  # more objects in one write: logged as the whole collection
PUBLISH_ATTEMPTS: Final = 30
WRITE_ATTEMPTS: Final = 30  # a collection's writes lost to concurrent writers before giving up
CACHED_TENANTS: Final = 4
CHUNK_CHARS: Final = 32_000
MAX_CHUNKS: Final = 30  # ~960 K characters: the largest object mirrored
TRANSACTION_BYTES: Final = 2_500_000  # a transaction's payload must stay under 4 MiB

# The packed layout (docs/storage.md, "Tenant mirror").
LAYOUT_ROW_KEY: Final = "!layout"
BUCKET_PREFIX: Final = "!b|"
PACKED: Final = 2  # `Layout` of a collection whose objects are in buckets
UNPACKED: Final = 1  # `Layout` of a collection still in the first layout (one row per object)
ROWS: Final = -1  # the first layout's "length" in log entries
BUCKET_CHARS: Final = 262_144  # a fresh layout averages at most this much JSON per bucket
MAX_PREFIX: Final = 4  # 65,536 buckets
BUCKET_PART_BYTES: Final = 60_000  # per binary property (Table Storage: 64 KiB)
MAX_BUCKET_BYTES: Final = 900_000  # compressed, per bucket (Table Storage: 1 MiB per entity)
COMPRESSION_LEVEL: Final = 6


class MirrorError(RuntimeError):
    """An object too large to mirror, or a mirror that cannot be read back."""


class _Conflict(Exception):
    """Another writer changed the collection since its layout row was read."""


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
    # Per collection: its bucket prefix length (None: the first layout, one row per object)
    # and, when packed, the row keys of the objects each bucket holds.
    lengths: dict[str, int | None] = field(default_factory=dict)
    index: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def take(self, path: str, read: _Collection) -> None:
        """Hold a collection read whole, keeping the identity of the objects that did not change."""
        held = self.collections.get(path)
        objects = read.objects
        if held:
            objects = {key: _same_or(held.get(key), obj) for key, obj in objects.items()}
        self.collections[path] = objects
        self.lengths[path] = read.length
        self.index[path] = read.index

    def forget(self, path: str) -> None:
        self.collections.pop(path, None)
        self.lengths.pop(path, None)
        self.index.pop(path, None)


@dataclass(frozen=True, slots=True)
class _Collection:
    """A collection as stored: its layout, objects by row key, bucket index, entities read."""

    length: int | None
    objects: dict[str, dict[str, Any]]
    index: dict[str, set[str]]
    entities: int


@dataclass(frozen=True, slots=True)
class _Layout:
    """A collection's `!layout` row: its bucket prefix length (None: unpacked) and ETag."""

    length: int | None
    etag: str | None  # None: no layout row yet


@dataclass
class _Patch:
    """What the log rows after a cached version say about one collection."""

    lengths: set[int | str] = field(default_factory=set)  # "?" for entries before packing
    ids: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)


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
                            reads += self._reload(tenant_id, cached, path)
                    self.last_load = LoadStats("patched", reads)
                else:
                    self.last_load = LoadStats("cached", reads)
                self._cache.move_to_end(key)
                return cached
        fresh = _Cached(version)
        for path in wanted:
            reads += self._reload(tenant_id, fresh, path)
        self.last_load = LoadStats("full", reads)
        if version:  # never published (a mirror from before versions): nothing to check against
            self._cache[key] = fresh
            self._cache.move_to_end(key)
            while len(self._cache) > self._cached_tenants:
                self._cache.popitem(last=False)
        return fresh

    def _reload(self, tenant_id: str, cached: _Cached, path: str) -> int:
        read = self._read_collection(tenant_id, path)
        cached.take(path, read)
        return read.entities

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
        patches: dict[str, _Patch] = {}
        for entry in entries:
            for item in json.loads(str(entry["Entries"])):
                collection, ids = str(item[0]), item[1]
                if ids is None and len(item) < 4:
                    whole.add(collection)
                    continue
                patch = patches.setdefault(collection, _Patch())
                patch.lengths.add(int(item[2]) if len(item) > 2 else "?")
                patch.ids.update(str(i) for i in ids or ())
                patch.prefixes.update(str(p) for p in (item[3] if len(item) > 3 else ()))
        reads = len(entries)
        for path in sorted(set(wanted) | whole | set(patches)):
            if path not in wanted:
                cached.forget(path)
                continue
            if path in whole or path not in cached.collections:
                reads += self._reload(tenant_id, cached, path)
                continue
            if path not in patches:
                continue
            applied = self._apply_patch(tenant_id, cached, path, patches[path])
            if applied is None:  # the layout moved under the copy: read the collection again
                reads += self._reload(tenant_id, cached, path)
            else:
                reads += applied
        cached.version = version
        return reads

    def _apply_patch(self, tenant_id: str, cached: _Cached, path: str, patch: _Patch) -> int | None:
        """Re-read the buckets (or rows) a collection's log entries name; None: reload it."""
        partition = _partition(tenant_id, path)
        reads = 0
        lengths = set(patch.lengths)
        if "?" in lengths or len(lengths) != 1:  # written before packing, or mixed: ask
            layout = self._layout(partition)
            reads += 1
            lengths.discard("?")
            if lengths - {_marker(layout.length)}:
                return None
            length = layout.length
        else:
            marker = lengths.pop()
            length = None if marker == ROWS else int(marker)
        if length != cached.lengths.get(path):
            return None
        held = cached.collections[path]
        if length is None:
            for object_id in sorted(patch.ids):
                row_key = key_part(object_id)
                try:
                    entity = self._table.get_entity(partition, row_key)
                except ResourceNotFoundError:
                    reads += 2
                    if self._layout(partition).length is not None:
                        return None  # moved into buckets since: the row is gone, not the object
                    held.pop(row_key, None)
                    continue
                reads += 1
                held[row_key] = _same_or(held.get(row_key), _object_of(entity))
            return reads
        index = cached.index.setdefault(path, {})
        prefixes = set(patch.prefixes) | {_prefix(object_id, length) for object_id in patch.ids}
        for prefix in sorted(prefixes):
            content = self._bucket(partition, prefix)
            reads += 1
            if content is None:
                reads += 1
                if self._layout(partition).length != length:
                    return None  # a new layout since the version read: the bucket moved
                content = {}
            for row_key in index.pop(prefix, set()) - content.keys():
                held.pop(row_key, None)
            for row_key, obj in content.items():
                held[row_key] = _same_or(held.get(row_key), obj)
            if content:
                index[prefix] = set(content)
        return reads

    def _read_collection(self, tenant_id: str, collection: str) -> _Collection:
        """Every object of a collection, from whichever layout its `!layout` row names."""
        layout: Mapping[str, Any] | None = None
        rows: list[Mapping[str, Any]] = []
        bucket_entities: list[Mapping[str, Any]] = []
        entities = 0
        for entity in self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _partition(tenant_id, collection)}
        ):
            entities += 1
            row_key = str(entity["RowKey"])
            if row_key == LAYOUT_ROW_KEY:
                layout = entity
            elif row_key.startswith(BUCKET_PREFIX):
                bucket_entities.append(entity)
            elif not row_key.startswith("!"):
                rows.append(entity)
        length = _packed_length(layout)
        if length is None:
            unpacked = {str(row["RowKey"]): _object_of(row) for row in rows}
            return _Collection(None, unpacked, {}, entities)
        packed: dict[str, dict[str, Any]] = {}
        index: dict[str, set[str]] = {}
        for bucket in bucket_entities:
            prefix = str(bucket["RowKey"])[len(BUCKET_PREFIX) :]
            if len(prefix) != length:
                continue  # left by a layout change that was cut: the flip never happened
            content = _bucket_objects(bucket)
            packed.update(content)
            index[prefix] = set(content)
        return _Collection(length, packed, index, entities)

    def _layout(self, partition: str) -> _Layout:
        try:
            entity = self._table.get_entity(partition, LAYOUT_ROW_KEY)
        except ResourceNotFoundError:
            return _Layout(None, None)
        return _Layout(_packed_length(entity), str(entity.metadata["etag"]))

    def _bucket(self, partition: str, prefix: str) -> dict[str, dict[str, Any]] | None:
        try:
            entity = self._table.get_entity(partition, BUCKET_PREFIX + prefix)
        except ResourceNotFoundError:
            return None
        return _bucket_objects(entity)

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
        objects = self._read_collection(tenant_id, collection).objects
        return [objects[key] for key in sorted(objects)]

    def get_object(self, tenant_id: str, collection: str, object_id: str) -> dict[str, Any] | None:
        partition = _partition(tenant_id, collection)
        length = self._layout(partition).length
        if length is not None:
            content = self._bucket(partition, _prefix(object_id, length))
            return None if content is None else content.get(key_part(object_id))
        try:
            entity = self._table.get_entity(partition, key_part(object_id))
        except ResourceNotFoundError:
            return None
        return _object_of(entity)

    # -- writing ----------------------------------------------------------------------------

    def save_snapshot(self, tenant_id: str, document: Mapping[str, Any]) -> int:
        """Replace the mirror with a full read (objects first, then the meta row)."""
        collections: Mapping[str, list[dict[str, Any]]] = document.get("collections") or {}
        written = 0
        entries: list[list[Any]] = []
        for path in tc.ALL_COLLECTIONS:
            if path in collections:
                count, entry = self._replace(tenant_id, path, collections[path])
                written += count
                entries.append(entry)
            else:
                entries.append([path, None])
        meta = {
            "PartitionKey": tenant_key(tenant_id),
            "RowKey": META_ROW_KEY,
            "CapturedAt": str(document["capturedAt"]),
            "Collections": json.dumps([p for p in tc.ALL_COLLECTIONS if p in collections]),
            "Errors": json.dumps(document.get("errors") or {})[:CHUNK_CHARS],
            "UpdatedAt": format_time(datetime.now(UTC)),
        }
        self._table.upsert_entity(meta, mode=UpdateMode.REPLACE)
        self._publish(tenant_id, entries)
        return written + 1

    def replace_collection(
        self, tenant_id: str, collection: str, objects: Sequence[Mapping[str, Any]]
    ) -> int:
        """Make the collection exactly `objects` (packing it if it was not); entities written."""
        count, entry = self._replace(tenant_id, collection, objects)
        self._publish(tenant_id, [entry])
        return count

    def put_objects(
        self, tenant_id: str, collection: str, objects: Iterable[Mapping[str, Any]]
    ) -> int:
        written = list(objects)
        texts = {_object_key(obj): (str(obj["id"]), _object_text(obj)) for obj in written}
        if not texts:
            return 0
        count, entry = self._change(tenant_id, collection, texts, {})
        self._publish(tenant_id, [entry])
        return count

    def remove_objects(self, tenant_id: str, collection: str, object_ids: Iterable[str]) -> int:
        """Delete objects by id; the number of them the mirror held."""
        ids = list(object_ids)
        if not ids:
            return 0
        removed, entry = self._change(
            tenant_id, collection, {}, {key_part(object_id): object_id for object_id in ids}
        )
        self._publish(tenant_id, [entry])
        return removed

    def _replace(
        self, tenant_id: str, collection: str, objects: Sequence[Mapping[str, Any]]
    ) -> tuple[int, list[Any]]:
        partition = _partition(tenant_id, collection)
        texts = {_object_key(obj): (str(obj["id"]), _object_text(obj)) for obj in objects}

        def attempt(layout: _Layout) -> tuple[int, list[Any]]:
            existing = {
                str(entity["RowKey"]): str(entity.get("Digest") or "")
                for entity in self._table.query_entities(
                    "PartitionKey eq @pk",
                    parameters={"pk": partition},
                    select=["RowKey", "Digest"],
                )
            }
            existing.pop(LAYOUT_ROW_KEY, None)
            return self._write_packed(partition, layout, texts, existing, 0)

        return self._fenced_retry(partition, collection, attempt)

    def _fenced_retry(
        self,
        partition: str,
        collection: str,
        attempt: Callable[[_Layout], tuple[int, list[Any]]],
    ) -> tuple[int, list[Any]]:
        """Run `attempt` with the partition's current layout until no other writer races it."""
        for number in range(1, WRITE_ATTEMPTS + 1):
            try:
                return attempt(self._layout(partition))
            except _Conflict:
                _back_off(number)
        raise MirrorError(f"could not write {collection} after {WRITE_ATTEMPTS} attempts")

    def _write_packed(
        self,
        partition: str,
        layout: _Layout,
        texts: Mapping[str, tuple[str, str]],
        existing: Mapping[str, str],
        minimum: int,
    ) -> tuple[int, list[Any]]:
        """Write `texts` as the whole collection, in buckets, under the layout row's fence.

        Buckets whose content is unchanged (same digest) are not rewritten. A new layout (first
        packing, another length) is flipped in the last bucket transaction; entities of another
        layout and emptied buckets are deleted after it. The log entry names the buckets
        rewritten or deleted, or the whole collection when the layout changed.
        """
        collection = _collection_of(partition)
        total = sum(len(text) for _, text in texts.values())
        length = max(minimum, _choose_length(total, layout.length))
        while True:
            packed = _pack(texts, length)
            entities = {
                prefix: _bucket_entity(partition, prefix, items) for prefix, items in packed
            }
            if all(_size(e) <= MAX_BUCKET_BYTES for e in entities.values()):
                break
            if length == MAX_PREFIX:
                raise MirrorError(f"{collection} is too large to mirror")
            length += 1
        writes = [
            ("upsert", entity, {"mode": UpdateMode.REPLACE})
            for prefix, entity in entities.items()
            if existing.get(BUCKET_PREFIX + prefix) != entity["Digest"]
        ]
        kept = {BUCKET_PREFIX + prefix for prefix in entities}
        stale = sorted(row_key for row_key in existing if row_key not in kept)
        after = [("delete", {"PartitionKey": partition, "RowKey": key}) for key in stale]
        flip = layout.length != length
        self._fenced(partition, layout, writes, after, length if flip else None)
        if flip:
            return len(writes) + len(after), [collection, None]
        changed = {str(op[1]["RowKey"])[len(BUCKET_PREFIX) :] for op in writes}
        changed |= {key[len(BUCKET_PREFIX) :] for key in stale if key.startswith(BUCKET_PREFIX)}
        return len(writes) + len(after), [collection, None, length, sorted(changed)]

    def _change(
        self,
        tenant_id: str,
        collection: str,
        puts: Mapping[str, tuple[str, str]],
        removals: Mapping[str, str],
    ) -> tuple[int, list[Any]]:
        """Put and remove objects by row key in the collection's current layout, fenced.

        Returns the entities written (puts) or the objects that were there (removals), and the
        log entry.
        """
        partition = _partition(tenant_id, collection)

        def attempt(layout: _Layout) -> tuple[int, list[Any]]:
            if layout.length is None:
                return self._change_rows(partition, layout, puts, removals)
            return self._change_buckets(partition, layout, layout.length, puts, removals)

        return self._fenced_retry(partition, collection, attempt)

    def _change_rows(
        self,
        partition: str,
        layout: _Layout,
        puts: Mapping[str, tuple[str, str]],
        removals: Mapping[str, str],
    ) -> tuple[int, list[Any]]:
        present = [key for key in sorted(removals) if self._exists(partition, key)]
        writes: list[tuple[Any, ...]] = [
            ("upsert", _entity(partition, key, *puts[key]), {"mode": UpdateMode.REPLACE})
            for key in sorted(puts)
        ]
        writes += [("delete", {"PartitionKey": partition, "RowKey": key}) for key in present]
        self._fenced(partition, layout, writes, [], None)
        ids = sorted({object_id for object_id, _ in puts.values()} | set(removals.values()))
        entry: list[Any] = [_collection_of(partition), ids, ROWS]
        if len(ids) > MAX_LOGGED_IDS:
            entry = [_collection_of(partition), None]
        return (len(present) if removals else len(writes)), entry

    def _change_buckets(
        self,
        partition: str,
        layout: _Layout,
        length: int,
        puts: Mapping[str, tuple[str, str]],
        removals: Mapping[str, str],
    ) -> tuple[int, list[Any]]:
        touched: dict[str, list[str]] = {}
        for key, (object_id, _) in puts.items():
            touched.setdefault(_prefix(object_id, length), []).append(key)
        for key, object_id in removals.items():
            touched.setdefault(_prefix(object_id, length), []).append(key)
        removed = 0
        contents: dict[str, dict[str, tuple[str, str]]] = {}
        held: set[str] = set()
        for prefix in sorted(touched):
            content = self._bucket_texts(partition, prefix)
            if content is not None:
                held.add(prefix)
            items = dict(content or {})
            for key in touched[prefix]:
                if key in removals:
                    removed += items.pop(key, None) is not None
                else:
                    items[key] = puts[key]
            contents[prefix] = items
        writes: list[tuple[Any, ...]] = []
        for prefix, items in sorted(contents.items()):
            if items:
                entity = _bucket_entity(partition, prefix, sorted(items.items()))
                if _size(entity) > MAX_BUCKET_BYTES:  # outgrown: a longer prefix for all
                    return self._repack(partition, layout, puts, removals, length + 1)
                writes.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
            elif prefix in held:
                writes.append(
                    ("delete", {"PartitionKey": partition, "RowKey": BUCKET_PREFIX + prefix})
                )
        self._fenced(partition, layout, writes, [], None)
        entry = [_collection_of(partition), None, length, sorted(contents)]
        return (removed if removals else len(puts)), entry

    def _repack(
        self,
        partition: str,
        layout: _Layout,
        puts: Mapping[str, tuple[str, str]],
        removals: Mapping[str, str],
        minimum: int,
    ) -> tuple[int, list[Any]]:
        """A bucket outgrew its entity: rewrite the whole collection with longer prefixes."""
        existing: dict[str, str] = {}
        texts: dict[str, tuple[str, str]] = {}
        for entity in self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": partition}
        ):
            row_key = str(entity["RowKey"])
            if row_key == LAYOUT_ROW_KEY:
                continue
            existing[row_key] = ""
            if (
                row_key.startswith(BUCKET_PREFIX)
                and len(row_key) - len(BUCKET_PREFIX) == layout.length
            ):
                for key, obj in _bucket_objects(entity).items():
                    texts[key] = (str(obj["id"]), _object_text(obj))
        removed = sum(1 for key in removals if texts.pop(key, None) is not None)
        texts.update(puts)
        self._write_packed(partition, layout, texts, existing, minimum)
        return (removed if removals else len(puts)), [_collection_of(partition), None]

    def _bucket_texts(self, partition: str, prefix: str) -> dict[str, tuple[str, str]] | None:
        content = self._bucket(partition, prefix)
        if content is None:
            return None
        return {key: (str(obj["id"]), _object_text(obj)) for key, obj in content.items()}

    def _exists(self, partition: str, row_key: str) -> bool:
        try:
            self._table.get_entity(partition, row_key, select=["RowKey"])
        except ResourceNotFoundError:
            return False
        return True

    def _fenced(
        self,
        partition: str,
        layout: _Layout,
        writes: Sequence[tuple[Any, ...]],
        after: Sequence[tuple[Any, ...]],
        flip: int | None,
    ) -> None:
        """Submit `writes`, then `after`, each transaction led by the layout row's fence.

        The fence is an update of `!layout` under If-Match of the ETag read (a create when the
        collection has none), chained through the ETags the transactions return, so a writer
        that read the collection before another one wrote it gets 412 (or 409) on its next
        transaction and starts again (`_Conflict`). `flip`: the prefix length the collection
        is packed with from the last transaction of `writes` on (the first packing or a new
        length); until then the row keeps the layout readers use.
        """
        if not writes and not after and flip is None:
            return
        limit = TRANSACTION_LIMIT - 1
        first = list(transaction_chunks(writes, limit=limit, budget=TRANSACTION_BYTES)) or [[]]
        rest = list(transaction_chunks(after, limit=limit, budget=TRANSACTION_BYTES))
        etag = layout.etag
        for index, chunk in enumerate([*first, *rest]):
            if not chunk and flip is None:
                continue
            row: dict[str, Any] = {
                "PartitionKey": partition,
                "RowKey": LAYOUT_ROW_KEY,
                "At": format_time(datetime.now(UTC)),
            }
            if etag is None:
                row["Layout"] = UNPACKED
            if flip is not None and index == len(first) - 1:
                row.update({"Layout": PACKED, "Length": flip})
            fence: tuple[Any, ...] = (
                ("create", row)
                if etag is None
                else (
                    "update",
                    row,
                    {
                        "mode": UpdateMode.MERGE,
                        "etag": etag,
                        "match_condition": MatchConditions.IfNotModified,
                    },
                )
            )
            try:
                result = self._table.submit_transaction([fence, *chunk])
            except (TableTransactionError, ResourceModifiedError, ResourceExistsError) as error:
                if isinstance(error, HttpResponseError) and error.status_code not in (
                    404,
                    409,
                    412,
                ):
                    raise
                raise _Conflict from error
            except ResourceNotFoundError as error:
                raise _Conflict from error
            etag = str(result[0]["etag"])

    def _publish(self, tenant_id: str, entries: list[list[Any]]) -> int:
        """Bump the tenant's version and log what was written, in one transaction."""
        text = json.dumps(entries, ensure_ascii=True, separators=(",", ":"))
        if len(text) > CHUNK_CHARS:
            text = json.dumps([[entry[0], None] for entry in entries])
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


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0.005, 0.03) * min(attempt, 8))


def _log_row_key(version: int) -> str:
    return f"{LOG_PREFIX}{version:012d}"


def _partition(tenant_id: str, collection: str) -> str:
    return f"{tenant_key(tenant_id)}{SEPARATOR}{key_part(collection)}"


def _collection_of(partition: str) -> str:
    encoded = partition.split(SEPARATOR, 1)[1]
    return next((path for path in tc.ALL_COLLECTIONS if key_part(path) == encoded), encoded)


def _packed_length(layout: Mapping[str, Any] | None) -> int | None:
    if layout is None or int(layout.get("Layout", 0) or 0) != PACKED:
        return None
    return int(layout["Length"])


def _marker(length: int | None) -> int:
    return ROWS if length is None else length


def _prefix(object_id: str, length: int) -> str:
    return digest(object_id, length=MAX_PREFIX)[:length]


def _choose_length(total_chars: int, current: int | None) -> int:
    """The prefix length for a collection of `total_chars` of JSON: stable across writes.

    Fresh: the shortest that averages at most BUCKET_CHARS per bucket. The current length is
    kept while it is that one or one longer (buckets 16x smaller), so a collection changes
    layout only when it grows past its buckets or shrinks 256x.
    """
    fresh = 0
    while fresh < MAX_PREFIX and total_chars > BUCKET_CHARS * 16**fresh:
        fresh += 1
    if current is not None and fresh <= current <= fresh + 1:
        return current
    return fresh


def _object_key(obj: Mapping[str, Any]) -> str:
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        raise MirrorError("an object without an id cannot be mirrored")
    return key_part(object_id)


def _object_text(obj: Mapping[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    if len(text) > CHUNK_CHARS * MAX_CHUNKS:
        raise MirrorError(f"object {obj.get('id')} is {len(text)} characters: too large to mirror")
    return text


def _pack(
    texts: Mapping[str, tuple[str, str]], length: int
) -> list[tuple[str, list[tuple[str, tuple[str, str]]]]]:
    """Objects by bucket prefix, each bucket's in row key order; buckets in prefix order."""
    buckets: dict[str, list[tuple[str, tuple[str, str]]]] = {}
    for key in sorted(texts):
        buckets.setdefault(_prefix(texts[key][0], length), []).append((key, texts[key]))
    return sorted(buckets.items())


def _bucket_entity(
    partition: str, prefix: str, items: Sequence[tuple[str, tuple[str, str]]]
) -> dict[str, Any]:
    text = "[" + ",".join(text for _, (_, text) in items) + "]"
    data = zlib.compress(text.encode("ascii"), COMPRESSION_LEVEL)
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": BUCKET_PREFIX + prefix,
        "Objects": len(items),
        "Digest": hashlib.sha256(text.encode("ascii")).hexdigest()[:32],
        "Encoding": "zlib-json",
    }
    entity.update(
        split_columns(
            "Data",
            data,
            part=BUCKET_PART_BYTES,
            max_parts=MAX_BUCKET_BYTES // BUCKET_PART_BYTES + 2,
        )
    )
    return entity


def _size(entity: Mapping[str, Any]) -> int:
    return sum(len(value) for value in entity.values() if isinstance(value, bytes))


def _bucket_objects(entity: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    try:
        if entity.get("Encoding") != "zlib-json":
            raise ValueError(f"unknown encoding {entity.get('Encoding')!r}")
        documents = json.loads(zlib.decompress(joined_bytes(entity, "Data")))
        objects = {key_part(str(obj["id"])): obj for obj in documents}
    except (KeyError, TypeError, ValueError, zlib.error) as error:
        raise MirrorError(f"mirror bucket {entity.get('RowKey')} is damaged: {error}") from None
    if not all(isinstance(obj, dict) for obj in objects.values()):
        raise MirrorError(f"mirror bucket {entity.get('RowKey')} holds a non-object")
    return objects


def _same_or(held: dict[str, Any] | None, fresh: dict[str, Any]) -> dict[str, Any]:
    """The object held when it equals the fresh one (its identity marks it unchanged)."""
    return held if held is not None and held == fresh else fresh


def _entity(partition: str, row_key: str, object_id: str, text: str) -> dict[str, Any]:
    """An object in the first layout: one entity, its JSON over `Data0..N`."""
    parts = [text[start : start + CHUNK_CHARS] for start in range(0, len(text), CHUNK_CHARS)]
    entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": row_key, "Parts": len(parts)}
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
