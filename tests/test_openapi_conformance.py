"""Schemathesis drives the query API from docs/openapi.json and checks every answer against it.

The real function handlers answer, over a small WSGI bridge that turns each generated request
into an `azure.functions.HttpRequest` (the same objects the Functions host builds) and the
handler's `HttpResponse` back into HTTP. The store behind them is Azurite, holding a tenant with
a baseline, a breaking change and its transitions, so generated queries also meet real rows.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import azure.functions as func
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from tests.test_http_api import (
    functions_storage,  # noqa: F401 - fixture
    recorded,  # noqa: F401 - fixture
    user_function,
)

OPENAPI = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text())
ROUTES = {f"/api{path}": path.strip("/") for path in OPENAPI["paths"]}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def functions_bridge(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI in, `func.HttpRequest` to the real handler, `func.HttpResponse` out."""
    path = environ.get("PATH_INFO", "")
    if path == "/openapi.json":
        return _reply(start_response, 200, "application/json", json.dumps(OPENAPI).encode())
    name = ROUTES.get(path)
    if name is None:
        return _reply(start_response, 404, "text/plain", b"no such route")
    query = environ.get("QUERY_STRING", "")
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    request = func.HttpRequest(
        method=environ["REQUEST_METHOD"],
        url=f"http://localhost{path}" + (f"?{query}" if query else ""),
        headers=headers,
        params=dict(urllib.parse.parse_qsl(query, keep_blank_values=True)),
        body=body,
    )
    response = user_function(name)(request)
    return _reply(
        start_response,
        response.status_code,
        response.mimetype or "application/octet-stream",
        response.get_body(),
    )


def _reply(start_response: StartResponse, status: int, mimetype: str, body: bytes) -> list[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", mimetype), ("Content-Length", str(len(body)))],
    )
    return [body]


def test_query_api_conforms_to_its_openapi_description(
    functions_storage: None,  # noqa: F811
    recorded: str,  # noqa: F811
) -> None:
    """Every operation: no 5xx, only documented status codes and content types, bodies valid
    against the schemas. (Schemathesis' own pytest plugin does not load under this pytest, so
    each operation's Hypothesis strategy is driven directly.)"""
    api = schemathesis.openapi.from_wsgi("/openapi.json", functions_bridge)
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} == set(OPENAPI["paths"])
    for operation in operations:
        for mode in GenerationMode:  # schema-valid requests, then schema-violating ones

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            def conforms(case: Any) -> None:
                # The function key is checked by the Functions host before the handler runs,
                # and continuation tokens are opaque: only the ones the API issued are valid,
                # which no schema can say, so "schema-valid input is accepted" cannot hold.
                case.call_and_validate(excluded_checks=[ignored_auth, positive_data_acceptance])

            conforms()


def test_the_bridge_reaches_the_real_handlers(functions_storage: None, recorded: str) -> None:  # noqa: F811
    """The conformance run above is only worth something if real rows come back through it."""
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(
        functions_bridge(
            {
                "PATH_INFO": "/api/history",
                "QUERY_STRING": urllib.parse.urlencode({"tenant": recorded}),
                "REQUEST_METHOD": "GET",
            },
            start,
        )
    )
    assert seen["status"] == "200 OK"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert json.loads(body)["items"], "the recorded transitions come back through the bridge"
