"""Shared pieces of the guardrail tests: settings pointed at the simulator and Azurite, the
sample tenant under a fresh id, queue reading, and the real function handlers.

No tests live here; the other `test_function_*` / `test_guardrail_*` modules import it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from monitors.guardrail.composition import Services, build_services
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "contoso-sample.json"
CLIENT_STATE = "guardrail-test-client-state"
ALL_DEVICES_GROUP = "3a76f5df-c71f-5e69-acd4-cca139633a72"  # "Autopilot - All devices" (dynamic)
SALES_USERS_GROUP = "092e0bab-3be1-5b1d-a1bf-7c4b247aca19"  # "Sales - All users" (dynamic users)
M365_APPS = "726fa256-e828-5e6f-8b88-e64c38807a52"  # on the ESP blocking list


def sample_snapshot(tenant_id: str | None = None) -> dict[str, Any]:
    """The Contoso sample under a fresh tenant id: every store key carries the tenant."""
    document = copy.deepcopy(json.loads(SAMPLE.read_text()))
    document["tenantId"] = tenant_id or str(uuid.uuid4())
    return document


def guardrail_env(
    azurite: Azurite, tenants: list[Mapping[str, str]], graph_url: str
) -> dict[str, str]:
    return {
        "GREENSCREEN_STORAGE_CONNECTION": azurite.table_connection,
        "GREENSCREEN_QUEUES": azurite.queue_connection,
        "GREENSCREEN_GRAPH_URL": graph_url,
        "GREENSCREEN_GRAPH_AUTH": "local",
        "GREENSCREEN_CLIENT_STATE": CLIENT_STATE,
        "TENANTS": json.dumps(list(tenants)),
        # Alerts visible at once: tests that exercise the settle time or the hold set their own.
        "GREENSCREEN_ALERT_SETTLE_SECONDS": "0",
        "GREENSCREEN_ATTRIBUTION_HOLD_SECONDS": "0",
    }


def queue_client(azurite: Azurite, name: str) -> QueueClient:
    client = QueueClient.from_connection_string(
        azurite.queue_connection, name, message_decode_policy=TextBase64DecodePolicy()
    )
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    return client


def drain(azurite: Azurite, name: str) -> list[str]:
    """Every message on the queue (deleted as read), oldest first."""
    client = queue_client(azurite, name)
    texts: list[str] = []
    while True:
        batch = list(client.receive_messages(messages_per_page=32, max_messages=32))
        if not batch:
            return texts
        for message in batch:
            texts.append(str(message.content))
            client.delete_message(message)


@pytest.fixture
def empty_queues(azurite: Azurite) -> None:
    drain(azurite, CHANGES_QUEUE)
    drain(azurite, ALERTS_QUEUE)


@pytest.fixture
def simulator() -> Iterator[GraphSimulator]:
    with GraphSimulator(sample_snapshot(), seed=1) as sim:
        yield sim


@pytest.fixture
def services(azurite: Azurite, simulator: GraphSimulator, empty_queues: None) -> Services:
    tenant = simulator.tenant_snapshot()["tenantId"]
    return build_services(guardrail_env(azurite, [{"tenantId": tenant}], simulator.url))


def user_function(name: str) -> Any:
    """The real handler. `app.get_functions()` indexes once per app (azure-functions 1.26), and
    the query-API tests already keep that one index: share it."""
    from tests.test_http_api import user_function as indexed

    return indexed(name)


def tenant_of(simulator: GraphSimulator) -> str:
    return str(simulator.tenant_snapshot()["tenantId"])


def reset_function_app() -> None:
    """Forget the settings and clients the function app built from the environment."""
    import function_app

    function_app._services.cache_clear()
    function_app._webhook.cache_clear()
