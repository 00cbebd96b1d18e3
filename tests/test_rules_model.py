"""The typed snapshot model: parsing, unreadable data, tolerance of Graph's gaps, lookups."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rules.assignments import FilterType, TargetKind
from rules.snapshot_model import ReadError, SnapshotModelError, TenantSnapshot
from rules.tenant_collections import (
    ALL_COLLECTIONS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import NOT_READ, EnrollmentConfigurationKind, ObjectReference
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEFAULT_ESP_ID,
    DEVICE_A_ENTRA_DEVICE_ID,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_A_ID,
    DEVICE_ESP_ID,
    LIMIT_ID,
    PROFILE_ID,
    PROFILE_NAME,
    REMOVE,
    RESTRICTIONS_ID,
    SETTINGS_POLICY_ID,
    SURFACE_FILTER_ID,
    SURFACE_FILTER_RULE,
    TENANT_ID,
    healthy_tenant,
    include_group,
)

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1] / "monitors" / "schemas" / ("tenant-snapshot.schema.json")
)


def test_healthy_tenant_document_satisfies_the_snapshot_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

    jsonschema.Draft202012Validator(schema).validate(healthy_tenant().document())


def test_healthy_tenant_parses_every_collection_into_tuples() -> None:
    snapshot = healthy_tenant().snapshot()

    assert snapshot.tenant_id == TENANT_ID
    assert snapshot.captured_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert snapshot.collection_errors == {}
    collections = [
        getattr(snapshot, field.name)
        for field in dataclasses.fields(snapshot)
        if field.name.endswith("s")
        and not field.name.startswith("_")
        and not field.name.endswith("errors")
    ]
    assert len(collections) == len(ALL_COLLECTIONS)
    assert all(isinstance(collection, tuple) for collection in collections)
    assert {profile.id for profile in snapshot.autopilot_profiles or ()} == {PROFILE_ID}
    assert snapshot.domain_join_connectors == ()


def test_unreadable_collection_is_none_and_keeps_its_error() -> None:
    snapshot = healthy_tenant().unreadable(GROUPS, status=403, message="Forbidden").snapshot()

    assert snapshot.groups is None
    assert snapshot.collection_error(GROUPS) == ReadError(403, "Forbidden")
    assert snapshot.group(AP_GROUP_ID) is None


def test_collection_read_and_empty_is_an_empty_tuple() -> None:
    snapshot = healthy_tenant().empty(MOBILE_APPS).snapshot()

    assert snapshot.mobile_apps == ()
    assert snapshot.collection_error(MOBILE_APPS) is None


def test_collection_absent_without_an_error_is_none() -> None:
    document = healthy_tenant().document()
    del document["collections"][DEVICES]

    assert TenantSnapshot.from_document(document).entra_devices is None


def test_navigation_error_makes_only_that_objects_navigation_none() -> None:
    snapshot = (
        healthy_tenant()
        .navigation_unreadable(SETTINGS_CATALOG_POLICIES, SETTINGS_POLICY_ID, "settings")
        .snapshot()
    )

    (policy,) = snapshot.settings_catalog_policies or ()
    assert policy.settings is None
    assert policy.assignments is not None
    assert snapshot.navigation_error(SETTINGS_CATALOG_POLICIES, SETTINGS_POLICY_ID, "settings") == (
        ReadError(429, "Too many requests")
    )


def test_navigation_present_but_recorded_as_failed_is_none() -> None:
    document = healthy_tenant().document()
    document["errors"][f"{MOBILE_APPS}/{AGENT_APP_ID}/assignments"] = {
        "status": 503,
        "message": "Service unavailable",
    }

    app = TenantSnapshot.from_document(document).mobile_app(AGENT_APP_ID)

    assert app is not None
    assert app.assignments is None


def test_navigation_missing_from_object_without_error_is_none() -> None:
    snapshot = healthy_tenant().patch(MOBILE_APPS, AGENT_APP_ID, relationships=REMOVE).snapshot()

    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None
    assert app.relationships is None
    assert app.assignments is not None


def test_raw_is_a_read_only_deep_copy() -> None:
    document = healthy_tenant().document()
    snapshot = TenantSnapshot.from_document(document)
    document["collections"][MOBILE_APPS][0]["displayName"] = "changed afterwards"

    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None
    assert app.raw["displayName"] == "Contoso Agent"
    with pytest.raises(TypeError):
        app.raw["displayName"] = "x"  # type: ignore[index]
    assert isinstance(app.raw["detectionRules"], tuple)


def test_snapshot_and_objects_are_frozen() -> None:
    snapshot = healthy_tenant().snapshot()

    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.groups = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.autopilot_profiles[0].display_name = "x"  # type: ignore[index,misc]


@pytest.mark.parametrize(
    ("fields", "allowed"),
    [
        ({"preprovisioningAllowed": True}, True),
        ({"preprovisioningAllowed": REMOVE, "enableWhiteGlove": True}, True),
        ({"preprovisioningAllowed": None, "enableWhiteGlove": True}, True),
        ({"preprovisioningAllowed": False, "enableWhiteGlove": False}, False),
        ({"preprovisioningAllowed": REMOVE}, False),
    ],
)
def test_preprovisioning_allowed_reads_the_new_flag_or_the_deprecated_one(
    fields: dict[str, Any], allowed: bool
) -> None:
    snapshot = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, fields).snapshot()

    profile = snapshot.autopilot_profile(PROFILE_ID)
    assert profile is not None
    assert profile.preprovisioning_allowed is allowed


def test_device_usage_type_falls_back_to_the_deprecated_settings_object() -> None:
    snapshot = (
        healthy_tenant()
        .patch(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            outOfBoxExperienceSetting=REMOVE,
            outOfBoxExperienceSettings={"hideEULA": True, "deviceUsageType": "shared"},
        )
        .snapshot()
    )

    profile = snapshot.autopilot_profile(PROFILE_ID)
    assert profile is not None
    assert profile.device_usage_type == "shared"


def test_hybrid_profile_is_recognised_by_its_type() -> None:
    snapshot = (
        healthy_tenant()
        .patch(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            {"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"},
        )
        .snapshot()
    )

    profile = snapshot.autopilot_profile(PROFILE_ID)
    assert profile is not None
    assert profile.is_hybrid


@pytest.mark.parametrize("collection", ALL_COLLECTIONS)
def test_object_with_only_an_id_parses_in_every_collection(collection: str) -> None:
    snapshot = healthy_tenant().empty(collection).add(collection, {"id": "bare"}).snapshot()

    (parsed,) = getattr(snapshot, _attribute_of(snapshot, collection))
    assert parsed.id == "bare"


def test_null_and_mistyped_optional_fields_are_tolerated() -> None:
    snapshot = (
        healthy_tenant()
        .patch(
            GROUPS,
            AP_GROUP_ID,
            displayName=None,
            groupTypes=None,
            membershipRule=42,
            createdDateTime="not a date",
            securityEnabled="yes",
        )
        .snapshot()
    )

    group = snapshot.group(AP_GROUP_ID)
    assert group is not None
    assert (group.display_name, group.group_types, group.is_dynamic) == ("", (), False)
    assert (group.membership_rule, group.created, group.security_enabled) == (None, None, None)


def test_assignment_targets_are_typed_with_or_without_the_hash() -> None:
    snapshot = (
        healthy_tenant()
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            {
                "intent": "required",
                "target": {"@odata.type": "microsoft.graph.allLicensedUsersAssignmentTarget"},
            },
            include_group(AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID),
            {
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": AP_GROUP_ID,
                    "deviceAndAppManagementAssignmentFilterId": SURFACE_FILTER_ID,
                    "deviceAndAppManagementAssignmentFilterType": "none",
                }
            },
            {
                "target": {
                    "@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget"
                }
            },
        )
        .snapshot()
    )

    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None
    assert app.assignments is not None
    summary = [(a.target_kind, a.group_id, a.filter_type, a.has_filter) for a in app.assignments]
    assert summary == [
        (TargetKind.ALL_LICENSED_USERS, None, FilterType.NONE, False),
        (TargetKind.GROUP_INCLUDE, AP_GROUP_ID, FilterType.INCLUDE, True),
        (TargetKind.GROUP_INCLUDE, AP_GROUP_ID, FilterType.NONE, False),
        (TargetKind.OTHER, None, FilterType.NONE, False),
    ]


def test_enrollment_configurations_are_classified_by_type() -> None:
    snapshot = (
        healthy_tenant()
        .add(
            ENROLLMENT_CONFIGURATIONS,
            {
                # Microsoft's own example ESP carries the placeholder type "limit".
                "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
                "id": "esp-doc-example",
                "priority": 8,
                "deviceEnrollmentConfigurationType": "limit",
            },
            {
                "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
                "id": "other_DefaultWindows10EnrollmentCompletionPageConfiguration",
                "priority": 0,
            },
            {
                "@odata.type": "#microsoft.graph.deviceComanagementAuthorityConfiguration",
                "id": "co",
            },
            {"@odata.type": "#microsoft.graph.windowsHelloForBusinessConfiguration", "id": "whfb"},
        )
        .snapshot()
    )

    kinds = {(c.id, c.kind) for c in snapshot.enrollment_configurations or ()}
    assert kinds == {
        (DEFAULT_ESP_ID, EnrollmentConfigurationKind.DEFAULT_ESP),
        (DEVICE_ESP_ID, EnrollmentConfigurationKind.ESP),
        (RESTRICTIONS_ID, EnrollmentConfigurationKind.PLATFORM_RESTRICTIONS),
        (LIMIT_ID, EnrollmentConfigurationKind.LIMIT),
        ("esp-doc-example", EnrollmentConfigurationKind.ESP),
        (
            "other_DefaultWindows10EnrollmentCompletionPageConfiguration",
            EnrollmentConfigurationKind.DEFAULT_ESP,
        ),
        ("co", EnrollmentConfigurationKind.CO_MANAGEMENT),
        ("whfb", EnrollmentConfigurationKind.OTHER),
    }


def test_autopilot_device_profile_navigation_distinguishes_null_from_not_read() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_A_ID, deploymentProfile=None)
    tenant.navigation_unreadable(AUTOPILOT_DEVICES, DEVICE_A_ID, "intendedDeploymentProfile")

    device = tenant.snapshot().autopilot_device(DEVICE_A_ID)

    assert device is not None
    assert device.deployment_profile is None
    assert device.intended_deployment_profile is NOT_READ


def test_autopilot_device_reads_the_v1_name_of_the_entra_device_id() -> None:
    snapshot = (
        healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_A_ID, azureAdDeviceId=REMOVE).snapshot()
    )

    device = snapshot.autopilot_device(DEVICE_A_ID)
    assert device is not None
    assert device.entra_device_id == DEVICE_A_ENTRA_DEVICE_ID
    assert device.deployment_profile == ObjectReference(
        PROFILE_ID, PROFILE_NAME, "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
    )


def test_settings_catalog_policy_takes_its_display_name_from_name() -> None:
    snapshot = healthy_tenant().snapshot()

    (policy,) = snapshot.settings_catalog_policies or ()
    assert (policy.display_name, policy.settings) == ("Contoso baseline", ())


def test_lookups_find_objects_by_their_ids() -> None:
    snapshot = healthy_tenant().snapshot()

    assert getattr(snapshot.group(AP_GROUP_ID), "id", None) == AP_GROUP_ID
    assert getattr(snapshot.mobile_app(AGENT_APP_ID), "id", None) == AGENT_APP_ID
    assert getattr(snapshot.assignment_filter(SURFACE_FILTER_ID), "rule", None) == (
        SURFACE_FILTER_RULE
    )
    assert getattr(snapshot.entra_device(DEVICE_A_ENTRA_OBJECT_ID), "id", None) == (
        DEVICE_A_ENTRA_OBJECT_ID
    )
    by_device_id = snapshot.entra_device_by_device_id(DEVICE_A_ENTRA_DEVICE_ID.upper())
    assert getattr(by_device_id, "id", None) == DEVICE_A_ENTRA_OBJECT_ID
    assert getattr(snapshot.enrollment_configuration(DEVICE_ESP_ID), "priority", None) == 1
    assert snapshot.group("no-such-group") is None


def test_derived_view_is_built_once_per_snapshot() -> None:
    snapshot = healthy_tenant().snapshot()
    builds: list[TenantSnapshot] = []

    def count_groups(built_from: TenantSnapshot) -> int:
        builds.append(built_from)
        return len(built_from.groups or ())

    assert snapshot.derived_view(count_groups) == snapshot.derived_view(count_groups) == 2
    assert builds == [snapshot]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d["collections"][GROUPS].append("not an object"), "must be a JSON object"),
        (lambda d: d["collections"][GROUPS].append({"displayName": "no id"}), "no string 'id'"),
        (lambda d: d["collections"].__setitem__(GROUPS, {}), "must be a JSON array"),
        (
            lambda d: d["errors"].__setitem__(GROUPS, {"status": 403, "message": "x"}),
            "both read and recorded as failed",
        ),
        (lambda d: d["collections"].__setitem__("users", []), "unknown collections"),
        (lambda d: d.__setitem__("capturedAt", "yesterday"), "capturedAt"),
        (lambda d: d.__setitem__("tenantId", ""), "tenantId"),
        (
            lambda d: d["errors"].__setitem__("groups/x/owners", {"status": 1, "message": "x"}),
            "names no known collection",
        ),
        (
            lambda d: d["collections"][DEVICE_CONFIGURATIONS][0].__setitem__("assignments", {}),
            "must be a JSON array",
        ),
        (
            lambda d: d["collections"][DEVICE_CONFIGURATIONS][0]["assignments"].append({}),
            "target must be a JSON object",
        ),
    ],
)
def test_structurally_impossible_documents_raise_a_clear_error(breakage: Any, message: str) -> None:
    document = healthy_tenant().document()
    breakage(document)

    with pytest.raises(SnapshotModelError, match=message):
        TenantSnapshot.from_document(document)


def _attribute_of(snapshot: TenantSnapshot, collection: str) -> str:
    # The one attribute that is a one-element tuple after replacing the collection.
    names = [
        field.name
        for field in dataclasses.fields(snapshot)
        if not field.name.startswith("_")
        and isinstance(getattr(snapshot, field.name), tuple)
        and len(getattr(snapshot, field.name)) == 1
        and getattr(snapshot, field.name)[0].id == "bare"
    ]
    assert len(names) == 1, (collection, names)
    return names[0]
