"""Queue message contracts, settings parsing, and the evaluate/send_alert handlers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import azure.functions as func
import pytest

from monitors.guardrail.queues import CHANGES_QUEUE, AlertMessage, ChangeMessage, MessageError
from monitors.guardrail.settings import SettingsError, parse_tenants, read_settings
from monitors.store.records import StoredStatus, Transition, VerdictRecord
from tests.azurite import Azurite
from tests.test_function_support import (
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    user_function,
)

TENANT = "11111111-2222-3333-4444-555555555555"


def test_change_message_round_trips_and_its_id_depends_only_on_its_content() -> None:
    first = ChangeMessage.create(
        TENANT,
        "audit",
        "intune",
        {
            "collection": "deviceAppManagement/mobileApps",
            "id": "726fa256-e828-5e6f-8b88-e64c38807a52",
        },
        ["e2", "e1"],
    )
    again = ChangeMessage.create(
        TENANT,
        "audit",
        "intune",
        {
            "id": "726fa256-e828-5e6f-8b88-e64c38807a52",
            "collection": "deviceAppManagement/mobileApps",
        },
        ["e1", "e2"],
    )
    assert first == again
    assert ChangeMessage.from_text(first.to_text()) == first
    assert json.loads(first.to_text())["eventIds"] == ["e1", "e2"]


@pytest.mark.parametrize(
    "document",
    [
        {"tenantId": TENANT, "source": "audit", "kind": "group", "resource": {}, "id": "x"},
        {"tenantId": TENANT, "source": "gossip", "kind": "full", "resource": {}, "id": "x"},
        {"tenantId": "' or 1 eq 1", "source": "manual", "kind": "full", "resource": {}, "id": "x"},
        {
            "tenantId": TENANT,
            "source": "audit",
            "kind": "intune",
            "resource": {"collection": "deviceManagement/managedDevices", "id": "x"},
            "id": "x",
        },
        {
            "tenantId": TENANT,
            "source": "delta",
            "kind": "group",
            "resource": {"id": "../../users"},
            "id": "x",
        },
        {
            "tenantId": TENANT,
            "source": "manual",
            "kind": "full",
            "resource": {},
            "id": "x",
            "more": 1,
        },
    ],
    ids=[
        "group-without-id",
        "unknown-source",
        "bad-tenant",
        "not-a-snapshot-collection",
        "path-in-id",
        "extra-field",
    ],
)
def test_change_messages_outside_the_contract_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(MessageError):
        ChangeMessage.from_text(json.dumps(document))


def transition(seq: int, to: StoredStatus) -> Transition:
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    record = VerdictRecord(
        rule_id="GRP-002",
        rule_version=1,
        scope_id="profile-1",
        scope_name="Profile",
        subject_type="group",
        subject_id="g-1",
        subject_name="Group",
        status=to,
        severity="blocker",
        message="paused",
        reasons=(),
        first_seen=at,
        last_changed=at,
    )
    return Transition(TENANT, at, "run-1", seq, StoredStatus.PASS, to, record, ("e1",))


def test_alert_key_is_the_same_for_the_same_transition_and_differs_for_another() -> None:
    key = AlertMessage.for_transition(transition(7, StoredStatus.FAIL)).idempotency_key
    assert AlertMessage.for_transition(transition(7, StoredStatus.FAIL)).idempotency_key == key
    assert AlertMessage.for_transition(transition(8, StoredStatus.FAIL)).idempotency_key != key
    message = AlertMessage.for_transition(transition(7, StoredStatus.FAIL))
    assert AlertMessage.from_text(message.to_text()) == message


def test_tenants_setting_is_validated_and_normalised() -> None:
    (tenant,) = parse_tenants(json.dumps([{"tenantId": TENANT.upper(), "clientId": "app"}]))
    assert (tenant.tenant_id, tenant.client_id, tenant.graph_url) == (TENANT, "app", None)
    for bad in (
        "{}",
        "[1]",
        '[{"tenantId": "x y"}]',
        '[{"tenantId": "' + TENANT + '", "secret": 1}]',
    ):
        with pytest.raises(SettingsError, match="TENANTS"):
            parse_tenants(bad)


def test_local_auth_is_refused_for_a_graph_that_is_not_on_loopback() -> None:
    with pytest.raises(SettingsError, match="loopback"):
        read_settings(
            {
                "GREENSCREEN_GRAPH_AUTH": "local",
                "GREENSCREEN_GRAPH_URL": "https://graph.microsoft.com",
            }
        )


def test_settings_errors_never_echo_the_client_state() -> None:
    secret = "s" * 200
    with pytest.raises(SettingsError) as raised:
        read_settings({"GREENSCREEN_CLIENT_STATE": secret})
    assert secret not in str(raised.value)


@pytest.fixture
def configured(
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[None]:

    env = guardrail_env(azurite, [{"tenantId": TENANT}], "https://graph.microsoft.com")
    env["GREENSCREEN_GRAPH_AUTH"] = "default"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    yield
    reset_function_app()


def evaluate(body: bytes) -> func.HttpResponse:
    request = func.HttpRequest(method="POST", url="/api/evaluate", params={}, body=body)
    response: func.HttpResponse = user_function("evaluate_now")(request)
    return response


def test_evaluate_now_queues_a_full_read_for_a_configured_tenant(
    configured: None, azurite: Azurite
) -> None:
    response = evaluate(json.dumps({"tenantId": TENANT.upper()}).encode())
    assert response.status_code == 202
    (message,) = [ChangeMessage.from_text(t) for t in drain(azurite, CHANGES_QUEUE)]
    assert (message.tenant_id, message.source, message.kind) == (TENANT, "manual", "full")
    assert json.loads(response.get_body())["id"] == message.id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        (json.dumps({"tenantId": "not a tenant"}).encode(), 400),
        (json.dumps({"tenantId": "99999999-2222-3333-4444-555555555555"}).encode(), 404),
    ],
    ids=["not-json", "bad-tenant", "unknown-tenant"],
)
def test_evaluate_now_refuses_what_it_cannot_queue(
    configured: None, azurite: Azurite, body: bytes, status: int
) -> None:
    assert evaluate(body).status_code == status
    assert drain(azurite, CHANGES_QUEUE) == []


def test_alert_message_round_trips_the_devices_at_risk_and_related_objects() -> None:
    message = AlertMessage(
        "2ac43dfe-b52d-5454-a43a-41903be9693e",
        {"ruleId": "GRP-002"},
        "abc123",
        devices_at_risk=40,
        related=({"type": "group", "id": "g-1", "displayName": "Autopilot - All devices"},),
    )
    again = AlertMessage.from_text(message.to_text())
    assert (again.devices_at_risk, again.related) == (40, message.related)
    with pytest.raises(MessageError, match="devicesAtRisk"):
        AlertMessage.from_text(
            message.to_text().replace('"devicesAtRisk":40', '"devicesAtRisk":-1')
        )
