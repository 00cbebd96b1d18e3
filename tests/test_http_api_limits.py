"""The HTTP functions under bad deployments and abusive requests, with real HttpRequest objects.

Storage down at a cold start or a malformed connection string: the documented 503, never a 500.
A body nested deeper than the parser's stack: 400. A time range wider than the history limit
(400 days, 15 month partitions): 400 before any partition is read.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from monitors.http_api import MAX_RANGE_DAYS
from tests.azurite import Azurite
from tests.test_http_api import functions_storage, get, recorded, user_function  # noqa: F401

TENANT = "2ac43dfe-b52d-5454-a43a-41903be9693e"


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A fresh instance: the store and services are built on the first request."""
    import function_app

    function_app._store.cache_clear()
    function_app._services.cache_clear()
    yield monkeypatch
    function_app._store.cache_clear()
    function_app._services.cache_clear()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answer(response: func.HttpResponse) -> tuple[int, dict[str, Any]]:
    return response.status_code, json.loads(response.get_body())


@pytest.mark.parametrize("route", ["readiness", "history", "changes"])
def test_a_malformed_connection_string_answers_503_without_echoing_it(
    cold_start: pytest.MonkeyPatch, route: str
) -> None:
    secret = "AccountKey=c2VjcmV0LXNob3VsZC1uZXZlci1sZWFr"
    cold_start.setenv("GREENSCREEN_STORAGE_CONNECTION", f"DefaultEndpointsProtocol;{secret}")
    status, body = _answer(user_function(route)(get(route, {"tenant": TENANT})))
    assert status == 503
    assert secret not in json.dumps(body)
    assert "not configured" in body["error"]


def test_storage_down_at_a_cold_start_answers_503(
    cold_start: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    port = _closed_port()
    connection = azurite.table_connection.replace(f":{azurite.table_port}", f":{port}")
    assert connection != azurite.table_connection
    cold_start.setenv("GREENSCREEN_STORAGE_CONNECTION", connection)
    status, body = _answer(user_function("readiness")(get("readiness", {"tenant": TENANT})))
    assert status == 503
    assert body == {"error": "storage is unavailable; retry later"}


def test_evaluate_answers_400_to_a_body_nested_deeper_than_the_parser(
    cold_start: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    cold_start.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    cold_start.setenv("GREENSCREEN_QUEUES", azurite.queue_connection)
    cold_start.setenv("TENANTS", json.dumps([{"tenantId": TENANT}]))
    for body in ("[" * 1500 + "]" * 1500, '{"a":' * 1500 + "1" + "}" * 1500):
        request = func.HttpRequest(
            method="POST", url="/api/evaluate", params={}, body=body.encode()
        )
        status, answer = _answer(user_function("evaluate_now")(request))
        assert status in (400, 413)
        assert "error" in answer


@pytest.mark.parametrize("route", ["history", "changes"])
@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2000-01-01T00:00:00Z", "2199-12-31T00:00:00Z"),
        ("2000-01-01T00:00:00Z", None),
        ("2025-01-01T00:00:00Z", "2026-02-06T00:00:00Z"),  # 401 days
    ],
)
def test_a_time_range_beyond_the_limit_answers_400(
    functions_storage: None,  # noqa: F811 - fixture
    route: str,
    since: str,
    until: str | None,
) -> None:
    params = {"tenant": TENANT, "since": since}
    if until is not None:
        params["until"] = until
    status, body = _answer(user_function(route)(get(route, params)))
    assert status == 400
    assert f"{MAX_RANGE_DAYS} days" in body["error"]


@pytest.mark.parametrize("route", ["history", "changes"])
def test_a_range_within_the_limit_is_answered(
    functions_storage: None,  # noqa: F811 - fixture
    recorded: str,  # noqa: F811 - fixture
    route: str,
) -> None:
    params = {"tenant": recorded, "since": "2025-01-01T00:00:00Z", "until": "2026-02-05T00:00:00Z"}
    status, _ = _answer(user_function(route)(get(route, params)))
    assert status == 200


@pytest.mark.parametrize("extra", [[], ["--changes"]])
def test_the_history_command_refuses_the_same_ranges_with_exit_2(
    azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> None:
    from tests.test_history_command import run

    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    argv = ["history", "--tenant", TENANT, "--since", "2000-01-01T00:00:00Z", *extra]
    assert run(argv) == 2
    assert f"{MAX_RANGE_DAYS} days" in capsys.readouterr().err
