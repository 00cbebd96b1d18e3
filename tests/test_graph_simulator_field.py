"""The simulator behaves as real Graph does in the field, not only as its docs say.

Each test names the behaviour and its source; docs/graph-simulator.md ("How real Graph behaves",
"Reader and collections") cites them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from rules import tenant_collections as tc
from tests.graphsim import GraphSimulator
from tests.graphsim.clients import graph_client

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "contoso-sample.json"
DEVICE = "deb43cf6-57de-5ed1-8c1e-23cbbeff8149"  # serial 200297727693, assignedInSync
PROFILE = "5bc400e9-3b8b-5704-94a4-8e972f573b26"
DEFENDER_POLICY = "141a6a7d-5dfd-5160-a96e-8b8ca03dde43"  # templateFamily endpointSecurityAntivirus
BITLOCKER_POLICY = "73606970-fc38-56aa-9a10-cfc21ed64fde"  # templateFamily none


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def sim(sample: dict[str, Any]) -> Iterator[GraphSimulator]:
    with GraphSimulator(sample) as simulator:
        yield simulator


@pytest.fixture
def beta(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with graph_client(sim, "beta") as client:
        yield client


# --- Autopilot devices -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["beta", "v1.0"])
@pytest.mark.parametrize("select", ["serialNumber", "id,groupTag", "id"])
def test_select_on_the_autopilot_device_list_is_a_server_error(
    sim: GraphSimulator, version: str, select: str
) -> None:
    # microsoft-graph-docs-contrib#2756 (v1.0 and beta), #5193; DeviceOffboardingManager#65 (2026).
    with graph_client(sim, version) as client:
        answer = client.get(f"{tc.AUTOPILOT_DEVICES}?$select={select}")
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "InternalServerError"
        assert client.get(tc.AUTOPILOT_DEVICES).status_code == 200


def test_single_device_get_reports_status_unknown_while_the_list_is_right(
    beta: httpx.Client,
) -> None:
    # microsoft-graph-docs#6877: the list shows the real status, a single GET `unknown`.
    listed = {d["id"]: d for d in beta.get(tc.AUTOPILOT_DEVICES).json()["value"]}
    single = beta.get(f"{tc.AUTOPILOT_DEVICES}/{DEVICE}").json()
    assert listed[DEVICE]["deploymentProfileAssignmentStatus"] == "assignedInSync"
    assert single["deploymentProfileAssignmentStatus"] == "unknown"
    assert (
        single["deploymentProfileAssignedDateTime"]
        == (listed[DEVICE]["deploymentProfileAssignedDateTime"])
    )


def test_device_list_filters_by_serial_number_contains(beta: httpx.Client) -> None:
    # WindowsAutopilotIntune Get-AutopilotDevice -serial: `contains(serialNumber,'...')`.
    found = beta.get(f"{tc.AUTOPILOT_DEVICES}?$filter=contains(serialNumber,'0297727')").json()
    assert [d["id"] for d in found["value"]] == [DEVICE]
    assert found["value"][0]["deploymentProfileAssignmentStatus"] == "assignedInSync"
    exact = beta.get(f"{tc.AUTOPILOT_DEVICES}?$filter=serialNumber eq '200297727693'").json()
    assert [d["id"] for d in exact["value"]] == [DEVICE]
    quoted = quote("contains(serialNumber,'it''s # & 1')", safe="")
    assert beta.get(f"{tc.AUTOPILOT_DEVICES}?$filter={quoted}").json()["value"] == []


def test_profile_assigned_devices_page_and_carry_no_navigation(
    beta: httpx.Client, sample: dict[str, Any]
) -> None:
    expected = {
        d["id"]
        for d in sample["collections"][tc.AUTOPILOT_DEVICES]
        if (d["deploymentProfile"] or {}).get("id") == PROFILE
    }
    first = beta.get(f"{tc.AUTOPILOT_PROFILES}/{PROFILE}/assignedDevices?$top=10").json()
    seen = [d["id"] for d in first["value"]]
    link = first.get("@odata.nextLink")
    while link:
        page = beta.get(link).json()
        seen += [d["id"] for d in page["value"]]
        link = page.get("@odata.nextLink")
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


# --- settings catalog ------------------------------------------------------------------------


def test_endpoint_security_policy_expands_empty_assignments_on_a_single_get(
    beta: httpx.Client,
) -> None:
    # msgraph-sdk-powershell#3337 (open service issue): only endpointSecurity* template families,
    # only on a single policy; the list's expand and the navigation path are right.
    single = beta.get(f"{tc.SETTINGS_CATALOG_POLICIES}/{DEFENDER_POLICY}?$expand=assignments")
    assert single.json()["assignments"] == []
    by_path = beta.get(f"{tc.SETTINGS_CATALOG_POLICIES}/{DEFENDER_POLICY}/assignments").json()
    assert len(by_path["value"]) == 1
    listed = beta.get(f"{tc.SETTINGS_CATALOG_POLICIES}?$expand=assignments").json()["value"]
    assert len(next(p for p in listed if p["id"] == DEFENDER_POLICY)["assignments"]) == 1
    other = beta.get(f"{tc.SETTINGS_CATALOG_POLICIES}/{BITLOCKER_POLICY}?$expand=assignments")
    assert len(other.json()["assignments"]) == 1


def test_settings_catalog_pages_at_25_whatever_top_asks(sim: GraphSimulator) -> None:
    # IntuneAssignmentChecker#28 and M365Documentation#45 (pages of 25 with a nextLink).
    for top in (None, 25, 100, 1000):
        assert sim.page_size(tc.SETTINGS_CATALOG_POLICIES, top) == 25
        assert sim.page_size(f"{tc.SETTINGS_CATALOG_POLICIES}/x/settings", top) == 25
    assert sim.page_size(tc.MOBILE_APPS, None) == 1000  # Intune's default page elsewhere


# --- $batch ids ------------------------------------------------------------------------------


def test_batch_accepts_numeric_and_any_string_ids(beta: httpx.Client) -> None:
    body = {
        "requests": [
            {"id": 1, "method": "GET", "url": f"/{tc.AUTOPILOT_PROFILES}"},
            {"id": "profiles-again", "method": "GET", "url": f"/{tc.AUTOPILOT_PROFILES}"},
            {"id": "P", "method": "GET", "url": f"/{tc.AUTOPILOT_PROFILES}", "dependsOn": [1]},
            {"id": "p", "method": "GET", "url": f"/{tc.AUTOPILOT_PROFILES}"},
        ]
    }
    response = beta.post("$batch", json=body)
    assert response.status_code == 200
    answers = {a["id"]: a["status"] for a in response.json()["responses"]}
    assert answers == {"1": 200, "profiles-again": 200, "P": 200, "p": 200}


@pytest.mark.parametrize(
    "requests",
    [
        [{"id": 1, "method": "GET", "url": "/groups"}, {"id": "1", "method": "GET", "url": "/x"}],
        [{"id": True, "method": "GET", "url": "/groups"}],
        [{"id": "", "method": "GET", "url": "/groups"}],
    ],
)
def test_batch_still_refuses_repeated_or_missing_ids(
    beta: httpx.Client, requests: list[dict[str, Any]]
) -> None:
    assert beta.post("$batch", json={"requests": requests}).status_code == 400


# --- mobileApps filters the admin center and public tooling send -------------------------------

PORTAL_FILTER = (
    "(microsoft.graph.managedApp/appAvailability eq null or "
    "microsoft.graph.managedApp/appAvailability eq 'lineOfBusiness' or isAssigned eq true)"
)


@pytest.mark.parametrize(
    ("clause", "matches"),
    [
        (
            PORTAL_FILTER,
            lambda a: (
                a.get("appAvailability") in (None, "lineOfBusiness") or a.get("isAssigned") is True
            ),
        ),
        ("isAssigned eq true", lambda a: a.get("isAssigned") is True),
        ("isAssigned eq false", lambda a: a.get("isAssigned") is False),
        (
            "(isof('microsoft.graph.win32LobApp') or isof('microsoft.graph.officeSuiteApp')) and "
            + PORTAL_FILTER,
            lambda a: (
                a["@odata.type"]
                in ("#microsoft.graph.win32LobApp", "#microsoft.graph.officeSuiteApp")
            ),
        ),
        (
            "microsoft.graph.managedApp/appAvailability eq "
            "microsoft.graph.managedAppAvailability'lineOfBusiness' or isAssigned eq false",
            lambda a: a.get("appAvailability") == "lineOfBusiness" or a.get("isAssigned") is False,
        ),
        (
            "not(microsoft.graph.androidManagedStoreApp/isSystemApp eq true)",
            lambda a: a.get("isSystemApp") is not True,
        ),
        # Searches public scripts and connectors send.
        ("contains(publisher,'microsoft')", lambda a: "microsoft" in a["publisher"].lower()),
        ("contains(displayName, 'Zoom')", lambda a: "zoom" in a["displayName"].lower()),
        ("startswith(displayName,'Microsoft')", lambda a: a["displayName"].startswith("Microsoft")),
    ],
)
def test_mobile_apps_accept_the_filters_public_tooling_sends(
    beta: httpx.Client, sample: dict[str, Any], clause: str, matches: Any
) -> None:
    for name in ("$filter", "filter"):  # tooling sends both spellings
        answer = beta.get(tc.MOBILE_APPS, params={name: clause})
        assert answer.status_code == 200, answer.text
        served = {a["id"] for a in answer.json()["value"]}
        expected = {a["id"] for a in sample["collections"][tc.MOBILE_APPS] if matches(a)}
        assert served == expected
        assert expected  # the clause selects something in the sample


@pytest.mark.parametrize("clause", ["isAssigned eq 'yes'", "publisher eq 'x'", "size gt 3"])
def test_mobile_apps_still_refuse_what_they_do_not_support(beta: httpx.Client, clause: str) -> None:
    assert beta.get(tc.MOBILE_APPS, params={"$filter": clause}).status_code == 400
