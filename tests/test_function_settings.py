"""A malformed or missing app setting: the HTTP functions answer 503 naming the setting, never
a 500, never the setting's value; Graph retries the webhook, so nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator

import azure.functions as func
import pytest

from tests.test_function_support import reset_function_app, user_function

SECRET_LOOKING = "not-json-but-could-be-a-secret"


@pytest.fixture
def misconfigured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import function_app

    for name in ("GREENSCREEN_STORAGE_CONNECTION", "GREENSCREEN_STORAGE_TABLE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TENANTS", SECRET_LOOKING)
    monkeypatch.setenv("GREENSCREEN_CLIENT_STATE", "state")
    reset_function_app()
    function_app._store.cache_clear()
    yield
    reset_function_app()
    function_app._store.cache_clear()


def test_webhook_with_bad_settings_answers_503_so_graph_retries(misconfigured: None) -> None:
    body = json.dumps({"value": [{"clientState": "state", "tenantId": "t"}]}).encode()
    request = func.HttpRequest("POST", "/api/notifications", params={}, body=body)
    response = user_function("receive_graph_notification")(request)
    assert response.status_code == 503
    assert response.get_body() == b"not configured"


def test_the_handshake_needs_no_settings(misconfigured: None) -> None:
    request = func.HttpRequest(
        "POST", "/api/notifications", params={"validationToken": "abc"}, body=b""
    )
    response = user_function("receive_graph_notification")(request)
    assert (response.status_code, response.get_body()) == (200, b"abc")


@pytest.mark.parametrize("name", ["readiness", "history", "changes"])
def test_query_functions_without_storage_settings_answer_503_naming_them(
    misconfigured: None, name: str
) -> None:
    request = func.HttpRequest("GET", f"/api/{name}", params={"tenant": "contoso.com"}, body=b"")
    response = user_function(name)(request)
    assert response.status_code == 503
    error = json.loads(response.get_body())["error"]
    assert error.startswith("not configured: set GREENSCREEN_STORAGE_CONNECTION")


def test_evaluate_now_with_malformed_tenants_answers_503_without_the_value(
    misconfigured: None,
) -> None:
    request = func.HttpRequest(
        "POST", "/api/evaluate", params={}, body=json.dumps({"tenantId": "contoso.com"}).encode()
    )
    response = user_function("evaluate_now")(request)
    assert response.status_code == 503
    error = json.loads(response.get_body())["error"]
    assert error.startswith("not configured: ")
    assert SECRET_LOOKING not in error
