"""The tenant mirror's packed layout on Azurite: buckets, the layout fence, the first layout.

docs/storage.md, "Tenant mirror": objects are packed into hash-prefix bucket entities per
collection; `!layout` names the layout and fences every write; a collection of the first
layout (one entity per object) still reads and is packed by its next full write, cut anywhere
without a reader seeing a partial collection.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient

from monitors.guardrail import mirror as tenant_mirror
from monitors.guardrail.mirror import TenantMirror
from monitors.store.keys import MIRROR_TABLE, key_part, tenant_key
from rules import tenant_collections as tc
from tests.test_function_support import sample_snapshot


@pytest.fixture
def table(table_service: TableServiceClient) -> TableClient:
    TenantMirror(table_service).ensure_table()
    return table_service.get_table_client(MIRROR_TABLE)


def partition_of(tenant: str, path: str) -> str:
    return tenant_mirror._partition(tenant, path)


def stored(table: TableClient, tenant: str, path: str) -> dict[str, dict[str, Any]]:
    query = "PartitionKey eq @pk"
    return {
        str(e["RowKey"]): dict(e)
        for e in table.query_entities(query, parameters={"pk": partition_of(tenant, path)})
    }


def layout(table: TableClient, tenant: str, path: str) -> dict[str, Any] | None:
    return stored(table, tenant, path).get(tenant_mirror.LAYOUT_ROW_KEY)


def bucket_keys(table: TableClient, tenant: str, path: str) -> set[str]:
    return {key for key in stored(table, tenant, path) if key.startswith("!b|")}


def object_rows(table: TableClient, tenant: str, path: str) -> set[str]:
    return {key for key in stored(table, tenant, path) if not key.startswith("!")}


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(obj["id"]): obj for obj in objects}


def groups_document(tenant: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A snapshot document holding only the groups collection."""
    return {
        "tenantId": tenant,
        "capturedAt": "2026-12-01T00:00:00Z",
        "collections": {tc.GROUPS: objects},
    }


def write_first_layout(table: TableClient, document: dict[str, Any]) -> None:
    """What the mirror wrote before packing: one entity per object, a meta row, no version."""
    tenant = document["tenantId"]
    for path, objects in document["collections"].items():
        for obj in objects:
            text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
            parts = [text[i : i + 32_000] for i in range(0, len(text), 32_000)]
            entity: dict[str, Any] = {
                "PartitionKey": partition_of(tenant, path),
                "RowKey": key_part(str(obj["id"])),
                "Parts": len(parts),
            }
            entity.update({f"Data{index}": part for index, part in enumerate(parts)})
            table.upsert_entity(entity)
    table.upsert_entity(
        {
            "PartitionKey": tenant_key(tenant),
            "RowKey": tenant_mirror.META_ROW_KEY,
            "CapturedAt": document["capturedAt"],
            "Collections": json.dumps(sorted(document["collections"])),
            "Errors": "{}",
        }
    )


def groups(count: int, note: str = "") -> list[dict[str, Any]]:
    return [
        {"id": f"group-{index:04d}", "displayName": f"Group {index}{note}"}
        for index in range(count)
    ]


@pytest.fixture
def many_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small buckets and transactions, so a few hundred objects need many of both."""
    monkeypatch.setattr(tenant_mirror, "BUCKET_CHARS", 600)
    monkeypatch.setattr(tenant_mirror, "TRANSACTION_LIMIT", 4)  # three entities and the fence


class StorageLost(RuntimeError):
    pass


@pytest.fixture
def cut_at(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Set `cut_at[0] = n`: the n-th mirror transaction from then on fails (storage lost)."""
    countdown = [0]
    original = TableClient.submit_transaction

    def submit(self: TableClient, operations: Any, **kwargs: Any) -> Any:
        if countdown[0]:
            countdown[0] -= 1
            if not countdown[0]:
                raise StorageLost("storage lost")
        return original(self, operations, **kwargs)

    monkeypatch.setattr(TableClient, "submit_transaction", submit)
    return countdown


# -- the first layout -------------------------------------------------------------------------


