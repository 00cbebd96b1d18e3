"""One root cause, one card: counted at a local Teams webhook, through the real handlers.

`evaluate_now` → `process_change` (Graph simulator, Azurite) → the `alerts` queue → `send_alert`
→ a loopback Teams Workflows receiver. A 403 on one collection during a reconcile makes every
rule reading it UNKNOWN; Teams hears about it once, naming the collection and the permission.
"""

from __future__ import annotations

import json
import re
from typing import Any

import azure.functions as func
import pytest

from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertBatch
from monitors.store.verdict_store import VerdictStore
from rules import tenant_collections as tc
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_alert_sender import Receiver
from tests.test_function_support import (
    M365_APPS,
    SALES_USERS_GROUP,
    drain,
    empty_queues,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
    user_function,
)
from tests.test_guardrail_e2e import (
    ALL_DEVICES_GROUP,
    CHANGE_FORMAT,
    baseline,
    deliver,
    deployed,  # noqa: F401 - fixture
    teams,  # noqa: F401 - fixture
)


def evaluate(tenant: str) -> list[str]:
    request = func.HttpRequest(
        method="POST",
        url="/api/evaluate",
        params={},
        body=json.dumps({"tenantId": tenant}).encode(),
    )
    assert user_function("evaluate_now")(request).status_code == 202
    return []


def send(texts: list[str]) -> None:
    for index, text in enumerate(texts):
        user_function("send_alert")(func.QueueMessage(id=f"a{index}", body=text.encode()))


def shown(card: dict[str, Any]) -> str:
    """What a card body shows, Markdown escapes resolved."""
    return re.sub(r"\\(.)", r"\1", json.dumps(card, ensure_ascii=False))


def test_a_403_during_a_reconcile_posts_one_card_naming_the_collection_and_permission(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    simulator.add_fault(Fault(rf"^{tc.MOBILE_APPS}$", "forbidden", times=None))
    evaluate(tenant)
    deliver(drain(azurite, CHANGES_QUEUE))

    texts = drain(azurite, ALERTS_QUEUE)
    assert len(texts) == 1  # one message for the run
    (batch,) = [AlertBatch.from_text(text) for text in texts]
    blind = [a for a in batch.alerts if a.transition["to"] == "unknown"]
    assert len(blind) > 5  # many verdicts went blind at once ...

    send(texts)
    assert len(teams.bodies) == 1  # ... and Teams heard about it once
    card = shown(teams.bodies[0])
    assert tc.MOBILE_APPS in card
    assert "DeviceManagementApps.Read.All" in card
    assert "Monitor blind (other)" not in card
    send(texts)  # a redelivered message posts nothing twice
    assert len(teams.bodies) == 1

    # The permission is granted: the verdicts come back, again as one card.
    simulator.clear_faults()
    evaluate(tenant)
    deliver(drain(azurite, CHANGES_QUEUE))
    texts = drain(azurite, ALERTS_QUEUE)
    assert len(texts) == 1
    send(texts)
    assert len(teams.bodies) == 2
    assert "resolved" in shown(teams.bodies[1]).lower()


def _move_app_to_sales_users(sim: GraphSimulator) -> None:
    sim.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "actor": {"userPrincipalName": "eve.admin@contoso.onmicrosoft.com"},
            "changes": [
                {
                    "op": "removeAssignment",
                    "collection": tc.MOBILE_APPS,
                    "id": M365_APPS,
                    "target": {"groupId": ALL_DEVICES_GROUP},
                },
                {
                    "op": "addAssignment",
                    "collection": tc.MOBILE_APPS,
                    "id": M365_APPS,
                    "assignment": {
                        "intent": "required",
                        "target": {
                            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                            "groupId": SALES_USERS_GROUP,
                        },
                    },
                },
            ],
        }
    )


