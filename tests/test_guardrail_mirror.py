"""The tenant mirror on Azurite: a snapshot goes in and comes back the same."""

from __future__ import annotations

import uuid

import pytest
from azure.data.tables import TableServiceClient

from monitors.tenant_mirror import MirrorError, TenantMirror
from rules import tenant_collections as tc
from tests.test_function_support import sample_snapshot


@pytest.fixture
def mirror(table_service: TableServiceClient) -> TenantMirror:
    return TenantMirror(table_service)


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
