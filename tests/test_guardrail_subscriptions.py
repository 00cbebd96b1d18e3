"""Subscription upkeep against the simulator: create, keep, renew, recreate, delete, reauthorize."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.queues import ChangeMessage
from monitors.guardrail.subscriptions import SubscriptionOutcome, maintain_subscriptions
from tests.graphsim import GraphSimulator
from tests.graphsim.webhook_receiver import WebhookReceiver
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    CLIENT_STATE,
    empty_queues,  # noqa: F401 - fixture
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)

AUTOPILOT_GROUPS = {
    ALL_DEVICES_GROUP,
    "7a381dba-98d1-5056-9be8-01b0b0cd55b0",  # Sales devices (excluded, dynamic)
    "1431260f-c840-5a8f-9d19-d187bde1a5f5",  # Hybrid join devices (dynamic)
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(handshake="echo") as webhook:
        yield webhook


def maintain(
    services: Services,  # noqa: F811
    receiver: WebhookReceiver,
    now: datetime | None = None,
) -> SubscriptionOutcome:
    tenant = services.settings.tenants[0].tenant_id

    async def run() -> SubscriptionOutcome:
        async with services.connect(tenant) as client:
            return await maintain_subscriptions(
                client,
                tenant,
                mirror=services.mirror,
                store=services.store,
                notification_url=receiver.url,
                client_state=CLIENT_STATE,
                now=now or datetime.now(UTC),
                renew_before=timedelta(hours=72),
            )

    return asyncio.run(run())


@pytest.fixture
def baseline(services: Services, simulator: GraphSimulator) -> str:  # noqa: F811
    tenant = tenant_of(simulator)
    process_change_text(services, ChangeMessage.create(tenant, "manual", "full").to_text())
    return tenant


def test_every_autopilot_group_gets_one_subscription_and_a_second_run_keeps_them(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    receiver: WebhookReceiver,
    baseline: str,
) -> None:
    first = maintain(services, receiver)
    assert sorted(first.created) == sorted(f"groups/{g}" for g in AUTOPILOT_GROUPS)
    assert {s["resource"] for s in simulator.subscriptions()} == set(first.created)
    second = maintain(services, receiver)
    assert (second.created, sorted(second.kept)) == ([], sorted(first.created))
    stored = services.store.list_subscriptions(baseline)
    assert len(stored) == 3
    assert all("clientState" not in s for s in stored)


def test_subscription_close_to_expiry_is_renewed(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    receiver: WebhookReceiver,
    baseline: str,
) -> None:
    maintain(services, receiver)
    later = datetime.now(UTC) + timedelta(days=27)
    simulator.advance_clock(timedelta(days=27))
    outcome = maintain(services, receiver, now=later)
    assert len(outcome.renewed) == 3
    expiries = {s["expirationDateTime"][:10] for s in simulator.subscriptions()}
    assert expiries == {(later + timedelta(minutes=41_700)).strftime("%Y-%m-%d")}


def test_lost_subscription_is_created_again_and_an_unwanted_one_deleted(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    receiver: WebhookReceiver,
    baseline: str,
) -> None:
    import httpx

    maintain(services, receiver)
    headers = {"Authorization": "Bearer t"}
    with httpx.Client(base_url=f"{simulator.url}/v1.0", headers=headers, trust_env=False) as http:
        lost = next(s for s in simulator.subscriptions() if ALL_DEVICES_GROUP in s["resource"])
        assert http.delete(f"subscriptions/{lost['id']}").status_code == 204
        extra = http.post(
            "subscriptions",
            json={
                "changeType": "updated",
                "notificationUrl": receiver.url,
                "resource": "groups",
                "expirationDateTime": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "clientState": CLIENT_STATE,
            },
        )
        assert extra.status_code == 201
    outcome = maintain(services, receiver)
    assert (outcome.created, outcome.deleted) == ([f"groups/{ALL_DEVICES_GROUP}"], ["groups"])
    assert len(simulator.subscriptions()) == 3


def test_reauthorization_message_reauthorizes_an_existing_subscription_and_reports_a_lost_one(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    receiver: WebhookReceiver,
    baseline: str,
) -> None:
    maintain(services, receiver)
    existing = simulator.subscriptions()[0]["id"]
    outcomes = []
    for subscription_id in (existing, "0000aaaa-0000-0000-0000-000000000000"):
        message = ChangeMessage.create(
            baseline,
            "notification",
            "reauthorize",
            {"subscriptionId": subscription_id, "lifecycleEvent": "reauthorizationRequired"},
        )
        outcomes.append(process_change_text(services, message.to_text()).outcome)
    assert outcomes == ["reauthorized", "lost"]
    reauthorize = [r for r in simulator.request_log if r.path.endswith("/reauthorize")]
    assert [r.status for r in reauthorize] == [204, 404]