def test_a_mirror_of_the_first_layout_reads_then_its_next_full_write_packs_it(
    table_service: TableServiceClient, table: TableClient
) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    big = {"id": "policy-big", "omaSettings": [{"value": "é" + "x" * 99_999}]}
    document["collections"][tc.DEVICE_CONFIGURATIONS].append(big)
    write_first_layout(table, document)
    mirror = TenantMirror(table_service)

    loaded = mirror.load(tenant)
    assert loaded is not None
    for path, objects in document["collections"].items():
        assert by_id(loaded["collections"][path]) == by_id(objects), path
    assert mirror.get_object(tenant, tc.DEVICE_CONFIGURATIONS, "policy-big") == big

    # An incremental write keeps the layout it finds (a change does not pack 20,000 rows).
    reader = TenantMirror(table_service)
    assert reader.load(tenant) is not None
    renamed = dict(document["collections"][tc.GROUPS][0], displayName="Renamed")
    mirror.put_objects(tenant, tc.GROUPS, [renamed])
    gone = document["collections"][tc.MOBILE_APPS][0]["id"]
    assert mirror.remove_objects(tenant, tc.MOBILE_APPS, [gone, "never-there"]) == 1
    assert key_part(renamed["id"]) in object_rows(table, tenant, tc.GROUPS)
    assert bucket_keys(table, tenant, tc.GROUPS) == set()
    assert (layout(table, tenant, tc.GROUPS) or {})["Layout"] == tenant_mirror.UNPACKED
    assert mirror.get_object(tenant, tc.GROUPS, renamed["id"]) == renamed
    assert mirror.get_object(tenant, tc.MOBILE_APPS, gone) is None
    seen = reader.load(tenant)
    assert seen is not None
    assert by_id(seen["collections"][tc.GROUPS])[renamed["id"]] == renamed
    assert gone not in by_id(seen["collections"][tc.MOBILE_APPS])

    # The next full read packs every collection and deletes the rows.
    document["collections"][tc.GROUPS][0] = renamed
    mirror.save_snapshot(tenant, document)
    for path, objects in document["collections"].items():
        assert object_rows(table, tenant, path) == set(), path
        assert (layout(table, tenant, path) or {})["Layout"] == tenant_mirror.PACKED, path
        assert bucket_keys(table, tenant, path) or not objects, path
    fresh = TenantMirror(table_service).load(tenant)
    patched = reader.load(tenant)
    assert fresh is not None
    assert patched is not None
    for path, objects in document["collections"].items():
        assert by_id(fresh["collections"][path]) == by_id(objects), path
        assert by_id(patched["collections"][path]) == by_id(objects), path
    assert mirror.get_object(tenant, tc.DEVICE_CONFIGURATIONS, "policy-big") == big


@pytest.mark.usefixtures("many_buckets")
def test_packing_cut_between_bucket_transactions_leaves_the_first_layout_whole(
    table_service: TableServiceClient, table: TableClient, cut_at: list[int]
) -> None:
    tenant = str(uuid.uuid4())
    old = groups(60)
    write_first_layout(table, groups_document(tenant, old))
    mirror = TenantMirror(table_service)
    new = groups(60, note=" (read again)")

    cut_at[0] = 2  # the first bucket transaction lands, the second is lost
    with pytest.raises(StorageLost):
        mirror.replace_collection(tenant, tc.GROUPS, new)
    assert bucket_keys(table, tenant, tc.GROUPS)  # some buckets were written...
    assert mirror.objects(tenant, tc.GROUPS) == old  # ...and read as nothing: the rows hold

    cut_at[0] = 2  # the next attempt is cut too: still the rows
    with pytest.raises(StorageLost):
        mirror.replace_collection(tenant, tc.GROUPS, new)
    assert mirror.objects(tenant, tc.GROUPS) == old

    mirror.replace_collection(tenant, tc.GROUPS, new)  # the redelivery finishes it
    assert mirror.objects(tenant, tc.GROUPS) == new
    assert object_rows(table, tenant, tc.GROUPS) == set()


