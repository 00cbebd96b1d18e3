"""Azure Functions entry point (Python v2 programming model).

Triggers only: each body translates its trigger, calls into `monitors/`, and translates back.
Nothing runs at import beyond declaring the app, so cold starts stay cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import azure.functions as func

from monitors import http_api
from monitors.store.verdict_store import VerdictStore

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_JSON = "application/json"


@functools.cache
def _store() -> VerdictStore:
    """Built on first use, once per instance: settings are read in one place."""
    from monitors.store.settings import store_from_settings

    return store_from_settings(default_connection=None)


def _respond(
    handler: Callable[[Mapping[str, str], VerdictStore], http_api.ApiResponse],
    req: func.HttpRequest,
) -> func.HttpResponse:
    response = handler(dict(req.params), _store())
    return func.HttpResponse(response.json_text(), status_code=response.status, mimetype=_JSON)


@app.function_name("readiness")
@app.route(route="readiness", methods=["GET"])
def readiness(req: func.HttpRequest) -> func.HttpResponse:
    return _respond(http_api.readiness, req)


@app.function_name("history")
@app.route(route="history", methods=["GET"])
def history(req: func.HttpRequest) -> func.HttpResponse:
    return _respond(http_api.history, req)


@app.function_name("changes")
@app.route(route="changes", methods=["GET"])
def changes(req: func.HttpRequest) -> func.HttpResponse:
    return _respond(http_api.changes, req)
