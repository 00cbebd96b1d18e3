"""The bundled Contoso sample and the synthetic generator keep the snapshot contract.

The contract is docs/snapshot-format.md: known collection paths only, unique ids, every group that
an assignment names is present (and only those), members on assigned groups only, relationships
and settings inlined consistently with Graph's counts, and one Entra device per Autopilot device.
"""

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitors.graph import collections as reader_fields
from rules import tenant_collections as paths
from samples import build_sample
from samples.synthetic import generate_tenant
from samples.synthetic import main as synthetic_main

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "monitors" / "schemas" / "tenant-snapshot.schema.json"
README_PATH = REPO / "samples" / "README.md"

Tenant = dict[str, Any]

ASSIGNED_COLLECTIONS = (
    paths.AUTOPILOT_PROFILES,
    paths.ENROLLMENT_CONFIGURATIONS,
    paths.DEVICE_CONFIGURATIONS,
    paths.SETTINGS_CATALOG_POLICIES,
    paths.PLATFORM_SCRIPTS,
    paths.COMPLIANCE_POLICIES,
    paths.MOBILE_APPS,
)
# The reader `$select`s these collections: the tenants must hold exactly what it reads back.
GROUP_FIELDS = set(reader_fields.GROUP_FIELDS)
AUTOPILOT_DEVICE_FIELDS = set(reader_fields.AUTOPILOT_DEVICE_FIELDS) | {
    "@odata.type",
    "deploymentProfile",
    "intendedDeploymentProfile",
}
ENTRA_DEVICE_FIELDS = set(reader_fields.ENTRA_DEVICE_FIELDS)
SMALL_COUNTS = {
    "apps": 200,
    "device_configurations": 20,
    "settings_policies": 10,
    "scripts": 5,
    "enrollment_configurations": 5,
    "profiles": 3,
    "groups": 80,
    "devices": 300,
    "compliance_policies": 3,
    "filters": 3,
}
COLLECTION_OF_COUNT = {
    "apps": paths.MOBILE_APPS,
    "device_configurations": paths.DEVICE_CONFIGURATIONS,
    "settings_policies": paths.SETTINGS_CATALOG_POLICIES,
    "scripts": paths.PLATFORM_SCRIPTS,
    "enrollment_configurations": paths.ENROLLMENT_CONFIGURATIONS,
    "profiles": paths.AUTOPILOT_PROFILES,
    "groups": paths.GROUPS,
    "devices": paths.AUTOPILOT_DEVICES,
    "compliance_policies": paths.COMPLIANCE_POLICIES,
    "filters": paths.ASSIGNMENT_FILTERS,
}
# The breaks samples/README.md promises, by the catalog ids they should trigger.
SAMPLE_BREAK_RULE_IDS = (
    "APP-001",
    "ESP-003",
    "APP-013",
    "GRP-002",
    "DEV-008",
    "DEV-001",
    "DEV-004",
    "GRP-006",
    "APP-004",
)


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Tenant:
    tenant: Tenant = json.loads(build_sample.SAMPLE_PATH.read_text(encoding="utf-8"))
    return tenant


@pytest.fixture(scope="module")
def synthetic() -> Tenant:
    return generate_tenant(**SMALL_COUNTS, seed=7)


@pytest.fixture(params=["sample", "synthetic"])
def tenant(request: pytest.FixtureRequest) -> Tenant:
    chosen: Tenant = request.getfixturevalue(request.param)
    return chosen


def collection(tenant: Tenant, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = tenant["collections"][path]
    return items


def by_id(tenant: Tenant, path: str) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in collection(tenant, path)}


