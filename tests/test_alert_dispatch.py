"""The `send_alert` trigger delivers an `alerts` message to the configured webhook, once."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import azure.functions as func
import pytest

from monitors.guardrail.queues import AlertMessage, MessageError
from monitors.store.records import StoredStatus, Transition, VerdictRecord
from tests.azurite import Azurite
from tests.test_alert_sender import Receiver
from tests.test_function_support import user_function

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def paused_group_transition(run_id: str) -> Transition:
    record = VerdictRecord(
        rule_id="GRP-002",
        rule_version=1,
        scope_id="profile-1",
        scope_name="Contoso - Entra join (pre-provisioning)",
        subject_type="group",
        subject_id="group-1",
        subject_name="Autopilot - All devices",
        status=StoredStatus.FAIL,
        severity="error",
        message="dynamic membership processing of 'Autopilot - All devices' is paused",
        reasons=("membershipRuleProcessingState is 'Paused'",),
        first_seen=AT,
        last_changed=AT,
    )
    return Transition(
        tenant_id="2ac43dfe-b52d-5454-a43a-41903be9693e",
        at=AT,
        run_id=run_id,
        seq=7,
        from_status=StoredStatus.PASS,
        to_status=StoredStatus.FAIL,
        record=record,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def alert_settings(
    azurite: Azurite, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Receiver:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("GREENSCREEN_HISTORY_BASE_URL", "https://greenscreen.example.org")
    monkeypatch.setenv("TEAMS_OPS_WEBHOOK", receiver.url.reveal())
    monkeypatch.setenv(
        "GREENSCREEN_ALERT_ROUTES",
        json.dumps(
            [{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "error"}]
        ),
    )
    return receiver


def queue_message(message: AlertMessage) -> func.QueueMessage:
    text = message.to_text()
    body = text.encode() if isinstance(text, str) else text
    return func.QueueMessage(id="m-1", body=base64.b64decode(base64.b64encode(body)))


def test_send_alert_posts_the_card_once_even_when_the_message_is_redelivered(
    alert_settings: Receiver,
) -> None:
    message = AlertMessage.for_transition(paused_group_transition("run-dispatch-1"))
    send_alert = user_function("send_alert")
    send_alert(queue_message(message))
    send_alert(queue_message(message))  # the queue redelivers
    assert len(alert_settings.bodies) == 1
    card = json.dumps(alert_settings.bodies[0])
    assert "GRP-002" in card
    assert "Autopilot - All devices" in card
    assert alert_settings.bodies[0]["attachments"][0]["contentType"] == (
        "application/vnd.microsoft.card.adaptive"
    )


def test_an_undeliverable_alert_raises_so_the_host_retries_and_poisons_it(
    alert_settings: Receiver,
) -> None:
    from monitors.alerts.delivery import AlertUndeliverable
    from tests.test_alert_sender import Answer

    alert_settings.answer(Answer(status=404))
    message = AlertMessage.for_transition(paused_group_transition("run-dispatch-2"))
    with pytest.raises(AlertUndeliverable) as raised:
        user_function("send_alert")(queue_message(message))
    assert alert_settings.url.reveal() not in str(raised.value)


def test_a_message_without_a_usable_transition_is_refused() -> None:
    from monitors.guardrail.alert_dispatch import transition_from_message

    broken = AlertMessage("t", {"ruleId": "GRP-002", "to": "fail"}, "k")
    with pytest.raises(MessageError, match="transition"):
        transition_from_message(broken)
