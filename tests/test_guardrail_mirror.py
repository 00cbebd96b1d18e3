"""The tenant mirror on Azurite: a snapshot goes in and comes back the same."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from monitors.guardrail import mirror as tenant_mirror
from monitors.guardrail.mirror import MirrorError, TenantMirror
from monitors.store.keys import MIRROR_TABLE
from rules import tenant_collections as tc
from tests.test_function_support import sample_snapshot


@pytest.fixture
def mirror(table_service: TableServiceClient) -> TenantMirror:
    return TenantMirror(table_service)


def entities_of(service: TableServiceClient, tenant: str, path: str) -> dict[str, Any]:
    table = service.get_table_client(MIRROR_TABLE)
    query = "PartitionKey eq @pk"
    return {
        str(e["RowKey"]): e
        for e in table.query_entities(
            query, parameters={"pk": tenant_mirror._partition(tenant, path)}
        )
    }


def bucket_of(service: TableServiceClient, tenant: str, path: str, object_id: str) -> str:
    layout = entities_of(service, tenant, path)[tenant_mirror.LAYOUT_ROW_KEY]
    assert layout["Layout"] == tenant_mirror.PACKED
    return tenant_mirror._prefix(object_id, int(layout["Length"]))


def by_id(objects: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {obj["id"]: obj for obj in objects}


def test_saved_snapshot_loads_back_with_the_same_objects_and_errors(mirror: TenantMirror) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    del document["collections"][tc.MDM_POLICIES]
    document["errors"] = {tc.MDM_POLICIES: {"status": 403, "message": "delegated only"}}
    mirror.save_snapshot(tenant, document)
    loaded = mirror.load(tenant)
    assert loaded is not None
    assert loaded["capturedAt"] == document["capturedAt"]
    assert loaded["errors"] == document["errors"]
    assert set(loaded["collections"]) == set(document["collections"])  # unreadable stays absent
    for path, objects in document["collections"].items():
        assert by_id(loaded["collections"][path]) == by_id(objects), path


def test_an_object_larger_than_one_table_property_is_split_and_joined(
    mirror: TenantMirror,
) -> None:
    tenant = str(uuid.uuid4())
    big = {"id": "policy-1", "omaSettings": [{"value": "é" + "x" * 99_999}]}
    mirror.put_objects(tenant, tc.DEVICE_CONFIGURATIONS, [big])
    assert mirror.get_object(tenant, tc.DEVICE_CONFIGURATIONS, "policy-1") == big


def test_replacing_a_collection_forgets_objects_no_longer_there(mirror: TenantMirror) -> None:
    tenant = str(uuid.uuid4())
    mirror.replace_collection(tenant, tc.GROUPS, [{"id": "a"}, {"id": "b"}])
    mirror.replace_collection(tenant, tc.GROUPS, [{"id": "b", "displayName": "B"}])
    assert mirror.objects(tenant, tc.GROUPS) == [{"id": "b", "displayName": "B"}]


def test_tenant_never_read_has_no_mirror(mirror: TenantMirror) -> None:
    assert mirror.load(str(uuid.uuid4())) is None


def test_object_too_large_for_one_entity_is_refused(mirror: TenantMirror) -> None:
    with pytest.raises(MirrorError, match="too large"):
        mirror.put_objects(str(uuid.uuid4()), tc.GROUPS, [{"id": "g", "blob": "x" * 1_000_000}])


# -- the per-instance cache, validated by the tenant's mirror version --------------------------


def fresh_load(service: TableServiceClient, tenant: str) -> dict[str, Any]:
    loaded = TenantMirror(service).load(tenant)
    assert loaded is not None
    return loaded


def same_objects(left: dict[str, Any], right: dict[str, Any]) -> bool:
    return set(left["collections"]) == set(right["collections"]) and all(
        by_id(left["collections"][path]) == by_id(right["collections"][path])
        for path in left["collections"]
    )


def test_a_cached_mirror_is_refreshed_when_another_instance_wrote(
    table_service: TableServiceClient,
) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    one.save_snapshot(tenant, document)
    assert one.load(tenant) is not None
    assert one.last_load.mode == "full"
    before = one.load(tenant)
    assert before is not None
    assert (one.last_load.mode, one.last_load.entities_read) == ("cached", 1)

    group = dict(document["collections"][tc.GROUPS][0], displayName="Renamed elsewhere")
    other.put_objects(tenant, tc.GROUPS, [group, {"id": "new-group", "displayName": "New"}])
    gone = document["collections"][tc.MOBILE_APPS][0]["id"]
    other.remove_objects(tenant, tc.MOBILE_APPS, [gone])

    loaded = one.load(tenant)
    assert loaded is not None
    # The version, two log rows and the buckets holding the three objects they name: not the
    # tenant again.
    buckets = {
        (path, bucket_of(table_service, tenant, path, object_id))
        for path, object_id in [
            (tc.GROUPS, group["id"]),
            (tc.GROUPS, "new-group"),
            (tc.MOBILE_APPS, gone),
        ]
    }
    assert (one.last_load.mode, one.last_load.entities_read) == ("patched", 1 + 2 + len(buckets))
    groups = by_id(loaded["collections"][tc.GROUPS])
    assert groups[group["id"]]["displayName"] == "Renamed elsewhere"
    assert "new-group" in groups
    assert gone not in by_id(loaded["collections"][tc.MOBILE_APPS])
    assert same_objects(loaded, fresh_load(table_service, tenant))
    # Objects the writes did not change are the very objects the copy held (a parsed model
    # keyed on them stays valid); the renamed group is a new one.
    unchanged = document["collections"][tc.GROUPS][1]["id"]
    assert (
        by_id(loaded["collections"][tc.GROUPS])[unchanged]
        is by_id(before["collections"][tc.GROUPS])[unchanged]
    )
    assert groups[group["id"]] is not by_id(before["collections"][tc.GROUPS])[group["id"]]
    for path in (tc.DEVICES, tc.AUTOPILOT_DEVICES):
        assert loaded["collections"][path] == before["collections"][path]
        pairs = zip(loaded["collections"][path], before["collections"][path], strict=True)
        assert all(now is then for now, then in pairs)


def test_a_collection_replaced_elsewhere_is_reloaded_whole(
    table_service: TableServiceClient,
) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    one.save_snapshot(tenant, document)
    one.load(tenant)
    other.replace_collection(tenant, tc.GROUPS, [{"id": "only-group"}])
    loaded = one.load(tenant)
    assert loaded is not None
    assert loaded["collections"][tc.GROUPS] == [{"id": "only-group"}]
    assert same_objects(loaded, fresh_load(table_service, tenant))


def test_a_cache_behind_the_kept_log_loads_everything(
    table_service: TableServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tenant_mirror, "LOG_KEPT", 2)
    document = sample_snapshot()
    tenant = document["tenantId"]
    one, other = TenantMirror(table_service), TenantMirror(table_service)
    one.save_snapshot(tenant, document)
    one.load(tenant)
    for index in range(4):
        other.put_objects(tenant, tc.GROUPS, [{"id": f"g-{index}"}])
    loaded = one.load(tenant)
    assert loaded is not None
    assert one.last_load.mode == "full"
    assert {f"g-{index}" for index in range(4)} <= set(by_id(loaded["collections"][tc.GROUPS]))


def test_concurrent_writers_of_one_tenant_each_get_a_version_and_no_write_is_missed(
    table_service: TableServiceClient,
) -> None:
    document = sample_snapshot()
    tenant = document["tenantId"]
    reader = TenantMirror(table_service)
    reader.save_snapshot(tenant, document)
    reader.load(tenant)
    start = reader.version(tenant)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        own = TenantMirror(table_service)
        try:
            for index in range(5):
                own.put_objects(tenant, tc.GROUPS, [{"id": f"w{writer}-{index}"}])
                reader.load(tenant)  # loads interleaved with the writes
        except BaseException as error:  # surfaced below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert reader.version(tenant) == start + 20  # one version per write, none shared
    loaded = reader.load(tenant)
    assert loaded is not None
    groups = set(by_id(loaded["collections"][tc.GROUPS]))
    assert {f"w{w}-{i}" for w in range(4) for i in range(5)} <= groups
    assert same_objects(loaded, fresh_load(table_service, tenant))
