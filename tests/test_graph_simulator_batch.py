"""The Graph simulator's JSON `$batch` and injected faults, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rules.tenant_collections import AUTOPILOT_PROFILES, DEVICES, GROUPS, MOBILE_APPS
from tests.graphsim import Fault, GraphSimulator
from tests.graphsim.clients import graph_client
from tests.graphsim.sample_tenants import DYNAMIC_GROUP, PROFILE, device_id, tiny_tenant


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(tiny_tenant(), seed=7) as simulator:
        yield simulator


@pytest.fixture
def beta(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with graph_client(sim, "beta") as client:
        yield client


def batch_of(*urls: str) -> dict[str, Any]:
    return {"requests": [{"id": str(n), "method": "GET", "url": u} for n, u in enumerate(urls)]}


def by_id(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {answer["id"]: answer for answer in response.json()["responses"]}


# --- $batch -----------------------------------------------------------------------------------


def test_batch_of_twenty_requests_answers_each_in_any_order(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    urls = [f"/{DEVICES}/{device_id(n)}" for n in range(20)]
    response = beta.post("$batch", json=batch_of(*urls))
    assert response.status_code == 200
    answers = response.json()["responses"]
    assert sorted(a["id"] for a in answers) == sorted(str(n) for n in range(20))
    assert [a["id"] for a in answers] != [str(n) for n in range(20)]  # shuffled (seeded)
    answered = by_id(response)
    assert all(answered[str(n)]["body"]["id"] == device_id(n) for n in range(20))
    assert all(a["status"] == 200 for a in answers)
    assert answers[0]["headers"]["Content-Type"].startswith("application/json")


def test_batch_order_is_reproducible_for_a_seed() -> None:
    orders = []
    for _ in range(2):
        with GraphSimulator(tiny_tenant(), seed=3) as sim, graph_client(sim) as v1:
            response = v1.post("$batch", json=batch_of(*["groups"] * 10))
            orders.append([a["id"] for a in response.json()["responses"]])
    assert orders[0] == orders[1]


def test_batch_over_twenty_requests_is_rejected(sim: GraphSimulator, beta: httpx.Client) -> None:
    response = beta.post("$batch", json=batch_of(*["groups"] * 21))
    assert response.status_code == 400
    assert "20" in response.json()["error"]["message"]
    assert [r.path for r in sim.request_log] == ["$batch"]


def test_batch_with_duplicate_ids_is_rejected(beta: httpx.Client) -> None:
    body = {"requests": [{"id": "1", "method": "GET", "url": "groups"}] * 2}
    assert beta.post("$batch", json=body).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"requests": "groups"},
        {"requests": [{"id": "1", "url": "groups"}]},
        {"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/x"}]},
        {"requests": [{"id": "1", "method": "GET", "url": "groups", "dependsOn": ["9"]}]},
        {"requests": [{"id": "1", "method": "POST", "url": "subscriptions", "body": {}}]},
    ],
)
def test_malformed_batches_are_rejected(beta: httpx.Client, body: dict[str, Any]) -> None:
    assert beta.post("$batch", json=body).status_code == 400


def test_batch_urls_work_with_and_without_a_leading_slash(beta: httpx.Client) -> None:
    answered = by_id(beta.post("$batch", json=batch_of(f"groups/{DYNAMIC_GROUP}", "/groups")))
    assert answered["0"]["body"]["id"] == DYNAMIC_GROUP
    assert len(answered["1"]["body"]["value"]) == 3


def test_batch_inner_requests_are_logged_with_the_batch_id(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    response = beta.post(
        "$batch", json=batch_of(f"{MOBILE_APPS}?$expand=assignments", "groups/none")
    )
    outer, *inner = sim.request_log[::-1]
    assert (outer.path, outer.in_batch, outer.batch_id) == ("$batch", False, None)
    assert outer.request_id == response.headers["request-id"]
    assert sorted((r.path, r.query, r.status) for r in inner) == [
        (MOBILE_APPS, "$expand=assignments", 200),
        ("groups/none", "", 404),
    ]
    assert all(r.in_batch and r.batch_id == outer.request_id for r in inner)


def test_inner_requests_support_query_options_and_paging(beta: httpx.Client) -> None:
    answered = by_id(beta.post("$batch", json=batch_of("devices?$top=5&$select=id")))
    body = answered["0"]["body"]
    assert len(body["value"]) == 5
    assert set(body["value"][0]) == {"id"}
    assert body["@odata.nextLink"].startswith("http://127.0.0.1:")


def test_inner_requests_pass_their_headers(beta: httpx.Client) -> None:
    clause = "physicalIds/any(p:startswith(p,'[ZTDId]'))"
    request = {
        "id": "1",
        "method": "GET",
        "url": f"devices?$filter={clause}&$count=true",
        "headers": {"ConsistencyLevel": "eventual"},
    }
    answered = by_id(beta.post("$batch", json={"requests": [request]}))
    assert answered["1"]["body"]["@odata.count"] == 20


def test_batch_needs_the_outer_authorization_only(sim: GraphSimulator) -> None:
    with httpx.Client(trust_env=False) as anonymous:
        assert anonymous.post(f"{sim.url}/v1.0/$batch", json=batch_of("groups")).status_code == 401
    with graph_client(sim) as v1:
        assert by_id(v1.post("$batch", json=batch_of("groups")))["0"]["status"] == 200


def test_failed_dependency_answers_424(beta: httpx.Client) -> None:
    body = {
        "requests": [
            {"id": "1", "method": "GET", "url": "groups/missing"},
            {"id": "2", "method": "GET", "url": "groups", "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "devices", "dependsOn": ["2"]},
            {"id": "4", "method": "GET", "url": f"groups/{DYNAMIC_GROUP}"},
            {"id": "5", "method": "GET", "url": "groups", "dependsOn": ["4"]},
        ]
    }
    answered = by_id(beta.post("$batch", json=body))
    assert {i: a["status"] for i, a in answered.items()} == {
        "1": 404,
        "2": 424,
        "3": 424,
        "4": 200,
        "5": 200,
    }


def test_nested_batch_is_rejected_inside_a_batch(beta: httpx.Client) -> None:
    answered = by_id(beta.post("$batch", json=batch_of("$batch")))
    assert answered["0"]["status"] in {400, 405}


# --- faults -----------------------------------------------------------------------------------


def test_throttle_fault_answers_429_with_retry_after_then_recovers(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path=r"^groups$", kind="throttle", times=2, retry_after=7))
    first = beta.get("groups")
    assert first.status_code == 429
    assert first.headers["retry-after"] == "7"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert beta.get("groups").status_code == 429
    assert beta.get("groups").status_code == 200
    assert [r.fault for r in sim.request_log] == ["throttle", "throttle", None]


def test_inner_batch_request_gets_its_own_429_with_retry_after(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path=r"^devices/", kind="throttle", times=1, retry_after=3))
    response = beta.post(
        "$batch", json=batch_of(f"devices/{device_id(0)}", f"devices/{device_id(1)}")
    )
    assert response.status_code == 200
    statuses = sorted(
        (a["status"], a["headers"].get("Retry-After")) for a in response.json()["responses"]
    )
    assert statuses == [(200, None), (429, "3")]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("unavailable", 503, "ServiceUnavailable"),
        ("forbidden", 403, "Forbidden"),
        ("not_found", 404, "ResourceNotFound"),
    ],
)
def test_error_faults_answer_in_graph_error_shape(
    sim: GraphSimulator, beta: httpx.Client, kind: Any, status: int, code: str
) -> None:
    sim.add_fault(Fault(path="mobileApps", kind=kind))
    response = beta.get(MOBILE_APPS)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert beta.get(MOBILE_APPS).status_code == 200


def test_slow_fault_answers_normally(sim: GraphSimulator, beta: httpx.Client) -> None:
    sim.add_fault(Fault(path="^groups$", kind="slow", delay_s=0.05))
    response = beta.get("groups")
    assert response.status_code == 200
    assert len(response.json()["value"]) == 3
    assert sim.request_log[-1].fault == "slow"


def test_timeout_fault_closes_the_connection_without_an_answer(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path="^groups$", kind="timeout", delay_s=0.05))
    with pytest.raises(httpx.RemoteProtocolError):
        beta.get("groups")
    assert sim.request_log[-1].status == 0
    assert beta.get("groups").status_code == 200


def test_timeout_fault_inside_a_batch_answers_504(sim: GraphSimulator, beta: httpx.Client) -> None:
    sim.add_fault(Fault(path="^groups$", kind="timeout"))
    answered = by_id(beta.post("$batch", json=batch_of("groups")))
    assert answered["0"]["status"] == 504


def test_malformed_fault_answers_200_with_truncated_json(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path="^groups$", kind="malformed"))
    response = beta.get("groups")
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert beta.get("groups").json()["value"]


def test_malformed_fault_inside_a_batch_gives_a_truncated_body(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path="^groups$", kind="malformed"))
    body = by_id(beta.post("$batch", json=batch_of("groups")))["0"]["body"]
    assert isinstance(body, str)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_fault_without_a_count_stays_until_cleared(sim: GraphSimulator, beta: httpx.Client) -> None:
    sim.add_fault(Fault(path="groups", kind="forbidden", times=None))
    assert [beta.get("groups").status_code for _ in range(3)] == [403, 403, 403]
    sim.clear_faults()
    assert beta.get("groups").status_code == 200


def test_fault_matches_method_and_path_under_the_version_root(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path=rf"^{AUTOPILOT_PROFILES}/[^/]+/assignments$", kind="forbidden"))
    sim.add_fault(Fault(path=r"^devices$", kind="forbidden", method="POST"))
    assert beta.get(AUTOPILOT_PROFILES).status_code == 200
    assert beta.get("devices").status_code == 200
    assert beta.get(f"{AUTOPILOT_PROFILES}/{PROFILE}/assignments").status_code == 403


@pytest.mark.parametrize(
    "arguments",
    [
        {"path": "x", "kind": "explode"},
        {"path": "(", "kind": "throttle"},
        {"path": "x", "kind": "throttle", "times": 0},
        {"path": "x", "kind": "slow", "delay_s": -1},
    ],
)
def test_invalid_faults_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"fault|times|delay_s"):
        Fault(**arguments)


def test_groups_fault_does_not_touch_other_collections(
    sim: GraphSimulator, beta: httpx.Client
) -> None:
    sim.add_fault(Fault(path=rf"^{GROUPS}$", kind="unavailable", times=None))
    assert beta.get(MOBILE_APPS).status_code == 200
    assert beta.get(f"{GROUPS}/{DYNAMIC_GROUP}").status_code == 200
    assert beta.get(GROUPS).status_code == 503
