"""The Graph simulator over real HTTP: auth, errors, paging, $select/$expand/$filter, examples."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kiota_http.middleware.options import RetryHandlerOption
from msgraph_core.graph_client_factory import GraphClientFactory

from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICE_REGISTRATION_POLICY,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    INLINED_NAVIGATIONS,
    MDM_POLICIES,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from tests.graphsim import Fault, GraphSimulator
from tests.graphsim.clients import TEST_TOKEN, admin_client, graph_client, plain_client
from tests.graphsim.exchange import JSON_CONTENT_TYPE
from tests.graphsim.sample_tenants import (
    ASSIGNED_GROUP,
    AUTOPILOT_DEVICE,
    COMPLIANCE_POLICY,
    DYNAMIC_GROUP,
    EXAMPLE_LISTS,
    EXAMPLE_OBJECTS,
    MDM_POLICY,
    MSI_APP,
    PROFILE,
    REPOSITORY_ROOT,
    SETTINGS_POLICY,
    TENANT_ID,
    UNPROFILED_AUTOPILOT_DEVICE,
    UNREAD_SETTINGS_POLICY,
    WIN32_APP,
    ZTD_DEVICE_COUNT,
    device_id,
    example_object,
    examples_tenant,
    tiny_tenant,
)


def client_for(sim: GraphSimulator, version: str = "v1.0") -> httpx.Client:
    return graph_client(sim, version)


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(tiny_tenant()) as simulator:
        yield simulator


@pytest.fixture
def beta(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with client_for(sim, "beta") as client:
        yield client


@pytest.fixture
def v1(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with client_for(sim, "v1.0") as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def ids(response: httpx.Response) -> list[str]:
    return [item["id"] for item in response.json()["value"]]


# --- auth, headers, errors ------------------------------------------------------------------


def test_request_without_bearer_token_is_rejected_in_graph_error_shape(
    sim: GraphSimulator,
) -> None:
    with plain_client() as anonymous:
        response = anonymous.get(f"{sim.url}/v1.0/groups")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "InvalidAuthenticationToken"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert response.headers["request-id"] == error["innerError"]["request-id"]
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("authorization", ["Bearer", "Basic dXNlcjpwYXNz"])
def test_authorization_without_a_bearer_token_is_rejected(
    sim: GraphSimulator, authorization: str
) -> None:
    with plain_client() as client:
        response = client.get(f"{sim.url}/beta/groups", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_client_request_id_is_echoed(v1: httpx.Client) -> None:
    response = v1.get("groups", headers={"client-request-id": "abc-123"})
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"] != "abc-123"
    assert response.headers["content-type"] == JSON_CONTENT_TYPE


def test_both_versions_serve_the_same_tenant(v1: httpx.Client, beta: httpx.Client) -> None:
    assert ids(v1.get(MOBILE_APPS)) == ids(beta.get(MOBILE_APPS)) == [WIN32_APP, MSI_APP]


def test_unknown_segment_is_a_bad_request(v1: httpx.Client) -> None:
    response = v1.get("deviceManagement/nothingHere")
    assert response.status_code == 400
    assert "nothingHere" in error_of(response)["message"]


def test_unknown_directory_object_is_request_resource_not_found(v1: httpx.Client) -> None:
    response = v1.get("groups/00000000-0000-0000-0000-00000000dead")
    assert response.status_code == 404
    assert error_of(response)["code"] == "Request_ResourceNotFound"


def test_unknown_intune_object_is_resource_not_found(beta: httpx.Client) -> None:
    response = beta.get(f"{MOBILE_APPS}/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "ResourceNotFound"


def test_collection_recorded_as_error_answers_with_that_status(v1: httpx.Client) -> None:
    response = v1.get(CONDITIONAL_ACCESS_POLICIES)
    assert response.status_code == 403
    assert error_of(response)["message"] == "Insufficient privileges to complete the operation."


def test_navigation_recorded_as_error_answers_with_that_status(beta: httpx.Client) -> None:
    response = beta.get(f"{SETTINGS_CATALOG_POLICIES}/{UNREAD_SETTINGS_POLICY}/settings")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    single = beta.get(f"{SETTINGS_CATALOG_POLICIES}/{UNREAD_SETTINGS_POLICY}?$expand=settings")
    assert single.status_code == 429


def test_writes_to_tenant_collections_are_not_allowed(v1: httpx.Client) -> None:
    response = v1.patch(f"groups/{DYNAMIC_GROUP}", json={"displayName": "x"})
    assert response.status_code == 405


def test_unknown_query_option_is_a_bad_request(v1: httpx.Client) -> None:
    assert v1.get("groups?$skip=5").status_code == 400


def test_path_without_a_version_root_is_a_bad_request(sim: GraphSimulator) -> None:
    with plain_client() as client:
        response = client.get(f"{sim.url}/v2.0/groups", headers={"Authorization": "Bearer x"})
    assert response.status_code == 400
    assert sim.request_log[-1].version is None


def test_double_slash_after_the_version_is_tolerated_like_graph(sim: GraphSimulator) -> None:
    with plain_client() as client:
        response = client.get(f"{sim.url}/v1.0//groups", headers={"Authorization": "Bearer x"})
    assert response.status_code == 200
    assert sim.request_log[-1].path == "groups"


# --- objects and navigations ------------------------------------------------------------------


def test_device_registration_policy_is_a_single_object(v1: httpx.Client) -> None:
    body = v1.get(DEVICE_REGISTRATION_POLICY).json()
    assert "value" not in body
    assert body["id"] == "deviceRegistrationPolicy"
    assert body["@odata.context"].endswith("$metadata#policies/deviceRegistrationPolicy/$entity")
    selected = v1.get(f"{DEVICE_REGISTRATION_POLICY}?$select=userDeviceQuota").json()
    assert set(selected) == {"@odata.context", "id", "userDeviceQuota"}


@pytest.mark.parametrize("collection", sorted(INLINED_NAVIGATIONS))
def test_inlined_navigations_are_hidden_on_lists_and_single_gets(
    beta: httpx.Client, collection: str
) -> None:
    listed = beta.get(collection).json()["value"]
    assert listed
    hidden = set(INLINED_NAVIGATIONS[collection])
    assert all(not hidden & set(item) for item in listed)
    single = beta.get(f"{collection}/{listed[0]['id']}").json()
    assert not hidden & set(single)
    assert single["@odata.context"].endswith(f"$metadata#{collection}/$entity")


def test_single_object_comes_without_the_value_wrapper(beta: httpx.Client) -> None:
    body = beta.get(f"{MOBILE_APPS}/{WIN32_APP}").json()
    assert body["id"] == WIN32_APP
    assert body["installExperience"]["runAsAccount"] == "system"


@pytest.mark.parametrize(
    ("path", "expected_ids"),
    [
        (f"{AUTOPILOT_PROFILES}/{PROFILE}/assignments", [f"{PROFILE}_{DYNAMIC_GROUP}"]),
        (f"{MOBILE_APPS}/{WIN32_APP}/relationships", [f"{WIN32_APP}_{MSI_APP}"]),
        (f"{MOBILE_APPS}/{MSI_APP}/relationships", []),
        (f"{SETTINGS_CATALOG_POLICIES}/{SETTINGS_POLICY}/settings", ["0", "1"]),
        (f"{MDM_POLICIES}/{MDM_POLICY}/includedGroups", [ASSIGNED_GROUP]),
        (
            f"{COMPLIANCE_POLICIES}/{COMPLIANCE_POLICY}/scheduledActionsForRule",
            ["rule-1"],
        ),
    ],
)
def test_navigation_paths_list_the_inlined_objects(
    beta: httpx.Client, path: str, expected_ids: list[str]
) -> None:
    assert ids(beta.get(path)) == expected_ids


def test_group_members_path_pages_and_selects(v1: httpx.Client) -> None:
    first = v1.get(f"groups/{ASSIGNED_GROUP}/members?$top=10&$select=displayName").json()
    assert len(first["value"]) == 10
    assert set(first["value"][0]) == {"@odata.type", "id", "displayName"}
    assert first["value"][0]["displayName"] == "PC-00"
    collected = [m["id"] for m in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        page = v1.get(link).json()
        collected += [m["id"] for m in page["value"]]
        link = page.get("@odata.nextLink")
    assert collected == [device_id(n) for n in range(25)]


def test_group_members_cast_to_devices(v1: httpx.Client) -> None:
    response = v1.get(f"groups/{ASSIGNED_GROUP}/members/microsoft.graph.device?$count=true")
    assert response.json()["@odata.count"] == 25
    assert response.json()["@odata.context"].endswith("$metadata#devices")


def test_dynamic_group_has_no_members_listed(v1: httpx.Client) -> None:
    assert v1.get(f"groups/{DYNAMIC_GROUP}/members").json()["value"] == []


def test_autopilot_device_profile_navigation_has_no_route(beta: httpx.Client) -> None:
    # microsoft-graph-docs-contrib#2569: "No OData route exists that match template ...".
    answer = beta.get(f"{AUTOPILOT_DEVICES}/{AUTOPILOT_DEVICE}/deploymentProfile")
    assert answer.status_code == 400
    assert "No OData route exists" in answer.json()["error"]["message"]


def test_profile_assigned_devices_navigation_lists_its_devices(beta: httpx.Client) -> None:
    devices = beta.get(f"{AUTOPILOT_PROFILES}/{PROFILE}/assignedDevices").json()["value"]
    assert AUTOPILOT_DEVICE in {d["id"] for d in devices}
    assert UNPROFILED_AUTOPILOT_DEVICE not in {d["id"] for d in devices}
    assert all("deploymentProfile" not in d for d in devices)


def test_unknown_navigation_segment_is_a_bad_request(beta: httpx.Client) -> None:
    assert beta.get(f"{MOBILE_APPS}/{WIN32_APP}/categories").status_code == 400


# --- $expand ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "collection",
    [
        AUTOPILOT_PROFILES,
        ENROLLMENT_CONFIGURATIONS,
        DEVICE_CONFIGURATIONS,
        SETTINGS_CATALOG_POLICIES,
        PLATFORM_SCRIPTS,
        COMPLIANCE_POLICIES,
        MOBILE_APPS,
    ],
)
def test_assignments_expand_on_lists(beta: httpx.Client, collection: str) -> None:
    items = beta.get(f"{collection}?$expand=assignments").json()["value"]
    assert all("assignments" in item for item in items)
    assert any(item["assignments"] for item in items)


def test_scheduled_actions_expand_with_nested_configurations(beta: httpx.Client) -> None:
    nested = "scheduledActionsForRule($expand=scheduledActionConfigurations)"
    [policy] = beta.get(f"{COMPLIANCE_POLICIES}?$expand=assignments,{nested}").json()["value"]
    assert (
        policy["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"]
        == "block"
    )
    assert policy["assignments"]
    [plain] = beta.get(f"{COMPLIANCE_POLICIES}?$expand=scheduledActionsForRule").json()["value"]
    assert "scheduledActionConfigurations" not in plain["scheduledActionsForRule"][0]


def test_included_groups_expand_on_mdm_policies(beta: httpx.Client) -> None:
    [policy] = beta.get(f"{MDM_POLICIES}?$expand=includedGroups").json()["value"]
    assert [g["id"] for g in policy["includedGroups"]] == [ASSIGNED_GROUP]


def test_deployment_profile_expands_on_a_single_device_only(beta: httpx.Client) -> None:
    # The list: msgraph-beta-sdk-dotnet#971, "Could not find a property named 'deploymentProfile'".
    expand = "deploymentProfile($select=id,displayName),intendedDeploymentProfile($select=id)"
    answer = beta.get(f"{AUTOPILOT_DEVICES}?$expand={expand}")
    assert answer.status_code == 400
    assert "Could not find a property named 'deploymentProfile'" in answer.text
    # One device: WindowsAutopilotIntune's Get-AutopilotDevice -expand and other tools do this.
    single = beta.get(f"{AUTOPILOT_DEVICES}/{AUTOPILOT_DEVICE}?$expand={expand}").json()
    assert set(single["deploymentProfile"]) == {"@odata.type", "id", "displayName"}
    assert single["intendedDeploymentProfile"]["id"] == PROFILE
    unprofiled = beta.get(f"{AUTOPILOT_DEVICES}/{UNPROFILED_AUTOPILOT_DEVICE}?$expand={expand}")
    assert unprofiled.json()["deploymentProfile"] is None


def test_members_expand_is_capped_at_twenty(v1: httpx.Client) -> None:
    group = v1.get(f"groups/{ASSIGNED_GROUP}?$expand=members($select=id)").json()
    assert len(group["members"]) == 20
    listed = v1.get("groups?$expand=members").json()["value"]
    assert len(next(g for g in listed if g["id"] == ASSIGNED_GROUP)["members"]) == 20


@pytest.mark.parametrize(
    "path",
    [
        f"{SETTINGS_CATALOG_POLICIES}?$expand=settings",
        f"{MOBILE_APPS}?$expand=relationships",
        f"{MOBILE_APPS}/{WIN32_APP}?$expand=relationships",
        f"{MOBILE_APPS}?$expand=categories",
        f"{ASSIGNMENT_FILTERS}?$expand=assignments",
        f"{COMPLIANCE_POLICIES}?$expand=scheduledActionsForRule($expand=nothing)",
        f"{MOBILE_APPS}?$expand=assignments($select=id",
    ],
)
def test_unsupported_expand_is_a_bad_request(beta: httpx.Client, path: str) -> None:
    response = beta.get(path)
    assert response.status_code == 400
    assert error_of(response)["code"] == "BadRequest"


def test_settings_expand_on_a_single_policy(beta: httpx.Client) -> None:
    policy = beta.get(f"{SETTINGS_CATALOG_POLICIES}/{SETTINGS_POLICY}?$expand=settings").json()
    assert [s["id"] for s in policy["settings"]] == ["0", "1"]


def test_expand_of_an_unread_navigation_leaves_it_out_of_a_list() -> None:
    tenant = tiny_tenant()
    unread = f"{SETTINGS_CATALOG_POLICIES}/{UNREAD_SETTINGS_POLICY}/assignments"
    tenant["errors"][unread] = {"status": 403, "message": "Forbidden"}
    del tenant["collections"][SETTINGS_CATALOG_POLICIES][1]["assignments"]
    with GraphSimulator(tenant) as sim, client_for(sim, "beta") as beta:
        policies = beta.get(f"{SETTINGS_CATALOG_POLICIES}?$expand=assignments").json()["value"]
        assert {p["id"]: "assignments" in p for p in policies} == {
            SETTINGS_POLICY: True,
            UNREAD_SETTINGS_POLICY: False,
        }
        single = beta.get(
            f"{SETTINGS_CATALOG_POLICIES}/{UNREAD_SETTINGS_POLICY}?$expand=assignments"
        )
        assert single.status_code == 403


def test_expand_of_an_absent_navigation_is_empty(v1: httpx.Client) -> None:
    group = v1.get(f"groups/{DYNAMIC_GROUP}?$expand=members").json()
    assert group["members"] == []


# --- $select, $count, paging -----------------------------------------------------------------


def test_select_keeps_id_and_odata_type(beta: httpx.Client) -> None:
    apps = beta.get(f"{MOBILE_APPS}?$select=displayName").json()["value"]
    assert all(set(app) == {"@odata.type", "id", "displayName"} for app in apps)


def test_count_true_adds_the_total(v1: httpx.Client) -> None:
    body = v1.get("devices?$count=true&$top=5").json()
    assert body["@odata.count"] == 25
    assert len(body["value"]) == 5


def paging_tenant(groups: int, apps: int) -> dict[str, Any]:
    tenant = tiny_tenant()
    tenant["collections"][GROUPS] = [
        {"id": f"g{n:04d}", "displayName": f"Group {n}", "groupTypes": [], "members": []}
        for n in range(groups)
    ]
    tenant["collections"][MOBILE_APPS] = [
        {"@odata.type": "#microsoft.graph.win32LobApp", "id": f"a{n:04d}", "displayName": "A"}
        for n in range(apps)
    ]
    return tenant


def test_collections_page_at_the_default_size_with_absolute_next_links() -> None:
    with GraphSimulator(paging_tenant(250, 0)) as sim, client_for(sim) as v1:
        first = v1.get("groups?$select=id").json()
        assert len(first["value"]) == sim.page_size("groups", None) == 100
        link = first["@odata.nextLink"]
        assert link.startswith(f"{sim.url}/v1.0/groups?")
        assert "$skiptoken=" in link
        assert "$select=id" in link
        seen = [g["id"] for g in first["value"]]
        while link:
            page = v1.get(link).json()
            seen += [g["id"] for g in page["value"]]
            link = page.get("@odata.nextLink")
        assert seen == [f"g{n:04d}" for n in range(250)]


def test_top_above_the_maximum_is_capped() -> None:
    with GraphSimulator(paging_tenant(1001, 1001)) as sim, client_for(sim, "beta") as beta:
        groups = beta.get("groups?$top=5000").json()
        assert len(groups["value"]) == sim.page_size("groups", 5000) == 999
        apps = beta.get(f"{MOBILE_APPS}?$top=5000").json()
        assert len(apps["value"]) == sim.page_size(MOBILE_APPS, 5000) == 1000
        assert "@odata.nextLink" in apps


def test_page_sizes_follow_the_service_table(sim: GraphSimulator) -> None:
    assert sim.page_size("deviceManagement/deviceConfigurations", None) == 1000
    assert sim.page_size("deviceManagement/configurationPolicies", 1000) == 25
    assert sim.page_size("deviceManagement/configurationPolicies/x/settings", None) == 25
    assert sim.page_size("deviceAppManagement/mobileApps", 1000) == 1000
    assert sim.page_size("groups/abc/members", 2000) == 999
    assert sim.page_size("groups/delta", None) == 100
    assert sim.page_size("auditLogs/directoryAudits", 10) == 10
    assert sim.page_size("/v1.0/devices", 999) == 999


@pytest.mark.parametrize("query", ["$top=0", "$top=abc", "$skiptoken=garbage", "$count=maybe"])
def test_invalid_paging_options_are_bad_requests(v1: httpx.Client, query: str) -> None:
    assert v1.get(f"groups?{query}").status_code == 400


# --- $filter ----------------------------------------------------------------------------------


def test_filter_id_in_on_groups_and_devices(v1: httpx.Client) -> None:
    wanted = [device_id(n) for n in (3, 7)]
    quoted = ",".join(f"'{i}'" for i in wanted)
    assert ids(v1.get("devices", params={"$filter": f"id in ({quoted})"})) == wanted
    groups = v1.get("groups", params={"$filter": f"id in ('{DYNAMIC_GROUP}','{ASSIGNED_GROUP}')"})
    assert set(ids(groups)) == {DYNAMIC_GROUP, ASSIGNED_GROUP}


def test_filter_id_in_with_more_than_fifteen_values_is_rejected(v1: httpx.Client) -> None:
    quoted = ",".join(f"'{device_id(n)}'" for n in range(16))
    response = v1.get("devices", params={"$filter": f"id in ({quoted})"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "Request_UnsupportedQuery"
    fifteen = ",".join(f"'{device_id(n)}'" for n in range(15))
    assert len(ids(v1.get("devices", params={"$filter": f"id in ({fifteen})"}))) == 15


def test_filter_eq_on_id_and_display_name(v1: httpx.Client, beta: httpx.Client) -> None:
    assert ids(v1.get("groups", params={"$filter": "displayName eq 'pilot devices'"})) == [
        ASSIGNED_GROUP
    ]
    assert ids(beta.get(MOBILE_APPS, params={"$filter": f"id eq '{MSI_APP}'"})) == [MSI_APP]


def test_filter_isof_on_intune_collections(beta: httpx.Client) -> None:
    response = beta.get(MOBILE_APPS, params={"$filter": "isof('microsoft.graph.win32LobApp')"})
    assert ids(response) == [WIN32_APP]
    assert beta.get("groups", params={"$filter": "isof('microsoft.graph.group')"}).status_code == (
        400
    )


def test_physical_ids_filter_is_an_advanced_query(v1: httpx.Client) -> None:
    clause = "physicalIds/any(p:startswith(p,'[ztdid]'))"
    plain = v1.get("devices", params={"$filter": clause})
    assert plain.status_code == 400
    assert error_of(plain)["code"] == "Request_UnsupportedQuery"
    without_count = v1.get(
        "devices", params={"$filter": clause}, headers={"ConsistencyLevel": "eventual"}
    )
    assert without_count.status_code == 400
    advanced = v1.get(
        "devices",
        params={"$filter": clause, "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert advanced.json()["@odata.count"] == ZTD_DEVICE_COUNT
    assert ids(advanced) == [device_id(n) for n in range(ZTD_DEVICE_COUNT)]


@pytest.mark.parametrize(
    ("collection", "clause"),
    [
        ("groups", "startswith(displayName,'Pilot')"),
        ("groups", "displayName ne 'x'"),
        ("groups", f"id eq '{DYNAMIC_GROUP}' or id eq '{ASSIGNED_GROUP}'"),
        (MOBILE_APPS, "id in ('a','b')"),
        (MOBILE_APPS, "publisher eq 'x'"),
        ("devices", "physicalIds/any(p:startswith(p,'[ZTDId]')) and accountEnabled eq true"),
        ("groups", "displayName eq"),
        ("groups", "(displayName eq 'x'"),
        ("groups", "displayName eq 'x' garbage"),
    ],
)
def test_other_filters_are_rejected(v1: httpx.Client, collection: str, clause: str) -> None:
    response = v1.get(
        collection,
        params={"$filter": clause, "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert response.status_code == 400


def test_filter_and_paging_combine(v1: httpx.Client) -> None:
    clause = "physicalIds/any(p:startswith(p,'[ZTDId]'))"
    first = v1.get(
        "devices",
        params={"$filter": clause, "$count": "true", "$top": "15"},
        headers={"ConsistencyLevel": "eventual"},
    ).json()
    second = v1.get(first["@odata.nextLink"], headers={"ConsistencyLevel": "eventual"}).json()
    assert len(first["value"]) + len(second["value"]) == ZTD_DEVICE_COUNT


# --- the doc examples -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples_sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(examples_tenant()) as simulator:
        yield simulator


@pytest.mark.parametrize(
    ("collection", "example", "object_id"), EXAMPLE_OBJECTS, ids=[e[1] for e in EXAMPLE_OBJECTS]
)
def test_doc_examples_read_back_as_graph_serves_them(
    examples_sim: GraphSimulator, collection: str, example: str, object_id: str | None
) -> None:
    expected = example_object(example, object_id)
    if collection == AUTOPILOT_DEVICES:
        # The doc shows the list's value; a single GET answers `unknown` in the field
        # (microsoft-graph-docs#6877), and the field wins.
        expected["deploymentProfileAssignmentStatus"] = "unknown"
    with client_for(examples_sim, "beta") as beta:
        body = beta.get(f"{collection}/{expected['id']}").json()
    body.pop("@odata.context")
    assert body == expected


@pytest.mark.parametrize(
    ("collection", "example"), EXAMPLE_LISTS, ids=[e[1] for e in EXAMPLE_LISTS]
)
def test_doc_example_lists_read_back(
    examples_sim: GraphSimulator, collection: str, example: str
) -> None:
    with client_for(examples_sim, "beta") as beta:
        served = beta.get(collection).json()["value"]
    navigations = set(INLINED_NAVIGATIONS.get(collection, ()))
    expected = examples_tenant()["collections"][collection]
    assert served == [{k: v for k, v in o.items() if k not in navigations} for o in expected]


def test_doc_example_navigations_are_served(examples_sim: GraphSimulator) -> None:
    with client_for(examples_sim, "beta") as beta:
        [app] = beta.get(f"{MOBILE_APPS}?$expand=assignments").json()["value"]
        assert app["assignments"][0]["intent"] == "required"
        [policy] = beta.get(f"{MDM_POLICIES}?$expand=includedGroups").json()["value"]
        assert policy["includedGroups"] == [
            {"id": "dc3d2ce5-7c5e-4dca-a0ef-2145bf6e53ef", "displayName": "Test MDM Group"}
        ]
        registration = beta.get(DEVICE_REGISTRATION_POLICY).json()
        assert registration["azureADJoin"]["isAdminConfigurable"] is True
        [identity] = beta.get(AUTOPILOT_DEVICES).json()["value"]
        profile_id = examples_tenant()["collections"][AUTOPILOT_DEVICES][0]["deploymentProfile"]
        assigned = beta.get(f"{AUTOPILOT_PROFILES}/{profile_id['id']}/assignedDevices").json()
        assert [d["id"] for d in assigned["value"]] == [identity["id"]]


# --- connections, log, a real Graph client ----------------------------------------------------


def test_keep_alive_connections_are_reused(sim: GraphSimulator, v1: httpx.Client) -> None:
    for _ in range(20):
        assert v1.get("groups?$select=id").status_code == 200
    assert v1.delete(f"groups/{DYNAMIC_GROUP}").status_code == 405
    assert v1.get("groups").status_code == 200
    assert sim.connections_accepted == 1


def test_request_log_records_each_request(sim: GraphSimulator, beta: httpx.Client) -> None:
    beta.get(f"{MOBILE_APPS}?$select=id")
    beta.get("nowhere")
    first, second = sim.request_log
    assert (first.method, first.version, first.path, first.query, first.status) == (
        "GET",
        "beta",
        MOBILE_APPS,
        "$select=id",
        200,
    )
    assert not first.in_batch
    assert first.batch_id is None
    assert first.duration_s >= 0
    assert second.status == 400
    sim.clear_log()
    assert sim.request_log == []


def test_graph_client_middleware_retries_a_throttled_request(sim: GraphSimulator) -> None:
    sim.add_fault(Fault(path=r"^groups$", kind="throttle", times=1, retry_after=1))

    async def read_groups() -> int:
        # The factory swaps the client's transport for its middleware pipeline, which does not
        # close the pool underneath: keep the pool to close it.
        pool = httpx.AsyncHTTPTransport()
        async with httpx.AsyncClient(
            transport=pool, headers={"Authorization": f"Bearer {TEST_TOKEN}"}, trust_env=False
        ) as client:
            graph = GraphClientFactory.create_with_default_middleware(client=client)
            option = RetryHandlerOption(delay=0, max_retries=2, should_retry=True)
            response = await graph.get(
                f"{sim.url}/v1.0/groups",
                extensions={"kiota_request_options": {RetryHandlerOption.get_key(): option}},
            )
        await pool.aclose()
        return response.status_code

    assert asyncio.run(read_groups()) == 200
    assert [r.status for r in sim.request_log] == [429, 200]


# --- admin API and the standalone runner ------------------------------------------------------


def test_admin_api_changes_faults_log_and_snapshot(sim: GraphSimulator) -> None:
    with admin_client(sim) as admin:
        change = {
            "format": "greenscreen.tenant-changes/1",
            "changes": [{"op": "remove", "collection": MOBILE_APPS, "id": MSI_APP}],
        }
        applied = admin.post("changes", json=change)
        assert applied.status_code == 200
        assert applied.json()["value"][0]["activityOperationType"] == "Delete"
        bad = admin.post("changes", json={"format": "greenscreen.tenant-changes/1"})
        assert bad.status_code == 400
        assert "changes: missing" in bad.json()["error"]["message"]
        fault = admin.post("faults", json={"path": "^groups$", "kind": "forbidden", "times": 1})
        assert fault.status_code == 201
        assert admin.post("faults", json={"path": "x", "kind": "explode"}).status_code == 400
        with client_for(sim) as v1:
            assert v1.get("groups").status_code == 403
            assert v1.get("groups").status_code == 200
        logged = admin.get("requests").json()["value"]
        assert [(r["path"], r["status"], r["fault"]) for r in logged] == [
            ("groups", 403, "forbidden"),
            ("groups", 200, None),
        ]
        assert admin.delete("requests").status_code == 204
        assert admin.get("requests").json()["value"] == []
        assert admin.delete("faults").status_code == 204
        snapshot = admin.get("snapshot").json()
        assert [a["id"] for a in snapshot["collections"][MOBILE_APPS]] == [WIN32_APP]
        assert snapshot["tenantId"] == TENANT_ID
        assert admin.get("nothing").status_code == 404


def test_standalone_runner_serves_a_snapshot_file(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "tenant.json"
    snapshot_file.write_text(json.dumps(tiny_tenant()), encoding="utf-8")
    process = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter and a temp file
        [sys.executable, "-m", "tests.graphsim", "--snapshot", str(snapshot_file), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY_ROOT,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with plain_client() as client:
            response = client.get(
                f"{url}/v1.0/groups/{DYNAMIC_GROUP}", headers={"Authorization": "Bearer x"}
            )
        assert response.json()["displayName"] == "Autopilot - All devices"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
