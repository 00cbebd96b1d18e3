"""The tenant change format: every op, and every way a document can be wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from monitors.tenant_changes import (
    CHANGE_FORMAT,
    ChangeError,
    apply_changes,
    load_change_document,
    validate_change_document,
)
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from tests.graphsim.sample_tenants import (
    ASSIGNED_GROUP,
    CUSTOM_CONFIGURATION,
    DYNAMIC_GROUP,
    PAUSED_GROUP,
    PROFILE,
    WIN32_APP,
    device_id,
    tiny_tenant,
)


def document(*changes: Any, **top: Any) -> dict[str, Any]:
    return {"format": CHANGE_FORMAT, "changes": list(changes), **top}


def find(snapshot: dict[str, Any], collection: str, object_id: str) -> dict[str, Any]:
    return next(o for o in snapshot["collections"][collection] if o["id"] == object_id)


def error_of(snapshot: dict[str, Any], doc: Any) -> ChangeError:
    with pytest.raises(ChangeError) as caught:
        apply_changes(snapshot, doc)
    return caught.value


@pytest.fixture
def tenant() -> dict[str, Any]:
    return tiny_tenant()


# --- ops ------------------------------------------------------------------------------------


def test_set_changes_a_nested_property_and_records_old_and_new(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {
                "op": "set",
                "collection": MOBILE_APPS,
                "id": WIN32_APP,
                "path": "installExperience.runAsAccount",
                "value": "user",
            }
        ),
    )
    app = find(result.snapshot, MOBILE_APPS, WIN32_APP)
    assert app["installExperience"] == {"runAsAccount": "user", "deviceRestartBehavior": "allow"}
    [applied] = result.applied
    assert (applied.op, applied.collection, applied.object_id) == ("set", MOBILE_APPS, WIN32_APP)
    assert applied.display_name == "Company Portal helper"
    assert applied.odata_type == "#microsoft.graph.win32LobApp"
    [prop] = applied.modified_properties
    assert (prop.name, prop.old_value, prop.new_value) == (
        "installExperience.runAsAccount",
        "system",
        "user",
    )


def test_set_never_mutates_the_input_snapshot(tenant: dict[str, Any]) -> None:
    original = copy.deepcopy(tenant)
    apply_changes(
        tenant,
        document(
            {"op": "set", "collection": GROUPS, "id": DYNAMIC_GROUP, "path": "x.y", "value": 1},
            {"op": "remove", "collection": MOBILE_APPS, "id": WIN32_APP},
        ),
    )
    assert tenant == original


def test_set_accepts_a_segment_list_for_keys_with_dots(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {
                "op": "set",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "path": ["omaSettings", 0, "@odata.type"],
                "value": "#microsoft.graph.omaSettingString",
            }
        ),
    )
    setting = find(result.snapshot, DEVICE_CONFIGURATIONS, CUSTOM_CONFIGURATION)["omaSettings"][0]
    assert setting["@odata.type"] == "#microsoft.graph.omaSettingString"


def test_set_indexes_lists_with_numeric_segments(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {
                "op": "set",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "path": "omaSettings.0.value",
                "value": False,
            }
        ),
    )
    configuration = find(result.snapshot, DEVICE_CONFIGURATIONS, CUSTOM_CONFIGURATION)
    assert configuration["omaSettings"][0]["value"] is False
    assert result.applied[0].modified_properties[0].old_value is True


def test_add_assignment_generates_a_deterministic_id_when_absent(tenant: dict[str, Any]) -> None:
    change = {
        "op": "addAssignment",
        "collection": DEVICE_CONFIGURATIONS,
        "id": CUSTOM_CONFIGURATION,
        "assignment": {"target": {"@odata.type": "#x.groupAssignmentTarget", "groupId": "g9"}},
    }
    first = apply_changes(tenant, document(change))
    second = apply_changes(tenant, document(change))
    assignments = find(first.snapshot, DEVICE_CONFIGURATIONS, CUSTOM_CONFIGURATION)["assignments"]
    assert assignments[-1]["id"] == f"{CUSTOM_CONFIGURATION}_g9"
    assert first.snapshot == second.snapshot
    prop = first.applied[0].modified_properties[0]
    assert (prop.name, prop.old_value, prop.new_value["id"]) == (
        "assignments",
        None,
        f"{CUSTOM_CONFIGURATION}_g9",
    )


def test_add_assignment_keeps_a_given_id_and_avoids_generated_clashes(
    tenant: dict[str, Any],
) -> None:
    target = {"@odata.type": "#x.groupAssignmentTarget", "groupId": DYNAMIC_GROUP}
    result = apply_changes(
        tenant,
        document(
            {
                "op": "addAssignment",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "assignment": {"target": dict(target)},
            },
            {
                "op": "addAssignment",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "assignment": {"id": "mine", "target": dict(target)},
            },
        ),
    )
    ids = [
        a["id"]
        for a in find(result.snapshot, DEVICE_CONFIGURATIONS, CUSTOM_CONFIGURATION)["assignments"]
    ]
    assert ids == [
        f"{CUSTOM_CONFIGURATION}_{DYNAMIC_GROUP}",
        f"{CUSTOM_CONFIGURATION}_{DYNAMIC_GROUP}_2",
        "mine",
    ]


def test_remove_assignment_by_id(tenant: dict[str, Any]) -> None:
    assignment_id = f"{PROFILE}_{DYNAMIC_GROUP}"
    result = apply_changes(
        tenant,
        document(
            {
                "op": "removeAssignment",
                "collection": AUTOPILOT_PROFILES,
                "id": PROFILE,
                "assignmentId": assignment_id,
            }
        ),
    )
    assert find(result.snapshot, AUTOPILOT_PROFILES, PROFILE)["assignments"] == []
    prop = result.applied[0].modified_properties[0]
    assert prop.old_value["id"] == assignment_id
    assert prop.new_value is None


def test_remove_assignment_by_target_removes_every_match(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {
                "op": "removeAssignment",
                "collection": MOBILE_APPS,
                "id": WIN32_APP,
                "target": {"groupId": DYNAMIC_GROUP},
            }
        ),
    )
    assert find(result.snapshot, MOBILE_APPS, WIN32_APP)["assignments"] == []
    assert len(result.applied[0].modified_properties) == 1


def test_add_puts_an_object_with_empty_navigations_and_a_stable_generated_id(
    tenant: dict[str, Any],
) -> None:
    doc = document(
        {
            "op": "add",
            "collection": MOBILE_APPS,
            "object": {"@odata.type": "#microsoft.graph.win32LobApp", "displayName": "New"},
        }
    )
    result = apply_changes(tenant, doc)
    added = result.snapshot["collections"][MOBILE_APPS][-1]
    assert added["displayName"] == "New"
    assert added["assignments"] == []
    assert added["relationships"] == []
    assert result.applied[0].object_id == added["id"]
    again = apply_changes(tenant, doc)
    assert again.snapshot["collections"][MOBILE_APPS][-1]["id"] == added["id"]


def test_add_of_an_assigned_group_gives_it_members_but_not_a_dynamic_one(
    tenant: dict[str, Any],
) -> None:
    result = apply_changes(
        tenant,
        document(
            {"op": "add", "collection": GROUPS, "object": {"id": "g-a", "groupTypes": []}},
            {
                "op": "add",
                "collection": GROUPS,
                "object": {"id": "g-d", "groupTypes": ["DynamicMembership"]},
            },
        ),
    )
    assert find(result.snapshot, GROUPS, "g-a")["members"] == []
    assert "members" not in find(result.snapshot, GROUPS, "g-d")


def test_remove_takes_the_object_out(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant, document({"op": "remove", "collection": GROUPS, "id": PAUSED_GROUP})
    )
    assert PAUSED_GROUP not in {g["id"] for g in result.snapshot["collections"][GROUPS]}
    assert result.applied[0].display_name == "Autopilot - GroupTag 1798"


def test_set_group_rule_records_rule_and_processing_state(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {
                "op": "setGroupRule",
                "id": DYNAMIC_GROUP,
                "membershipRule": '(device.devicePhysicalIds -any _ -eq "[OrderID]:1")',
                "membershipRuleProcessingState": "Paused",
            }
        ),
    )
    group = find(result.snapshot, GROUPS, DYNAMIC_GROUP)
    assert group["membershipRuleProcessingState"] == "Paused"
    names = [p.name for p in result.applied[0].modified_properties]
    assert names == ["membershipRule", "membershipRuleProcessingState"]
    assert result.applied[0].collection == GROUPS


def test_group_members_are_added_and_removed(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {"op": "removeGroupMember", "id": ASSIGNED_GROUP, "memberId": device_id(0)},
            {"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": "new-device"},
        ),
    )
    member_ids = [m["id"] for m in find(result.snapshot, GROUPS, ASSIGNED_GROUP)["members"]]
    assert device_id(0) not in member_ids
    assert member_ids[-1] == "new-device"
    added = result.applied[1].modified_properties[0].new_value
    assert added == {"@odata.type": "#microsoft.graph.device", "id": "new-device"}


def test_changes_apply_in_order_and_see_earlier_ones(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant,
        document(
            {"op": "add", "collection": GROUPS, "object": {"id": "g-new", "displayName": "N"}},
            {"op": "set", "collection": GROUPS, "id": "g-new", "path": "displayName", "value": "M"},
        ),
    )
    assert find(result.snapshot, GROUPS, "g-new")["displayName"] == "M"
    assert [a.index for a in result.applied] == [0, 1]


def test_actor_is_returned_for_audit_records(tenant: dict[str, Any]) -> None:
    result = apply_changes(
        tenant, document(actor={"userPrincipalName": "admin@contoso.com"}, description="why")
    )
    assert result.actor == {"userPrincipalName": "admin@contoso.com"}
    assert result.applied == ()


# --- errors ---------------------------------------------------------------------------------


def test_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "change.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ChangeError, match=r"change\.json: is not JSON: .* line 1"):
        load_change_document(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ChangeError, match=r"absent\.json: cannot be read"):
        load_change_document(tmp_path / "absent.json")


def test_loaded_document_errors_name_file_and_json_path(tmp_path: Path) -> None:
    path = tmp_path / "what-if.json"
    path.write_text(
        json.dumps(document({"op": "set", "collection": GROUPS, "id": "x", "value": 1})),
        encoding="utf-8",
    )
    with pytest.raises(ChangeError) as caught:
        load_change_document(path)
    assert str(caught.value).startswith(f"{path}: changes[0].path: missing")
    assert caught.value.location == "changes[0].path"


def test_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    doc = document({"op": "remove", "collection": GROUPS, "id": DYNAMIC_GROUP})
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load_change_document(path) == doc


@pytest.mark.parametrize(
    ("doc", "location", "problem"),
    [
        ([], "", "must be a JSON object"),
        ({"changes": []}, "format", "missing"),
        ({"format": "greenscreen.tenant-changes/2", "changes": []}, "format", "expected"),
        ({"format": CHANGE_FORMAT}, "changes", "missing"),
        ({"format": CHANGE_FORMAT, "changes": {}}, "changes", "must be an array"),
        ({"format": CHANGE_FORMAT, "changes": [], "extra": 1}, "extra", "unknown field"),
        ({"format": CHANGE_FORMAT, "changes": [], "actor": "me"}, "actor", "must be an object"),
        (
            {"format": CHANGE_FORMAT, "changes": [], "actor": {"userPrincipalName": 1}},
            "actor.userPrincipalName",
            "must be a string",
        ),
        (document(7), "changes[0]", "must be an object"),
        (document({"collection": GROUPS}), "changes[0].op", "missing"),
        (document({"op": "rename"}), "changes[0].op", "unknown op 'rename'"),
        (
            document({"op": "remove", "collection": GROUPS, "id": "x", "path": "a"}),
            "changes[0].path",
            "unknown field",
        ),
        (document({"op": "remove", "collection": GROUPS}), "changes[0].id", "missing"),
        (document({"op": "remove", "collection": 3, "id": "x"}), "changes[0].collection", "string"),
        (document({"op": "remove", "collection": GROUPS, "id": ""}), "changes[0].id", "empty"),
        (
            document({"op": "set", "collection": GROUPS, "id": "x", "path": 5, "value": 1}),
            "changes[0].path",
            "dotted string or an array",
        ),
        (
            document({"op": "set", "collection": GROUPS, "id": "x", "path": "a..b", "value": 1}),
            "changes[0].path",
            "empty segments",
        ),
        (
            document({"op": "add", "collection": GROUPS, "object": []}),
            "changes[0].object",
            "must be an object",
        ),
        (
            document({"op": "add", "collection": GROUPS, "object": {"id": "a/b"}}),
            "changes[0].object.id",
            "without '/'",
        ),
        (
            document({"op": "addAssignment", "collection": GROUPS, "id": "x", "assignment": {}}),
            "changes[0].assignment.target",
            "missing",
        ),
        (
            document({"op": "removeAssignment", "collection": MOBILE_APPS, "id": WIN32_APP}),
            "changes[0]",
            "exactly one of",
        ),
        (document({"op": "setGroupRule", "id": DYNAMIC_GROUP}), "changes[0]", "needs"),
        (
            document(
                {"op": "setGroupRule", "id": DYNAMIC_GROUP, "membershipRuleProcessingState": "Off"}
            ),
            "changes[0].membershipRuleProcessingState",
            "'On' or 'Paused'",
        ),
    ],
)
def test_structurally_invalid_documents_are_rejected_with_their_json_path(
    doc: Any, location: str, problem: str
) -> None:
    with pytest.raises(ChangeError) as caught:
        validate_change_document(doc, source="doc.json")
    assert caught.value.location == location
    assert problem in caught.value.problem
    assert str(caught.value).startswith("doc.json: ")


@pytest.mark.parametrize(
    ("change", "location", "problem"),
    [
        (
            {"op": "remove", "collection": "deviceManagement/managedDevices", "id": "x"},
            "changes[0].collection",
            "unknown collection",
        ),
        (
            {"op": "remove", "collection": CONDITIONAL_ACCESS_POLICIES, "id": "x"},
            "changes[0].collection",
            "could not be read",
        ),
        ({"op": "remove", "collection": GROUPS, "id": "nope"}, "changes[0].id", "no object"),
        (
            {"op": "set", "collection": GROUPS, "id": DYNAMIC_GROUP, "path": "id", "value": "x"},
            "changes[0].path",
            "cannot be changed",
        ),
        (
            {
                "op": "set",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "path": "omaSettings.5.value",
                "value": 1,
            },
            "changes[0].path",
            "not an index",
        ),
        (
            {
                "op": "set",
                "collection": GROUPS,
                "id": DYNAMIC_GROUP,
                "path": "displayName.first",
                "value": 1,
            },
            "changes[0].path",
            "is a string",
        ),
        (
            {
                "op": "set",
                "collection": GROUPS,
                "id": DYNAMIC_GROUP,
                "path": "absent.0",
                "value": 1,
            },
            "changes[0].path",
            "has no index",
        ),
        (
            {
                "op": "addAssignment",
                "collection": GROUPS,
                "id": DYNAMIC_GROUP,
                "assignment": {"target": {}},
            },
            "changes[0].collection",
            "have no assignments",
        ),
        (
            {
                "op": "addAssignment",
                "collection": AUTOPILOT_PROFILES,
                "id": PROFILE,
                "assignment": {"id": f"{PROFILE}_{DYNAMIC_GROUP}", "target": {}},
            },
            "changes[0].assignment.id",
            "already exists",
        ),
        (
            {
                "op": "removeAssignment",
                "collection": AUTOPILOT_PROFILES,
                "id": PROFILE,
                "assignmentId": "nope",
            },
            "changes[0].assignmentId",
            "no assignment",
        ),
        (
            {
                "op": "removeAssignment",
                "collection": AUTOPILOT_PROFILES,
                "id": PROFILE,
                "target": {"groupId": "nope"},
            },
            "changes[0].target",
            "no assignment",
        ),
        (
            {"op": "add", "collection": GROUPS, "object": {"id": DYNAMIC_GROUP}},
            "changes[0].object.id",
            "already exists",
        ),
        (
            {"op": "setGroupRule", "id": ASSIGNED_GROUP, "membershipRule": "x"},
            "changes[0].id",
            "not a dynamic group",
        ),
        ({"op": "setGroupRule", "id": "nope", "membershipRule": "x"}, "changes[0].id", "no object"),
        (
            {"op": "addGroupMember", "id": DYNAMIC_GROUP, "memberId": "d"},
            "changes[0].id",
            "is dynamic",
        ),
        (
            {"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": device_id(1)},
            "changes[0].memberId",
            "already a member",
        ),
        (
            {"op": "removeGroupMember", "id": ASSIGNED_GROUP, "memberId": "stranger"},
            "changes[0].memberId",
            "not a member",
        ),
    ],
)
def test_changes_that_do_not_fit_the_tenant_are_rejected_with_their_json_path(
    tenant: dict[str, Any], change: dict[str, Any], location: str, problem: str
) -> None:
    error = error_of(tenant, document(change))
    assert error.location == location
    assert problem in error.problem


def test_a_failing_change_rejects_the_whole_document(tenant: dict[str, Any]) -> None:
    original = copy.deepcopy(tenant)
    error = error_of(
        tenant,
        document(
            {"op": "remove", "collection": GROUPS, "id": DYNAMIC_GROUP},
            {"op": "remove", "collection": GROUPS, "id": DYNAMIC_GROUP},
        ),
    )
    assert error.location == "changes[1].id"
    assert tenant == original


def test_error_names_the_source_given_to_apply(tenant: dict[str, Any]) -> None:
    with pytest.raises(ChangeError, match=r"^plan\.json: changes\[0\]\.id: "):
        apply_changes(
            tenant, document({"op": "remove", "collection": GROUPS, "id": "x"}), source="plan.json"
        )
