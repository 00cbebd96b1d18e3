"""The Graph simulator's change side: delta queries, audit logs, subscriptions, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from monitors.tenant_changes import CHANGE_FORMAT, ChangeError
from rules.tenant_collections import DEVICE_CONFIGURATIONS, DEVICES, GROUPS, MOBILE_APPS
from tests.graphsim import GraphSimulator
from tests.graphsim.clients import graph_client
from tests.graphsim.clock import graph_timestamp
from tests.graphsim.sample_tenants import (
    ASSIGNED_GROUP,
    CUSTOM_CONFIGURATION,
    DYNAMIC_GROUP,
    PAUSED_GROUP,
    TENANT_ID,
    WIN32_APP,
    device_id,
    example_audit_events,
    example_directory_audits,
    tiny_tenant,
)
from tests.graphsim.webhook_receiver import WebhookReceiver


@pytest.fixture
def sim() -> Iterator[GraphSimulator]:
    with GraphSimulator(
        tiny_tenant(),
        audit_events=example_audit_events(),
        directory_audits=example_directory_audits(),
        validation_timeout_s=2.0,
    ) as simulator:
        yield simulator


@pytest.fixture
def v1(sim: GraphSimulator) -> Iterator[httpx.Client]:
    with graph_client(sim) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as webhook:
        yield webhook


def changes(*items: dict[str, Any], actor: dict[str, str] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"format": CHANGE_FORMAT, "changes": list(items)}
    if actor is not None:
        document["actor"] = actor
    return document


def rule_change(group_id: str = DYNAMIC_GROUP, state: str = "Paused") -> dict[str, Any]:
    return {"op": "setGroupRule", "id": group_id, "membershipRuleProcessingState": state}


def read_all(client: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str]:
    """Follow nextLinks; return the items and the final deltaLink."""
    items: list[dict[str, Any]] = []
    while True:
        body = client.get(url).json()
        items += body["value"]
        if "@odata.nextLink" in body:
            url = body["@odata.nextLink"]
            continue
        return items, body["@odata.deltaLink"]


def expiry(minutes: float) -> str:
    return graph_timestamp(datetime.now(UTC) + timedelta(minutes=minutes))


def subscription_body(receiver: WebhookReceiver, **overrides: Any) -> dict[str, Any]:
    return {
        "changeType": "updated",
        "notificationUrl": f"{receiver.url}/api/notify",
        "resource": f"groups/{DYNAMIC_GROUP}",
        "expirationDateTime": expiry(60),
        "clientState": "secret-state",
        **overrides,
    }


# --- delta --------------------------------------------------------------------------------------


def test_delta_first_round_returns_everything_then_a_delta_link(v1: httpx.Client) -> None:
    first = v1.get("devices/delta", headers={"Prefer": "odata.maxpagesize=10"}).json()
    assert len(first["value"]) == 10
    assert "@odata.deltaLink" not in first
    items, delta_link = read_all(v1, first["@odata.nextLink"])
    assert [d["id"] for d in first["value"] + items] == [device_id(n) for n in range(25)]
    assert "$deltatoken=" in delta_link
    assert delta_link.startswith(str(v1.base_url).rstrip("/") + "/devices/delta?")


def test_delta_link_returns_only_what_changed_since(sim: GraphSimulator, v1: httpx.Client) -> None:
    _, delta_link = read_all(v1, "groups/delta?$select=displayName,membershipRuleProcessingState")
    assert read_all(v1, delta_link)[0] == []
    sim.apply_changes(
        changes(
            rule_change(),
            {"op": "remove", "collection": GROUPS, "id": PAUSED_GROUP},
            {"op": "remove", "collection": DEVICES, "id": device_id(24)},
        )
    )
    changed, next_link = read_all(v1, delta_link)
    assert changed == [
        {
            "id": DYNAMIC_GROUP,
            "displayName": "Autopilot - All devices",
            "membershipRuleProcessingState": "Paused",
        },
        {"id": PAUSED_GROUP, "@removed": {"reason": "changed"}},
    ]
    assert read_all(v1, next_link)[0] == []


def test_removed_devices_are_reported_deleted(sim: GraphSimulator, v1: httpx.Client) -> None:
    _, delta_link = read_all(v1, "devices/delta?$deltaToken=latest")
    sim.apply_changes(changes({"op": "remove", "collection": DEVICES, "id": device_id(3)}))
    assert read_all(v1, delta_link)[0] == [{"id": device_id(3), "@removed": {"reason": "deleted"}}]


def test_delta_token_latest_returns_nothing_and_a_delta_link(
    sim: GraphSimulator, v1: httpx.Client
) -> None:
    body = v1.get("groups/delta?$deltaToken=latest").json()
    assert body["value"] == []
    sim.apply_changes(changes(rule_change()))
    changed, _ = read_all(v1, body["@odata.deltaLink"])
    assert [g["id"] for g in changed] == [DYNAMIC_GROUP]


def test_delta_with_members_selected_reports_membership_changes(
    sim: GraphSimulator, v1: httpx.Client
) -> None:
    everything, delta_link = read_all(v1, "groups/delta?$select=displayName,members")
    assigned = next(g for g in everything if g["id"] == ASSIGNED_GROUP)
    assert len(assigned["members@delta"]) == 25
    assert "members@delta" not in next(g for g in everything if g["id"] == DYNAMIC_GROUP)
    sim.apply_changes(
        changes(
            {"op": "removeGroupMember", "id": ASSIGNED_GROUP, "memberId": device_id(0)},
            {"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": "new-device"},
        )
    )
    [group], _ = read_all(v1, delta_link)
    assert group["id"] == ASSIGNED_GROUP
    assert sorted(group["members@delta"], key=lambda m: m["id"]) == [
        {
            "@odata.type": "#microsoft.graph.device",
            "id": device_id(0),
            "@removed": {"reason": "deleted"},
        },
        {"@odata.type": "#microsoft.graph.device", "id": "new-device"},
    ]


def test_membership_changes_are_not_reported_without_members_selected(
    sim: GraphSimulator, v1: httpx.Client
) -> None:
    _, delta_link = read_all(v1, "groups/delta?$select=displayName")
    sim.apply_changes(
        changes({"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": "new-device"})
    )
    assert read_all(v1, delta_link)[0] == []


def test_delta_filter_by_ids(sim: GraphSimulator, v1: httpx.Client) -> None:
    clause = f"id eq '{DYNAMIC_GROUP}' or id eq '{PAUSED_GROUP}'"
    everything, delta_link = read_all(v1, f"groups/delta?$filter={clause}")
    assert sorted(g["id"] for g in everything) == sorted([DYNAMIC_GROUP, PAUSED_GROUP])
    sim.apply_changes(
        changes(
            rule_change(),
            {"op": "set", "collection": GROUPS, "id": ASSIGNED_GROUP, "path": "x", "value": 1},
        )
    )
    assert [g["id"] for g in read_all(v1, delta_link)[0]] == [DYNAMIC_GROUP]


def test_delta_filter_over_fifty_ids_is_rejected(v1: httpx.Client) -> None:
    clause = " or ".join(f"id eq 'g{n}'" for n in range(51))
    assert v1.get("groups/delta", params={"$filter": clause}).status_code == 400
    fifty = " or ".join(f"id eq 'g{n}'" for n in range(50))
    assert v1.get("groups/delta", params={"$filter": fifty}).status_code == 200


@pytest.mark.parametrize(
    "query",
    ["$expand=members", "$orderby=displayName", "$top=5", "$filter=displayName eq 'x'"],
)
def test_delta_rejects_unsupported_options(v1: httpx.Client, query: str) -> None:
    assert v1.get(f"groups/delta?{query}").status_code == 400


def test_delta_token_expires_after_seven_days(sim: GraphSimulator, v1: httpx.Client) -> None:
    _, delta_link = read_all(v1, "groups/delta")
    sim.advance_clock(timedelta(days=6))
    _, delta_link = read_all(v1, delta_link)
    sim.advance_clock(timedelta(days=7, seconds=1))
    response = v1.get(delta_link)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "syncStateNotFound"


def test_expired_or_unknown_delta_tokens_answer_410(sim: GraphSimulator, v1: httpx.Client) -> None:
    _, delta_link = read_all(v1, "devices/delta")
    sim.expire_delta_tokens()
    assert v1.get(delta_link).status_code == 410
    assert v1.get("devices/delta?$deltatoken=made-up").status_code == 410
    assert v1.get("devices/delta?$skiptoken=made-up~0").status_code == 410


# --- audit logs ---------------------------------------------------------------------------------


def test_seeded_audit_logs_are_served(v1: httpx.Client) -> None:
    [event] = v1.get("deviceManagement/auditEvents").json()["value"]
    assert event["id"] == "59653ce8-3ce8-5965-e83c-6559e83c6559"
    [audit] = v1.get("auditLogs/directoryAudits").json()["value"]
    assert audit["activityDisplayName"] == "Add member to group"


def test_applied_intune_change_appends_an_audit_event(
    sim: GraphSimulator, v1: httpx.Client
) -> None:
    [event] = sim.apply_changes(
        changes(
            {
                "op": "set",
                "collection": MOBILE_APPS,
                "id": WIN32_APP,
                "path": "installExperience.runAsAccount",
                "value": "user",
            },
            actor={"userPrincipalName": "alex@contoso.com"},
        )
    )
    assert event["actor"]["userPrincipalName"] == "alex@contoso.com"
    assert event["actor"]["applicationDisplayName"]
    assert (event["activityType"], event["activityOperationType"], event["category"]) == (
        "Patch MobileApp",
        "Patch",
        "Application",
    )
    # The object's derived type, not the base entity the activity names.
    assert event["resources"][0]["auditResourceType"] == "Win32LobApp"
    assert event["activityResult"] == "Success"
    assert event["correlationId"]
    [resource] = event["resources"]
    assert (resource["resourceId"], resource["displayName"]) == (
        WIN32_APP,
        "Company Portal helper",
    )
    assert resource["modifiedProperties"] == [
        {
            "@odata.type": "#microsoft.graph.auditProperty",
            "displayName": "InstallExperience.RunAsAccount",
            "oldValue": "system",
            "newValue": "user",
        }
    ]
    served = v1.get("deviceManagement/auditEvents").json()["value"]
    assert served[-1] == event


def test_assignment_change_is_an_action_in_the_audit_log(sim: GraphSimulator) -> None:
    [event] = sim.apply_changes(
        changes(
            {
                "op": "addAssignment",
                "collection": DEVICE_CONFIGURATIONS,
                "id": CUSTOM_CONFIGURATION,
                "assignment": {"target": {"groupId": ASSIGNED_GROUP}},
            }
        )
    )
    assert (event["activityOperationType"], event["category"]) == ("Action", "DeviceConfiguration")
    assert event["resources"][0]["modifiedProperties"][0]["newValue"].startswith('{"id":')


def test_group_rule_change_appends_a_directory_audit(sim: GraphSimulator) -> None:
    [audit] = sim.apply_changes(changes(rule_change()))
    assert (audit["activityDisplayName"], audit["category"], audit["loggedByService"]) == (
        "Update group",
        "GroupManagement",
        "Core Directory",
    )
    assert audit["initiatedBy"]["user"]["userPrincipalName"]
    [target] = audit["targetResources"]
    assert target["id"] == DYNAMIC_GROUP
    assert target["modifiedProperties"][0] == {
        "displayName": "MembershipRuleProcessingState",
        "oldValue": '"On"',
        "newValue": '"Paused"',
    }
    assert sim.directory_audits()[-1] == audit


def test_member_change_appends_add_member_to_group(sim: GraphSimulator) -> None:
    [audit] = sim.apply_changes(
        changes({"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": "new-device"})
    )
    assert audit["activityDisplayName"] == "Add member to group"
    assert [t["id"] for t in audit["targetResources"]] == [ASSIGNED_GROUP, "new-device"]


def test_audit_filter_by_time_and_category_in_order(sim: GraphSimulator, v1: httpx.Client) -> None:
    since = graph_timestamp(sim.now() - timedelta(seconds=1))
    sim.apply_changes(
        changes(
            {"op": "remove", "collection": MOBILE_APPS, "id": WIN32_APP},
            {"op": "remove", "collection": DEVICE_CONFIGURATIONS, "id": CUSTOM_CONFIGURATION},
        )
    )
    recent = v1.get(
        "deviceManagement/auditEvents",
        params={"$filter": f"activityDateTime ge {since}", "$orderby": "activityDateTime desc"},
    ).json()["value"]
    assert [e["category"] for e in recent] == ["DeviceConfiguration", "Application"]
    apps = v1.get(
        "deviceManagement/auditEvents",
        params={"$filter": f"activityDateTime gt {since} and category eq 'Application'"},
    ).json()["value"]
    assert [e["resources"][0]["resourceId"] for e in apps] == [WIN32_APP]
    old = v1.get(
        "auditLogs/directoryAudits",
        params={
            "$filter": "activityDateTime le 2018-01-10T00:00:00Z and category eq 'UserManagement'"
        },
    ).json()["value"]
    assert [a["id"] for a in old] == ["id"]


def test_audit_logs_page(sim: GraphSimulator, v1: httpx.Client) -> None:
    sim.apply_changes(
        changes(
            *(
                {"op": "set", "collection": GROUPS, "id": DYNAMIC_GROUP, "path": "n", "value": n}
                for n in range(5)
            )
        )
    )
    first = v1.get("auditLogs/directoryAudits?$top=4").json()
    second = v1.get(first["@odata.nextLink"]).json()
    assert len(first["value"]) + len(second["value"]) == 6


@pytest.mark.parametrize(
    "clause",
    ["activityDateTime eq 2024-01-01T00:00:00Z", "category ne 'x'", "activityDateTime gt 'x'"],
)
def test_unsupported_audit_filters_are_rejected(v1: httpx.Client, clause: str) -> None:
    response = v1.get("deviceManagement/auditEvents", params={"$filter": clause})
    assert response.status_code == 400


def test_invalid_change_document_changes_nothing(sim: GraphSimulator) -> None:
    before = sim.tenant_snapshot()
    with pytest.raises(ChangeError, match=r"changes\[1\]\.id"):
        sim.apply_changes(
            changes(rule_change(), {"op": "remove", "collection": GROUPS, "id": "missing"})
        )
    assert sim.tenant_snapshot()["collections"] == before["collections"]
    assert len(sim.directory_audits()) == 1


# --- subscriptions ------------------------------------------------------------------------------


def test_subscription_is_created_after_the_validation_handshake(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    response = v1.post("subscriptions", json=subscription_body(receiver))
    assert response.status_code == 201
    created = response.json()
    assert created["resource"] == f"groups/{DYNAMIC_GROUP}"
    assert created["clientState"] == "secret-state"
    [handshake] = receiver.validation_requests()
    assert handshake.path == "/api/notify"
    assert handshake.content_type == "text/plain; charset=utf-8"
    assert handshake.query["validationToken"][0].startswith("Validation: Testing")
    assert [s["id"] for s in v1.get("subscriptions").json()["value"]] == [created["id"]]
    assert v1.get(f"subscriptions/{created['id']}").json()["changeType"] == "updated"


@pytest.mark.parametrize("answer", ["wrong_token", "server_error", "json_content_type", "slow"])
def test_subscription_is_refused_when_the_endpoint_fails_the_handshake(
    answer: Any,
) -> None:
    with (
        GraphSimulator(tiny_tenant(), validation_timeout_s=0.2) as sim,
        WebhookReceiver(handshake=answer, delay_s=0.5) as receiver,
        graph_client(sim) as v1,
    ):
        response = v1.post("subscriptions", json=subscription_body(receiver))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "ValidationError"
        assert v1.get("subscriptions").json()["value"] == []
        assert receiver.validation_requests()


def test_lifecycle_url_is_validated_too(v1: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(handshake="wrong_token") as failing:
        body = subscription_body(receiver, lifecycleNotificationUrl=f"{failing.url}/life")
        assert v1.post("subscriptions", json=body).status_code == 400
    ok = subscription_body(receiver, lifecycleNotificationUrl=f"{receiver.url}/life")
    assert v1.post("subscriptions", json=ok).status_code == 201
    # The failed attempt validated the notification URL before the lifecycle URL failed.
    assert [p.path for p in receiver.validation_requests()] == [
        "/api/notify",
        "/api/notify",
        "/life",
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"resource": "deviceManagement/deviceConfigurations"},
        {"resource": "devices"},
        {"resource": f"groups/{DYNAMIC_GROUP}/owners/x"},
        {"changeType": "created"},
        {"changeType": "updated,created"},
        # A day past the limit: the value is computed when the tests are collected, minutes before
        # this one runs.
        {"expirationDateTime": expiry(41_760 + 1_440)},
        {"expirationDateTime": expiry(-5)},
        {"expirationDateTime": "soon"},
        {"clientState": "x" * 129},
        {"notificationUrl": "http://example.com/hook"},
        {"notificationUrl": None},
    ],
)
def test_invalid_subscriptions_are_rejected(
    v1: httpx.Client, receiver: WebhookReceiver, overrides: dict[str, Any]
) -> None:
    response = v1.post("subscriptions", json=subscription_body(receiver, **overrides))
    assert response.status_code == 400
    assert receiver.validation_requests() == []


@pytest.mark.parametrize(
    "resource", ["groups", f"/groups/{ASSIGNED_GROUP}/members", "users", "users/u1"]
)
def test_directory_resources_are_subscribable(
    v1: httpx.Client, receiver: WebhookReceiver, resource: str
) -> None:
    body = subscription_body(receiver, resource=resource, changeType="updated,deleted")
    assert v1.post("subscriptions", json=body).status_code == 201


def test_subscription_quota_is_one_hundred_per_app_and_tenant(
    v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    body = subscription_body(receiver, resource="groups")
    statuses = [v1.post("subscriptions", json=body).status_code for _ in range(101)]
    assert statuses == [201] * 100 + [403]


def test_subscription_renewal_delete_and_reauthorize(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = v1.post("subscriptions", json=subscription_body(receiver)).json()
    path = f"subscriptions/{created['id']}"
    renewed = v1.patch(path, json={"expirationDateTime": expiry(41_000)})
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] > created["expirationDateTime"]
    assert v1.patch(path, json={"expirationDateTime": expiry(50_000)}).status_code == 400
    assert v1.patch(path, json={"resource": "users"}).status_code == 400
    assert v1.post(f"{path}/reauthorize").status_code == 204
    assert v1.delete(path).status_code == 204
    assert v1.get(path).status_code == 404
    assert v1.delete(path).status_code == 404


def test_expired_subscription_disappears(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = v1.post("subscriptions", json=subscription_body(receiver)).json()
    sim.advance_clock(timedelta(minutes=61))
    assert v1.get(f"subscriptions/{created['id']}").status_code == 404
    sim.apply_changes(changes(rule_change()))
    assert sim.wait_for_deliveries(5) == []


# --- notifications ------------------------------------------------------------------------------


def test_group_change_is_notified_in_graph_shape(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = v1.post("subscriptions", json=subscription_body(receiver)).json()
    sim.apply_changes(changes(rule_change()))
    [delivery] = sim.wait_for_deliveries(5)
    assert delivery.ok
    assert delivery.status == 202
    [post] = receiver.notifications()
    assert post.content_type.startswith("application/json")
    [notification] = post.json()["value"]
    assert notification == {
        "subscriptionId": created["id"],
        "subscriptionExpirationDateTime": created["expirationDateTime"],
        "changeType": "updated",
        "clientState": "secret-state",
        "resource": f"Groups/{DYNAMIC_GROUP}",
        "tenantId": TENANT_ID,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Group",
            "@odata.id": f"Groups/{DYNAMIC_GROUP}",
            "id": DYNAMIC_GROUP,
            "organizationId": TENANT_ID,
        },
    }


def test_only_matching_subscriptions_are_notified(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    def subscribe(resource: str) -> str:
        body = subscription_body(receiver, resource=resource)
        subscription_id: str = v1.post("subscriptions", json=body).json()["id"]
        return subscription_id

    everything = subscribe("groups")
    dynamic = subscribe(f"groups/{DYNAMIC_GROUP}")
    subscribe(f"groups/{PAUSED_GROUP}")
    members = subscribe(f"groups/{ASSIGNED_GROUP}/members")
    subscribe(f"groups/{DYNAMIC_GROUP}/members")
    subscribe("users")
    deleted_only = v1.post(
        "subscriptions", json=subscription_body(receiver, resource="groups", changeType="deleted")
    ).json()["id"]
    sim.apply_changes(
        changes(
            {
                "op": "set",
                "collection": GROUPS,
                "id": DYNAMIC_GROUP,
                "path": "description",
                "value": "d",
            },
            {"op": "addGroupMember", "id": ASSIGNED_GROUP, "memberId": "new-device"},
        )
    )
    [delivery] = sim.wait_for_deliveries(5)  # one POST per receiver URL
    notified = sorted(
        (n["subscriptionId"], n["resourceData"]["id"]) for n in delivery.payload["value"]
    )
    assert notified == sorted(
        [
            (everything, DYNAMIC_GROUP),
            (everything, ASSIGNED_GROUP),
            (dynamic, DYNAMIC_GROUP),
            (members, ASSIGNED_GROUP),
        ]
    )
    assert deleted_only not in delivery.subscription_ids


def test_rule_change_notifies_members_subscribers(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    body = subscription_body(receiver, resource=f"groups/{DYNAMIC_GROUP}/members")
    created = v1.post("subscriptions", json=body).json()
    sim.apply_changes(changes(rule_change()))
    [delivery] = sim.wait_for_deliveries(5)
    assert delivery.subscription_ids == (created["id"],)


def test_intune_changes_notify_nobody(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    v1.post("subscriptions", json=subscription_body(receiver, resource="groups"))
    sim.apply_changes(changes({"op": "remove", "collection": MOBILE_APPS, "id": WIN32_APP}))
    assert sim.wait_for_deliveries(5) == []
    assert receiver.notifications() == []


def test_failed_delivery_is_recorded(sim: GraphSimulator, v1: httpx.Client) -> None:
    with WebhookReceiver(notification_status=500) as failing:
        v1.post("subscriptions", json=subscription_body(failing))
        sim.apply_changes(changes(rule_change()))
        [delivery] = sim.wait_for_deliveries(5)
    assert delivery.status == 500
    assert not delivery.ok


def test_lifecycle_event_is_sent_to_the_lifecycle_url(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    body = subscription_body(receiver, lifecycleNotificationUrl=f"{receiver.url}/lifecycle")
    created = v1.post("subscriptions", json=body).json()
    sim.send_lifecycle_event(created["id"], "reauthorizationRequired")
    [delivery] = sim.wait_for_deliveries(5)
    assert (delivery.kind, delivery.url) == ("lifecycle", f"{receiver.url}/lifecycle")
    [post] = [p for p in receiver.notifications() if p.path == "/lifecycle"]
    assert post.json() == {
        "value": [
            {
                "subscriptionId": created["id"],
                "subscriptionExpirationDateTime": created["expirationDateTime"],
                "tenantId": TENANT_ID,
                "clientState": "secret-state",
                "lifecycleEvent": "reauthorizationRequired",
            }
        ]
    }


def test_lifecycle_events_need_a_known_subscription_with_a_lifecycle_url(
    sim: GraphSimulator, v1: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = v1.post("subscriptions", json=subscription_body(receiver)).json()
    with pytest.raises(ValueError, match="lifecycleNotificationUrl"):
        sim.send_lifecycle_event(created["id"])
    with pytest.raises(ValueError, match="not sent for group"):
        sim.send_lifecycle_event(created["id"], "missed")
    with pytest.raises(KeyError):
        sim.send_lifecycle_event("unknown")