def assignment_targets(tenant: Tenant) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(collection path, owning object, target) for every assignment in the tenant."""
    for path in ASSIGNED_COLLECTIONS:
        for owner in collection(tenant, path):
            for assignment in owner["assignments"]:
                yield path, owner, assignment["target"]


def referenced_group_ids(tenant: Tenant) -> set[str]:
    referenced = {
        target["groupId"] for _, _, target in assignment_targets(tenant) if "groupId" in target
    }
    for policy in collection(tenant, paths.MDM_POLICIES):
        referenced.update(group["id"] for group in policy["includedGroups"])
    return referenced


def group_ids(tenant: Tenant) -> set[str]:
    return set(by_id(tenant, paths.GROUPS))


def is_dynamic(group: dict[str, Any]) -> bool:
    return "DynamicMembership" in group["groupTypes"]


def targets_of(owner: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(a["target"]["@odata.type"], a["target"].get("groupId")) for a in owner["assignments"]]


def app_named(tenant: Tenant, display_name: str) -> dict[str, Any]:
    return by_id(tenant, paths.MOBILE_APPS)[build_sample.app_id(display_name)]


INCLUDE = "#microsoft.graph.groupAssignmentTarget"


# --- the committed sample ------------------------------------------------------------------------


def test_committed_sample_is_exactly_what_build_sample_produces() -> None:
    committed = build_sample.SAMPLE_PATH.read_text(encoding="utf-8")
    assert committed == build_sample.render_sample()


def test_build_sample_check_fails_on_a_drifted_file_and_passes_after_rebuilding(
    tmp_path: Path,
) -> None:
    target = tmp_path / "sample.json"
    target.write_text("{}\n", encoding="utf-8")

    assert build_sample.main(["--out", str(target), "--check"]) == 1
    assert build_sample.main(["--out", str(target)]) == 0
    assert build_sample.main(["--out", str(target), "--check"]) == 0


def test_sample_header_is_fixed_and_no_collection_failed(sample: Tenant) -> None:
    assert sample["format"] == "greenscreen.tenant-snapshot/1"
    assert sample["tenantId"] == str(uuid.UUID(sample["tenantId"]))
    assert sample["capturedAt"] == "2026-11-24T09:00:00Z"
    assert sample["errors"] == {}


def test_sample_holds_every_known_collection(sample: Tenant) -> None:
    assert list(sample["collections"]) == list(paths.ALL_COLLECTIONS)


def test_sample_groups_are_the_referenced_ones_plus_nothing_but_the_deleted_lab_group_missing(
    sample: Tenant,
) -> None:
    referenced = referenced_group_ids(sample)

    assert referenced - group_ids(sample) == {build_sample.DELETED_LAB_DEVICES}
    assert group_ids(sample) == referenced - {build_sample.DELETED_LAB_DEVICES}


def test_sample_assigned_device_groups_list_entra_devices_of_the_tenant_or_legacy_clients(
    sample: Tenant,
) -> None:
    pilot = by_id(sample, paths.GROUPS)[build_sample.UPDATE_PILOT_DEVICES]
    entra_object_ids = set(by_id(sample, paths.DEVICES))

    assert pilot["members"]
    assert {member["id"] for member in pilot["members"]} <= entra_object_ids


# --- the deliberate breaks of the sample ---------------------------------------------------------


def test_readme_names_every_rule_the_sample_breaks() -> None:
    readme = README_PATH.read_text(encoding="utf-8")

    assert [rule for rule in SAMPLE_BREAK_RULE_IDS if rule not in readme] == []


def test_sample_blocks_the_device_esp_on_a_win32_app_installing_as_user(sample: Tenant) -> None:
    zoom = app_named(sample, build_sample.ZOOM)
    main_esp = next(
        c
        for c in collection(sample, paths.ENROLLMENT_CONFIGURATIONS)
        if c["displayName"] == "Autopilot - Pre-provisioning ESP"
    )

    assert zoom["installExperience"]["runAsAccount"] == "user"
    assert zoom["id"] in main_esp["selectedMobileAppIds"]
    assert targets_of(main_esp) == [(INCLUDE, build_sample.AP_ALL_DEVICES)]
    assert [a["intent"] for a in zoom["assignments"]] == ["required"]


def test_sample_requires_an_app_for_a_user_group_only(sample: Tenant) -> None:
    crm = app_named(sample, build_sample.CRM_CLIENT)
    sales_users = by_id(sample, paths.GROUPS)[build_sample.SALES_USERS]

    assert targets_of(crm) == [(INCLUDE, build_sample.SALES_USERS)]
    assert sales_users["membershipRule"].startswith("(user.")


def test_sample_pauses_the_group_tag_group_of_a_pre_provisioning_profile(sample: Tenant) -> None:
    sales_group = by_id(sample, paths.GROUPS)[build_sample.AP_SALES_DEVICES]
    sales_profile = by_id(sample, paths.AUTOPILOT_PROFILES)[build_sample.SALES_PROFILE_ID]

    assert sales_group["membershipRuleProcessingState"] == "Paused"
    assert "[OrderID]:" in sales_group["membershipRule"]
    assert sales_profile["preprovisioningAllowed"] is True
    assert targets_of(sales_profile) == [(INCLUDE, build_sample.AP_SALES_DEVICES)]


def test_sample_has_exactly_one_virtual_machine_one_unassigned_and_one_remediation_device(
    sample: Tenant,
) -> None:
    devices = collection(sample, paths.AUTOPILOT_DEVICES)

    virtual_machines = [
        d
        for d in devices
        if d["model"] == "Virtual Machine" and d["manufacturer"] == "Microsoft Corporation"
    ]
    statuses = Counter(d["deploymentProfileAssignmentStatus"] for d in devices)
    remediation = Counter(d["remediationState"] for d in devices)

    assert len(virtual_machines) == 1
    assert statuses == {"assignedInSync": len(devices) - 1, "notAssigned": 1}
    assert remediation == {
        "noRemediationRequired": len(devices) - 1,
        "manualRemediationRequired": 1,
    }


def test_sample_requires_a_lob_msi_and_win32_apps_for_the_same_device_group(
    sample: Tenant,
) -> None:
    required_types = {
        app["@odata.type"]
        for app in collection(sample, paths.MOBILE_APPS)
        for a in app["assignments"]
        if a["intent"] == "required" and a["target"].get("groupId") == build_sample.AP_ALL_DEVICES
    }

    assert {"#microsoft.graph.win32LobApp", "#microsoft.graph.windowsMobileMSI"} <= required_types


def test_sample_assigns_skip_user_status_page_to_the_autopilot_device_group(
    sample: Tenant,
) -> None:
    skip_user_esp = [
        c
        for c in collection(sample, paths.DEVICE_CONFIGURATIONS)
        if c["@odata.type"] == "#microsoft.graph.windows10CustomConfiguration"
        and any(
            s["omaUri"] == build_sample.SKIP_USER_STATUS_PAGE_URI and s["value"] is True
            for s in c["omaSettings"]
        )
    ]

    assert [targets_of(c) for c in skip_user_esp] == [[(INCLUDE, build_sample.AP_ALL_DEVICES)]]


# --- the contract, for the sample and a small synthetic tenant -----------------------------------


def test_tenant_validates_against_the_snapshot_schema(tenant: Tenant) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)

    errors = [error.json_path for error in validator_class(schema).iter_errors(tenant)]

    assert errors == []


def test_tenant_uses_only_known_collection_paths(tenant: Tenant) -> None:
    assert set(tenant["collections"]) <= set(paths.ALL_COLLECTIONS)


def test_ids_are_unique_within_each_collection(tenant: Tenant) -> None:
    duplicates = {
        path: [i for i, n in Counter(item["id"] for item in items).items() if n > 1]
        for path, items in tenant["collections"].items()
    }

    assert {path: ids for path, ids in duplicates.items() if ids} == {}


def test_assignment_ids_are_unique_within_each_object(tenant: Tenant) -> None:
    repeated = [
        owner["id"]
        for path in ASSIGNED_COLLECTIONS
        for owner in collection(tenant, path)
        if len({a["id"] for a in owner["assignments"]}) != len(owner["assignments"])
    ]

    assert repeated == []


def test_assignment_filters_on_targets_exist_and_agree_with_the_filter_type(
    tenant: Tenant,
) -> None:
    filter_ids = set(by_id(tenant, paths.ASSIGNMENT_FILTERS))
    problems = [
        (owner["id"], target)
        for _, owner, target in assignment_targets(tenant)
        if (target["deviceAndAppManagementAssignmentFilterId"] is None)
        != (target["deviceAndAppManagementAssignmentFilterType"] == "none")
        or target["deviceAndAppManagementAssignmentFilterId"] not in filter_ids | {None}
    ]

    assert problems == []


def test_groups_have_exactly_the_contract_fields_and_members_only_when_assigned(
    tenant: Tenant,
) -> None:
    for group in collection(tenant, paths.GROUPS):
        if is_dynamic(group):
            assert set(group) == GROUP_FIELDS, group["displayName"]
            assert group["membershipRule"], group["displayName"]
        else:
            assert set(group) == GROUP_FIELDS | {"members"}, group["displayName"]
            assert group["membershipRule"] is None, group["displayName"]


def test_every_app_carries_relationships_consistent_with_its_counts(tenant: Tenant) -> None:
    apps = by_id(tenant, paths.MOBILE_APPS)
    for app in apps.values():
        relationships = app["relationships"]
        kinds = Counter((r["@odata.type"], r["targetType"]) for r in relationships)
        assert (
            kinds[("#microsoft.graph.mobileAppDependency", "child")] == app["dependentAppCount"]
        ), app["displayName"]
        assert (
            kinds[("#microsoft.graph.mobileAppSupersedence", "child")] == app["supersedingAppCount"]
        ), app["displayName"]
        assert (
            kinds[("#microsoft.graph.mobileAppSupersedence", "parent")] == app["supersededAppCount"]
        ), app["displayName"]
        assert sum(kinds.values()) == len(relationships), app["displayName"]
        assert all(r["sourceId"] == app["id"] for r in relationships), app["displayName"]
        assert all(r["targetId"] in apps for r in relationships), app["displayName"]


def test_supersedence_is_listed_on_both_apps(tenant: Tenant) -> None:
    apps = by_id(tenant, paths.MOBILE_APPS)
    for app in apps.values():
        for relationship in app["relationships"]:
            if relationship["@odata.type"] != "#microsoft.graph.mobileAppSupersedence":
                continue
            mirrored = {
                (r["id"], r["targetId"], r["targetType"])
                for r in apps[relationship["targetId"]]["relationships"]
            }
            other_side = "parent" if relationship["targetType"] == "child" else "child"
            assert (relationship["id"], app["id"], other_side) in mirrored


def test_every_settings_catalog_policy_carries_settings_matching_its_count(
    tenant: Tenant,
) -> None:
    for policy in collection(tenant, paths.SETTINGS_CATALOG_POLICIES):
        assert len(policy["settings"]) == policy["settingCount"], policy["name"]
        assert all("settingInstance" in setting for setting in policy["settings"])


def test_autopilot_devices_and_entra_devices_pair_one_to_one(tenant: Tenant) -> None:
    autopilot_devices = collection(tenant, paths.AUTOPILOT_DEVICES)
    entra_by_device_id = {d["deviceId"]: d for d in collection(tenant, paths.DEVICES)}

    assert len(entra_by_device_id) == len(collection(tenant, paths.DEVICES))
    assert sorted(d["azureAdDeviceId"] for d in autopilot_devices) == sorted(entra_by_device_id)
    for device in autopilot_devices:
        entra = entra_by_device_id[device["azureAdDeviceId"]]
        assert device["azureActiveDirectoryDeviceId"] == device["azureAdDeviceId"]
        assert f"[ZTDId]:{device['id']}" in entra["physicalIds"]
        assert (f"[OrderID]:{device['groupTag']}" in entra["physicalIds"]) == bool(
            device["groupTag"]
        )


def test_devices_have_exactly_the_contract_fields(tenant: Tenant) -> None:
    assert all(
        set(d) == AUTOPILOT_DEVICE_FIELDS for d in collection(tenant, paths.AUTOPILOT_DEVICES)
    )
    assert all(set(d) == ENTRA_DEVICE_FIELDS for d in collection(tenant, paths.DEVICES))


def test_device_profile_references_name_a_profile_of_the_tenant(tenant: Tenant) -> None:
    profiles = by_id(tenant, paths.AUTOPILOT_PROFILES)
    for device in collection(tenant, paths.AUTOPILOT_DEVICES):
        for key in ("deploymentProfile", "intendedDeploymentProfile"):
            reference = device[key]
            if reference is None:
                continue
            profile = profiles[reference["id"]]
            assert reference == {
                "@odata.type": profile["@odata.type"],
                "id": profile["id"],
                "displayName": profile["displayName"],
            }


def test_esp_blocking_apps_exist(tenant: Tenant) -> None:
    apps = by_id(tenant, paths.MOBILE_APPS)
    missing = [
        app_id
        for configuration in collection(tenant, paths.ENROLLMENT_CONFIGURATIONS)
        for app_id in configuration.get("selectedMobileAppIds", [])
        if app_id not in apps
    ]

    assert missing == []


# --- the synthetic generator ---------------------------------------------------------------------


def test_synthetic_groups_are_exactly_the_referenced_groups(synthetic: Tenant) -> None:
    assert group_ids(synthetic) == referenced_group_ids(synthetic)


def test_synthetic_tenant_has_the_requested_number_of_each_object(synthetic: Tenant) -> None:
    counts = {name: len(collection(synthetic, p)) for name, p in COLLECTION_OF_COUNT.items()}

    assert counts == SMALL_COUNTS
    assert len(collection(synthetic, paths.DEVICES)) == SMALL_COUNTS["devices"]


def test_synthetic_tenant_is_byte_identical_for_the_same_arguments() -> None:
    first = json.dumps(generate_tenant(**SMALL_COUNTS, seed=3))
    second = json.dumps(generate_tenant(**SMALL_COUNTS, seed=3))

    assert first == second


def test_synthetic_tenants_differ_between_seeds() -> None:
    assert generate_tenant(**SMALL_COUNTS, seed=1) != generate_tenant(**SMALL_COUNTS, seed=2)


def test_synthetic_tenant_includes_dependencies_supersedence_and_assigned_groups(
    synthetic: Tenant,
) -> None:
    relationship_types = {
        r["@odata.type"]
        for app in collection(synthetic, paths.MOBILE_APPS)
        for r in app["relationships"]
    }
    assigned_groups = [g for g in collection(synthetic, paths.GROUPS) if not is_dynamic(g)]

    assert relationship_types == {
        "#microsoft.graph.mobileAppDependency",
        "#microsoft.graph.mobileAppSupersedence",
    }
    assert any(group["members"] for group in assigned_groups)


def test_synthetic_assigned_device_group_members_are_entra_devices_of_the_tenant(
    synthetic: Tenant,
) -> None:
    entra_object_ids = set(by_id(synthetic, paths.DEVICES))
    device_members = {
        member["id"]
        for group in collection(synthetic, paths.GROUPS)
        for member in group.get("members", [])
        if member["@odata.type"] == "#microsoft.graph.device"
    }

    assert device_members
    assert device_members <= entra_object_ids


def test_synthetic_tenant_with_every_count_zero_is_empty_but_valid() -> None:
    empty = generate_tenant(**dict.fromkeys(SMALL_COUNTS, 0))

    assert {name: len(collection(empty, p)) for name, p in COLLECTION_OF_COUNT.items()} == (
        dict.fromkeys(SMALL_COUNTS, 0)
    )
    assert set(empty["collections"]) <= set(paths.ALL_COLLECTIONS)


def test_synthetic_groups_without_anything_to_reference_them_are_rejected() -> None:
    with pytest.raises(ValueError, match="referenced"):
        generate_tenant(**{**dict.fromkeys(SMALL_COUNTS, 0), "groups": 5, "profiles": 1})


def test_synthetic_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="apps"):
        generate_tenant(apps=-1)


def test_synthetic_cli_writes_the_tenant_the_function_generates(tmp_path: Path) -> None:
    out = tmp_path / "tenant.json"
    arguments = [f"--{name.replace('_', '-')}={value}" for name, value in SMALL_COUNTS.items()]

    assert synthetic_main(["--out", str(out), "--seed", "5", *arguments]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == generate_tenant(**SMALL_COUNTS, seed=5)
