"""The `purge_expired_history` timer enforces the retention period for every tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.timer import TimerRequest

from monitors.store.records import ChangeEvent
from monitors.store.settings import store_from_settings
from tests.azurite import Azurite
from tests.test_function_support import guardrail_env, reset_function_app, user_function


@pytest.fixture
def settings(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    tenants = [{"tenantId": str(uuid.uuid4())}, {"tenantId": str(uuid.uuid4())}]
    env = guardrail_env(azurite, tenants, "http://127.0.0.1:9")
    env["GREENSCREEN_RETENTION_DAYS"] = "30"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    yield env
    reset_function_app()


def change(event_id: str, at: datetime) -> ChangeEvent:
    return ChangeEvent(
        event_id, at, "user", "u-1", "admin@contoso.com", "Patch", "group", "g-1", "intune-audit"
    )


def test_the_retention_timer_purges_old_history_of_every_tenant_and_keeps_the_rest(
    settings: dict[str, str],
) -> None:
    import json

    store = store_from_settings(settings)
    now = datetime.now(UTC)
    tenants = [tenant["tenantId"] for tenant in json.loads(settings["TENANTS"])]
    for tenant in tenants:
        store.record_change_events(
            tenant,
            [change("old", now - timedelta(days=75)), change("new", now - timedelta(days=3))],
        )
    user_function("purge_expired_history")(TimerRequest(past_due=False))
    for tenant in tenants:
        kept = store.changes(tenant, since=now - timedelta(days=400)).items
        assert [item.event.event_id for item in kept] == ["new"]
