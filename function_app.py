"""Azure Functions entry point (Python v2 programming model).

Triggers only: each body translates its trigger, calls into `monitors/`, and translates back.
Nothing runs at import beyond declaring the app, so cold starts stay cheap.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping

import azure.functions as func

from monitors import guardrail, http_api, notifications
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


# -- event-driven guardrail (docs/guardrail.md) -------------------------------------------------
# Queue triggers and the sender share one connection setting: `GREENSCREEN_QUEUES` (connection
# string) or `GREENSCREEN_QUEUES__queueServiceUri` (managed identity).
_QUEUES_CONNECTION = "GREENSCREEN_QUEUES"


@functools.cache
def _services() -> guardrail.Services:
    """Settings read and clients built on first use, once per instance."""
    return guardrail.build_services()


@functools.cache
def _webhook() -> guardrail.Webhook:
    return guardrail.build_webhook()


@app.function_name("receive_graph_notification")
@app.route(route="notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def receive_graph_notification(req: func.HttpRequest) -> func.HttpResponse:
    # Anonymous: Graph cannot send a function key. Every item is checked against clientState.
    params = dict(req.params)
    if "validationToken" in params:
        # The handshake touches no settings and no storage: it must answer within 10 s, cold.
        reply = notifications.answer_validation(params["validationToken"])
    else:
        reply, _ = guardrail.receive_notification(_webhook(), params, req.get_body())
    return func.HttpResponse(
        reply.body,
        status_code=reply.status,
        mimetype=reply.content_type,
        headers={"X-Content-Type-Options": "nosniff"},
    )


@app.function_name("evaluate_now")
@app.route(route="evaluate", methods=["POST"])
def evaluate_now(req: func.HttpRequest) -> func.HttpResponse:
    status, document = guardrail.request_evaluation(_services(), dict(req.params), req.get_body())
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype=_JSON)


@app.function_name("process_change")
@app.queue_trigger(arg_name="msg", queue_name="changes", connection=_QUEUES_CONNECTION)
def process_change(msg: func.QueueMessage) -> None:
    guardrail.process_change_text(_services(), msg.get_body(), msg.dequeue_count or 1)


@app.function_name("send_alert")
@app.queue_trigger(arg_name="msg", queue_name="alerts", connection=_QUEUES_CONNECTION)
def send_alert(msg: func.QueueMessage) -> None:
    guardrail.dispatch_alert_text(msg.get_body())


@app.function_name("poll_intune_audit")
@app.timer_trigger(arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False)
def poll_intune_audit(timer: func.TimerRequest) -> None:
    guardrail.poll_intune_audit_all(_services())


@app.function_name("poll_directory_changes")
@app.timer_trigger(arg_name="timer", schedule="%DIRECTORY_POLL_SCHEDULE%", run_on_startup=False)
def poll_directory_changes(timer: func.TimerRequest) -> None:
    guardrail.poll_directory_all(_services())


@app.function_name("reconcile_tenants")
@app.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
def reconcile_tenants(timer: func.TimerRequest) -> None:
    guardrail.reconcile_all(_services())


@app.function_name("purge_expired_history")
@app.timer_trigger(arg_name="timer", schedule="%RETENTION_SCHEDULE%", run_on_startup=False)
def purge_expired_history(timer: func.TimerRequest) -> None:
    guardrail.purge_history_all(_services())


@app.function_name("maintain_subscriptions")
@app.timer_trigger(arg_name="timer", schedule="%SUBSCRIPTION_SCHEDULE%", run_on_startup=False)
def maintain_subscriptions(timer: func.TimerRequest) -> None:
    guardrail.maintain_subscriptions_all(_services())