@pytest.mark.usefixtures("many_buckets")
def test_packing_cut_during_its_deletes_reads_the_new_layout_whole(
    table_service: TableServiceClient, table: TableClient, cut_at: list[int]
) -> None:
    tenant = str(uuid.uuid4())
    old = groups(60)
    write_first_layout(table, groups_document(tenant, old))
    mirror = TenantMirror(table_service)
    new = groups(30, note=" (fewer)")
    texts = {key_part(str(o["id"])): (str(o["id"]), tenant_mirror._object_text(o)) for o in new}
    length = tenant_mirror._choose_length(sum(len(t) for _, t in texts.values()), None)
    bucket_transactions = -(-len(tenant_mirror._pack(texts, length)) // 3)

    cut_at[0] = bucket_transactions + 1  # every bucket and the flip land, a delete is lost
    with pytest.raises(StorageLost):
        mirror.replace_collection(tenant, tc.GROUPS, new)
    assert object_rows(table, tenant, tc.GROUPS)  # rows left behind...
    assert mirror.objects(tenant, tc.GROUPS) == new  # ...that nobody reads

    mirror.replace_collection(tenant, tc.GROUPS, new)
    assert object_rows(table, tenant, tc.GROUPS) == set()
    assert mirror.objects(tenant, tc.GROUPS) == new


# -- packed collections -------------------------------------------------------------------------


@pytest.mark.usefixtures("many_buckets")
def test_a_full_write_rewrites_only_changed_buckets_and_a_copy_reads_only_those(
    table_service: TableServiceClient, table: TableClient
) -> None:
    tenant = str(uuid.uuid4())
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    document = groups_document(tenant, groups(200))
    one.save_snapshot(tenant, document)
    assert len(bucket_keys(table, tenant, tc.GROUPS)) > 8
    before = one.load(tenant)
    assert before is not None

    assert other.replace_collection(tenant, tc.GROUPS, groups(200)) == 0  # nothing changed
    changed = groups(200)
    changed[7]["displayName"] = "Renamed"
    assert other.replace_collection(tenant, tc.GROUPS, changed) == 1  # its bucket only

    loaded = one.load(tenant)
    assert loaded is not None
    # The version, two log rows and the one bucket the second names.
    assert (one.last_load.mode, one.last_load.entities_read) == ("patched", 1 + 2 + 1)
    assert loaded["collections"][tc.GROUPS] == changed
    for index, (now, then) in enumerate(
        zip(loaded["collections"][tc.GROUPS], before["collections"][tc.GROUPS], strict=True)
    ):
        assert (now is then) == (index != 7), index


@pytest.mark.usefixtures("many_buckets")
def test_a_collection_that_grows_past_its_buckets_gets_longer_prefixes_and_copies_follow(
    table_service: TableServiceClient, table: TableClient
) -> None:
    tenant = str(uuid.uuid4())
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    document = groups_document(tenant, groups(4))
    one.save_snapshot(tenant, document)
    assert one.load(tenant) is not None
    assert (layout(table, tenant, tc.GROUPS) or {})["Length"] == 0

    other.replace_collection(tenant, tc.GROUPS, groups(300))
    assert (layout(table, tenant, tc.GROUPS) or {})["Length"] == 2
    assert {len(key) for key in bucket_keys(table, tenant, tc.GROUPS)} == {len("!b|") + 2}
    loaded = one.load(tenant)
    assert loaded is not None
    assert loaded["collections"][tc.GROUPS] == groups(300)

    other.replace_collection(tenant, tc.GROUPS, groups(2))  # shrunk 150x: one bucket again
    assert (layout(table, tenant, tc.GROUPS) or {})["Length"] == 0
    assert len(bucket_keys(table, tenant, tc.GROUPS)) == 1
    loaded = one.load(tenant)
    assert loaded is not None
    assert loaded["collections"][tc.GROUPS] == groups(2)


def test_incremental_writes_that_overflow_a_bucket_repack_the_collection(
    table_service: TableServiceClient, table: TableClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenant_mirror, "MAX_BUCKET_BYTES", 20_000)
    tenant = str(uuid.uuid4())
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    document = groups_document(tenant, groups(3))
    one.save_snapshot(tenant, document)
    assert one.load(tenant) is not None
    # Random text barely compresses: 8 KB of it per object overflows 20,000 bytes in 3 objects.
    noisy = [{"id": f"noisy-{index}", "blob": secrets.token_hex(4_000)} for index in range(6)]
    for obj in noisy:
        other.put_objects(tenant, tc.GROUPS, [obj])
    assert (layout(table, tenant, tc.GROUPS) or {})["Length"] >= 1
    expected = by_id(groups(3) + noisy)
    assert by_id(other.objects(tenant, tc.GROUPS)) == expected
    loaded = one.load(tenant)
    assert loaded is not None
    assert by_id(loaded["collections"][tc.GROUPS]) == expected
    for entity in stored(table, tenant, tc.GROUPS).values():
        binary = [v for v in entity.values() if isinstance(v, bytes)]
        assert sum(len(v) for v in binary) <= 20_000


def test_bucket_entities_stay_within_table_storage_limits(
    table_service: TableServiceClient, table: TableClient
) -> None:
    tenant = str(uuid.uuid4())
    mirror = TenantMirror(table_service)
    # ~1.6 MB of barely compressible JSON: more than one entity may hold.
    objects = [{"id": f"app-{index}", "blob": secrets.token_hex(20_000)} for index in range(40)]
    mirror.replace_collection(tenant, tc.MOBILE_APPS, objects)
    buckets = [e for key, e in stored(table, tenant, tc.MOBILE_APPS).items() if key[:3] == "!b|"]
    assert len(buckets) > 1
    for entity in buckets:
        assert len(entity) <= 252
        binary = [v for v in entity.values() if isinstance(v, bytes)]
        assert all(len(v) <= 64 * 1024 for v in binary)
        assert sum(len(v) for v in binary) <= 1024 * 1024 - 64 * 1024
    assert by_id(mirror.objects(tenant, tc.MOBILE_APPS)) == by_id(objects)


@pytest.mark.usefixtures("many_buckets")
def test_a_relayout_racing_incremental_writers_never_shows_a_partial_collection(
    table_service: TableServiceClient, table: TableClient
) -> None:
    tenant = str(uuid.uuid4())
    base = groups(40)
    TenantMirror(table_service).save_snapshot(
        tenant,
        groups_document(tenant, base),
    )
    grown = groups(300, note=" (grown)")
    errors: list[BaseException] = []
    done = threading.Event()
    after_replace: list[str] = []

    def replace() -> None:
        try:
            TenantMirror(table_service).replace_collection(tenant, tc.GROUPS, grown)
        except BaseException as error:  # surfaced below, in the test's own thread
            errors.append(error)
        finally:
            done.set()

    def put() -> None:
        own = TenantMirror(table_service)
        try:
            for index in range(12):
                finished = done.is_set()
                own.put_objects(tenant, tc.GROUPS, [{"id": f"put-{index}"}])
                if finished:
                    after_replace.append(f"put-{index}")
        except BaseException as error:
            errors.append(error)

    def read() -> None:
        own = TenantMirror(table_service)
        try:
            while not done.is_set():
                ids = set(by_id(own.objects(tenant, tc.GROUPS)))
                assert {g["id"] for g in base} <= ids  # old or new content, never a part
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=f) for f in (replace, put, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = by_id(TenantMirror(table_service).objects(tenant, tc.GROUPS))
    assert {key: final[key] for key in by_id(grown)} == by_id(grown)
    assert set(after_replace) <= set(final)


def test_log_rows_written_before_packing_still_patch_a_copy(
    table_service: TableServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    one.save_snapshot(tenant, document)
    assert one.load(tenant) is not None
    publish = TenantMirror._publish

    def first_layout_log(self: TenantMirror, tenant_id: str, entries: list[list[Any]]) -> int:
        """The log row shape before packing: `[collection, [ids]]`, no layout."""
        return publish(self, tenant_id, [[entry[0], ["renamed-elsewhere"]] for entry in entries])

    monkeypatch.setattr(TenantMirror, "_publish", first_layout_log)
    renamed = {"id": "renamed-elsewhere", "displayName": "Renamed"}
    other.put_objects(tenant, tc.GROUPS, [renamed])
    loaded = one.load(tenant)
    assert loaded is not None
    # The version, the log row, the collection's layout row (the entry does not say it), the
    # object's bucket.
    assert (one.last_load.mode, one.last_load.entities_read) == ("patched", 4)
    assert by_id(loaded["collections"][tc.GROUPS])["renamed-elsewhere"] == renamed