@pytest.mark.parametrize("digest_above", [None, "10"])
def test_one_app_change_posts_one_digest_above_the_threshold_and_a_card_each_below(
    deployed: VerdictStore,  # noqa: F811 - fixture
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811 - fixture
    teams: Receiver,  # noqa: F811 - fixture
    monkeypatch: pytest.MonkeyPatch,
    digest_above: str | None,
) -> None:
    if digest_above is not None:
        monkeypatch.setenv("GREENSCREEN_ALERT_DIGEST_ABOVE", digest_above)
    # Every severity to the channel: the warnings of the change count too.
    monkeypatch.setenv(
        "GREENSCREEN_ALERT_ROUTES",
        json.dumps([{"name": "ops", "webhookSetting": "TEAMS_OPS_WEBHOOK", "minSeverity": "info"}]),
    )
    tenant = tenant_of(simulator)
    baseline(azurite, tenant)
    _move_app_to_sales_users(simulator)
    evaluate(tenant)
    deliver(drain(azurite, CHANGES_QUEUE))
    texts = drain(azurite, ALERTS_QUEUE)
    assert len(texts) == 1  # the run's alerts travel together
    transitions = len(AlertBatch.from_text(texts[0]).alerts)
    assert transitions == 6  # the app on the ESP list, in each profile, and the app's own rules
    send(texts)
    if digest_above is None:  # by default one run, one card
        assert len(teams.bodies) == 1
        assert f"{transitions} readiness changes" in shown(teams.bodies[0])
    else:
        assert len(teams.bodies) == transitions
    send(texts)
    assert len(teams.bodies) == (1 if digest_above is None else transitions)


def test_a_bad_digest_threshold_is_refused_by_the_name_of_its_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitors.alerts.routing import AlertSettingsError, digest_above_from_settings

    for value in ("0", "-1", "five", "101", "1e3"):
        with pytest.raises(AlertSettingsError, match="GREENSCREEN_ALERT_DIGEST_ABOVE"):
            digest_above_from_settings({"GREENSCREEN_ALERT_DIGEST_ABOVE": value})
    assert digest_above_from_settings({}) == 1


def _transition_json(index: int) -> dict[str, object]:
    return {
        "at": "2026-11-24T10:00:00.000Z",
        "ruleId": f"APP-{index % 13:03d}",
        "ruleVersion": 1,
        "scope": {"profileId": f"profile-{index % 3}", "displayName": "Contoso pre-provisioning"},
        "subject": {"type": "mobileApp", "id": f"app-{index}", "displayName": f"App {index}"},
        "from": "pass",
        "to": "unknown",
        "severity": "error",
        "message": "cannot be evaluated: data it needs could not be read",
        "reasons": [
            "deviceAppManagement/mobileApps could not be read (403 Application is not authorized)"
        ],
        "runId": "change-run-1",
        "causeEventIds": [],
    }


def test_a_run_of_hundreds_of_transitions_travels_as_one_compressed_message() -> None:
    from monitors.guardrail.queues import MAX_MESSAGE_CHARS, AlertMessage, alert_batches

    tenant = "2ac43dfe-b52d-5454-a43a-41903be9693e"
    alerts = [AlertMessage(tenant, _transition_json(i), f"key{i:04d}") for i in range(194)]
    (batch,) = alert_batches(tenant, "change-run-1", alerts)
    text = batch.to_text()
    assert len(text) <= MAX_MESSAGE_CHARS
    assert "alertsZ" in text
    assert AlertBatch.from_text(text).alerts == tuple(alerts)


def test_a_run_too_large_even_compressed_is_split_into_parts_that_each_fit() -> None:
    import random

    from monitors.guardrail.queues import MAX_MESSAGE_CHARS, AlertMessage, alert_batches

    tenant = "2ac43dfe-b52d-5454-a43a-41903be9693e"
    noise = random.Random(7)
    alerts = []
    for i in range(400):
        document = _transition_json(i)
        document["message"] = "".join(noise.choice("abcdefghijklmnop") for _ in range(400))
        alerts.append(AlertMessage(tenant, document, f"key{i:04d}"))
    batches = alert_batches(tenant, "change-run-1", alerts)
    assert len(batches) > 1
    assert all(len(b.to_text()) <= MAX_MESSAGE_CHARS for b in batches)
    assert [(b.part, b.parts) for b in batches] == [
        (i + 1, len(batches)) for i in range(len(batches))
    ]
    back = [a for b in batches for a in AlertBatch.from_text(b.to_text()).alerts]
    assert back == alerts


def test_a_compressed_message_that_inflates_beyond_the_limit_is_refused() -> None:
    import base64
    import zlib

    from monitors.guardrail.queues import ALERT_BATCH_FORMAT, MessageError

    bomb = base64.b64encode(zlib.compress(b"[" + b" " * 50_000_000 + b"]", 9)).decode()
    text = json.dumps(
        {
            "format": ALERT_BATCH_FORMAT,
            "tenantId": "2ac43dfe-b52d-5454-a43a-41903be9693e",
            "runId": "r",
            "alertsZ": bomb,
        }
    )
    with pytest.raises(MessageError):
        AlertBatch.from_text(text)
