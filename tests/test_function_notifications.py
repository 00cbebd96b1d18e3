"""The Graph webhook through the real Functions handler: handshake, clientState, lifecycle,
enqueue on Azurite, and the failure answers Graph relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from monitors.guardrail.queues import CHANGES_QUEUE, ChangeMessage
from monitors.guardrail.webhook import MAX_BODY_BYTES, answer_notification
from tests.azurite import Azurite
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    CLIENT_STATE,
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    user_function,
)

TENANT = "11111111-2222-3333-4444-555555555555"
SUBSCRIPTION = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


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


def post(body: bytes, params: dict[str, str] | None = None) -> func.HttpResponse:
    request = func.HttpRequest(
        method="POST", url="/api/notifications", params=params or {}, body=body
    )
    response: func.HttpResponse = user_function("receive_graph_notification")(request)
    return response


def item(
    client_state: str = CLIENT_STATE, group: str = ALL_DEVICES_GROUP, **extra: Any
) -> dict[str, Any]:
    return {
        "subscriptionId": SUBSCRIPTION,
        "subscriptionExpirationDateTime": "2026-12-20T10:00:00.0000000Z",
        "changeType": "updated",
        "clientState": client_state,
        "resource": f"Groups/{group}",
        "tenantId": TENANT,
        "resourceData": {"@odata.type": "#Microsoft.Graph.Group", "id": group},
        **extra,
    }


def body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


def test_handshake_echoes_the_decoded_token_as_plain_text_without_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.delenv("GREENSCREEN_STORAGE_CONNECTION", raising=False)
    reset_function_app()
    token = (
        "Validation: Testing client application reachability for subscription Request-Id: a+b/c=<x>"
    )
    response = post(b"", {"validationToken": token})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_body().decode() == token
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_handshake_refuses_an_oversized_token() -> None:
    response = post(b"", {"validationToken": "x" * 5000})
    assert response.status_code == 400


def test_verified_group_notification_is_queued_as_one_change_and_answered_202(
    configured: None, azurite: Azurite
) -> None:
    # Graph may carry the same change twice in one POST: one message.
    response = post(body(item(), item()))
    assert response.status_code == 202
    queued = [ChangeMessage.from_text(text) for text in drain(azurite, CHANGES_QUEUE)]
    assert [(m.tenant_id, m.source, m.kind, m.resource["id"]) for m in queued] == [
        (TENANT, "notification", "group", ALL_DEVICES_GROUP)
    ]


def test_items_with_a_wrong_or_missing_client_state_are_dropped_and_the_rest_queued(
    configured: None, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    forged = item(
        client_state=CLIENT_STATE[:-1] + "X", group="bbbbbbbb-0000-0000-0000-000000000001"
    )
    missing = item(group="bbbbbbbb-0000-0000-0000-000000000002")
    del missing["clientState"]
    response = post(body(forged, missing, item()))
    assert response.status_code == 202
    queued = [ChangeMessage.from_text(text) for text in drain(azurite, CHANGES_QUEUE)]
    assert [m.resource["id"] for m in queued] == [ALL_DEVICES_GROUP]
    assert "2 wrong clientState" in caplog.text
    assert CLIENT_STATE not in caplog.text


def test_notification_for_a_tenant_not_configured_is_dropped(
    configured: None, azurite: Azurite
) -> None:
    response = post(body(item(tenantId="99999999-2222-3333-4444-555555555555")))
    assert response.status_code == 202
    assert drain(azurite, CHANGES_QUEUE) == []


def test_reauthorization_lifecycle_event_queues_a_reauthorize_message(
    configured: None, azurite: Azurite
) -> None:
    lifecycle = {
        "subscriptionId": SUBSCRIPTION,
        "subscriptionExpirationDateTime": "2026-12-20T10:00:00.0000000Z",
        "tenantId": TENANT,
        "clientState": CLIENT_STATE,
        "lifecycleEvent": "reauthorizationRequired",
    }
    assert post(body(lifecycle)).status_code == 202
    (message,) = [ChangeMessage.from_text(text) for text in drain(azurite, CHANGES_QUEUE)]
    assert (message.kind, dict(message.resource)) == (
        "reauthorize",
        {"subscriptionId": SUBSCRIPTION, "lifecycleEvent": "reauthorizationRequired"},
    )


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"value": {}}', b'{"value": ["x"]}', b'{"other": []}'],
    ids=["not-json", "list", "value-object", "value-of-strings", "no-value"],
)
def test_malformed_body_is_answered_400(configured: None, payload: bytes) -> None:
    assert post(payload).status_code == 400


def test_oversized_body_is_refused_before_parsing(configured: None) -> None:
    assert post(b" " * (MAX_BODY_BYTES + 1)).status_code == 413


class FailingSender:
    def send(self, queue: str, text: str) -> None:
        raise ConnectionError("queue unreachable")


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, queue: str, text: str) -> None:
        self.sent.append((queue, text))


def test_failed_enqueue_answers_503_so_graph_retries() -> None:
    reply, counts = answer_notification(
        {}, body(item()), client_state=CLIENT_STATE, tenant_ids={TENANT}, sender=FailingSender()
    )
    assert reply.status == 503
    assert counts.accepted == 1


def test_missing_client_state_setting_refuses_with_503_instead_of_accepting_anything() -> None:
    sender = RecordingSender()
    reply, _ = answer_notification(
        {}, body(item()), client_state=None, tenant_ids={TENANT}, sender=sender
    )
    assert reply.status == 503
    assert sender.sent == []


def test_notification_about_something_other_than_a_group_is_not_queued() -> None:
    sender = RecordingSender()
    user = item()
    user["resource"] = "Users/" + ALL_DEVICES_GROUP
    reply, counts = answer_notification(
        {}, body(user), client_state=CLIENT_STATE, tenant_ids={TENANT}, sender=sender
    )
    assert (reply.status, counts.unusable, sender.sent) == (202, 1, [])
