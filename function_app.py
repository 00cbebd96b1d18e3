"""Azure Functions entry point (Python v2 programming model).

Triggers only: each body translates its trigger, calls into `monitors/`, and translates back,
inside one `greenscreen.function` span. Nothing runs at import beyond declaring the app and
configuring telemetry (the edge: `monitors.telemetry.setup`, docs/telemetry.md), so cold starts
stay cheap.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import azure.functions as func
from azure.core.exceptions import AzureError
from opentelemetry.trace import Span

from monitors import http_api
from monitors.guardrail import composition as guardrail
from monitors.guardrail import webhook as notifications
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from monitors.guardrail.settings import SettingsError
from monitors.guardrail.webhook import NotificationCounts
from monitors.store.keys import TENANT_PATTERN
from monitors.store.settings import StoreSettingsError
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import names as telemetry
from monitors.telemetry.instruments import instruments, span
from monitors.telemetry.setup import configure_telemetry

if TYPE_CHECKING:  # the dashboard's modules load on its first request, not at cold start
    from monitors.dashboard.views import Dashboard

log = logging.getLogger(__name__)
# Malformed or missing app settings: the HTTP functions answer 503 naming the setting.
_SETTINGS_ERRORS = (SettingsError, StoreSettingsError)

configure_telemetry()  # once per worker process; nothing is exported unless settings ask for it

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_JSON = "application/json"


@contextmanager
def _invocation(name: str, trigger: str) -> Iterator[Span]:
    with span(
        telemetry.SPAN_FUNCTION, {telemetry.FAAS_NAME: name, telemetry.FAAS_TRIGGER: trigger}
    ) as current:
        yield current


def _record_queue_lag(msg: func.QueueMessage, queue: str, current: Span) -> None:
    """From the message's insertion into the queue to now: how far processing runs behind."""
    current.set_attribute(telemetry.QUEUE_NAME, queue)
    current.set_attribute(telemetry.DEQUEUE_COUNT, msg.dequeue_count or 1)
    inserted = msg.insertion_time
    if inserted is None:
        return
    if inserted.tzinfo is None:
        inserted = inserted.replace(tzinfo=UTC)
    lag = max((datetime.now(UTC) - inserted).total_seconds(), 0.0)
    instruments().queue_lag.record(lag, {telemetry.QUEUE_NAME: queue})


def _record_notifications(counts: NotificationCounts) -> None:
    outcomes = {
        "accepted": counts.accepted,
        "wrong_client_state": counts.wrong_client_state,
        "unknown_tenant": counts.unknown_tenant,
        "unusable": counts.unusable,
    }
    counter = instruments().notifications
    for outcome, count in outcomes.items():
        if count:
            counter.add(count, {telemetry.NOTIFICATION_OUTCOME: outcome})


@functools.cache
def _store() -> VerdictStore:
    """Built on first use, once per instance: settings are read in one place."""
    from monitors.store.settings import store_from_settings

    return store_from_settings(default_connection=None)


def _respond(
    name: str,
    handler: Callable[[Mapping[str, str], VerdictStore], http_api.ApiResponse],
    req: func.HttpRequest,
) -> func.HttpResponse:
    with _invocation(name, telemetry.TRIGGER_HTTP) as current:
        params = dict(req.params)
        tenant = params.get("tenant", "").strip()
        if TENANT_PATTERN.fullmatch(tenant):  # only a well-formed id, never arbitrary input
            current.set_attribute(telemetry.TENANT_ID, tenant)
        # A store that cannot be built (settings, storage down at a cold start) answers 503.
        response = http_api.respond(handler, params, _store)
        current.set_attribute(telemetry.HTTP_STATUS, response.status)
    return func.HttpResponse(response.json_text(), status_code=response.status, mimetype=_JSON)


def _not_configured(error: Exception) -> http_api.ApiResponse:
    """A malformed or missing app setting: 503 naming the setting (never its value)."""
    log.error("not configured: %s", error)
    return http_api.ApiResponse(503, {"error": f"not configured: {error}"})


@app.function_name("readiness")
@app.route(route="readiness", methods=["GET"])
def readiness(req: func.HttpRequest) -> func.HttpResponse:
    return _respond("readiness", http_api.readiness, req)


@app.function_name("history")
@app.route(route="history", methods=["GET"])
def history(req: func.HttpRequest) -> func.HttpResponse:
    return _respond("history", http_api.history, req)


@app.function_name("changes")
@app.route(route="changes", methods=["GET"])
def changes(req: func.HttpRequest) -> func.HttpResponse:
    return _respond("changes", http_api.changes, req)


# -- readiness dashboard (docs/dashboard.md) ---------------------------------------------------
# Anonymous for the Functions host: App Service Authentication (Easy Auth, infra/) signs the user
# in before the request reaches the app, and the page authorizes each tenant by the app roles in
# Easy Auth's principal header, which it trusts only when Easy Auth is on (WEBSITE_AUTH_ENABLED).
_DASHBOARD_BASE = "/api/dashboard"


@functools.cache
def _dashboard() -> Dashboard:
    from monitors.dashboard import dashboard_from_settings

    return dashboard_from_settings()


def _dashboard_page(req: func.HttpRequest) -> func.HttpResponse:
    from monitors.dashboard import access, pages

    with _invocation("dashboard", telemetry.TRIGGER_HTTP) as current:
        try:
            principal: access.Principal | access.AccessDenied = access.principal_from_headers(
                dict(req.headers)
            )
        except access.AccessDenied as denied:
            principal = denied
        tenant = req.params.get("tenant", "").strip()
        if TENANT_PATTERN.fullmatch(tenant):
            current.set_attribute(telemetry.TENANT_ID, tenant)
        try:
            board = _dashboard()
        except _SETTINGS_ERRORS as error:
            log.error("not configured: %s", error)
            page = pages.error_page(503, f"not configured: {error}", base=_DASHBOARD_BASE)
        else:
            view = req.route_params.get("view") or ""
            page = pages.respond(board, principal, view, dict(req.params), base=_DASHBOARD_BASE)
        current.set_attribute(telemetry.HTTP_STATUS, page.status)
    return func.HttpResponse(
        page.body,
        status_code=page.status,
        headers=dict(page.headers),
        mimetype="text/html",
        charset="utf-8",
    )


@app.function_name("dashboard")
@app.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    return _dashboard_page(req)


@app.function_name("dashboard_view")
@app.route(route="dashboard/{*view}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard_view(req: func.HttpRequest) -> func.HttpResponse:
    return _dashboard_page(req)


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
    started = time.perf_counter()
    with _invocation("receive_graph_notification", telemetry.TRIGGER_HTTP) as current:
        params = dict(req.params)
        if "validationToken" in params:
            # The handshake touches no settings and no storage: it must answer within 10 s, cold.
            kind = "validation"
            reply = notifications.answer_validation(params["validationToken"])
        else:
            kind = "notification"
            try:
                webhook = _webhook()
            except _SETTINGS_ERRORS as error:
                # Graph retries a 5xx: nothing is lost while the settings are being fixed.
                log.error("not configured: %s", error)
                reply = notifications.WebhookReply(503, "not configured")
            else:
                reply, counts = guardrail.receive_notification(webhook, params, req.get_body())
                _record_notifications(counts)
        current.set_attributes({telemetry.WEBHOOK_KIND: kind, telemetry.HTTP_STATUS: reply.status})
        instruments().webhook_duration.record(
            time.perf_counter() - started,
            {telemetry.WEBHOOK_KIND: kind, telemetry.HTTP_STATUS: reply.status},
        )
    return func.HttpResponse(
        reply.body,
        status_code=reply.status,
        mimetype=reply.content_type,
        headers={"X-Content-Type-Options": "nosniff"},
    )


@app.function_name("evaluate_now")
@app.route(route="evaluate", methods=["POST"])
def evaluate_now(req: func.HttpRequest) -> func.HttpResponse:
    with _invocation("evaluate_now", telemetry.TRIGGER_HTTP) as current:
        try:
            services = _services()
        except _SETTINGS_ERRORS as error:
            answer = _not_configured(error)
            status, document = answer.status, answer.body
        except (AzureError, ValueError) as error:
            # Storage unreachable at a cold start, or a malformed connection string: 503, the
            # caller retries; the message names neither an account nor a connection string.
            log.error("evaluate: services unavailable: %s", type(error).__name__)
            status, document = 503, {"error": "storage is unavailable or not configured; retry"}
        else:
            status, document = guardrail.request_evaluation(
                services, dict(req.params), req.get_body()
            )
        current.set_attribute(telemetry.HTTP_STATUS, status)
        if status == 202:
            current.set_attribute(telemetry.TENANT_ID, str(document["tenantId"]))
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype=_JSON)


@app.function_name("process_change")
@app.queue_trigger(arg_name="msg", queue_name="changes", connection=_QUEUES_CONNECTION)
def process_change(msg: func.QueueMessage) -> None:
    with _invocation("process_change", telemetry.TRIGGER_QUEUE) as current:
        _record_queue_lag(msg, CHANGES_QUEUE, current)
        guardrail.process_change_text(_services(), msg.get_body(), msg.dequeue_count or 1)


@app.function_name("reread_poisoned_change")
@app.queue_trigger(arg_name="msg", queue_name="changes-poison", connection=_QUEUES_CONNECTION)
def reread_poisoned_change(msg: func.QueueMessage) -> None:
    # A change that failed every attempt is never left as a silent PASS: read the tenant again.
    with _invocation("reread_poisoned_change", telemetry.TRIGGER_QUEUE) as current:
        _record_queue_lag(msg, f"{CHANGES_QUEUE}-poison", current)
        guardrail.handle_poisoned_change(_services(), msg.get_body())


@app.function_name("send_alert")
@app.queue_trigger(arg_name="msg", queue_name="alerts", connection=_QUEUES_CONNECTION)
def send_alert(msg: func.QueueMessage) -> None:
    with _invocation("send_alert", telemetry.TRIGGER_QUEUE) as current:
        _record_queue_lag(msg, ALERTS_QUEUE, current)
        guardrail.dispatch_alert_text(msg.get_body())


@app.function_name("poll_intune_audit")
@app.timer_trigger(arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False)
def poll_intune_audit(timer: func.TimerRequest) -> None:
    with _invocation("poll_intune_audit", telemetry.TRIGGER_TIMER):
        guardrail.poll_intune_audit_all(_services())


@app.function_name("poll_directory_changes")
@app.timer_trigger(arg_name="timer", schedule="%DIRECTORY_POLL_SCHEDULE%", run_on_startup=False)
def poll_directory_changes(timer: func.TimerRequest) -> None:
    with _invocation("poll_directory_changes", telemetry.TRIGGER_TIMER):
        guardrail.poll_directory_all(_services())


@app.function_name("poll_autopilot_deployments")
@app.timer_trigger(arg_name="timer", schedule="%DEPLOYMENT_POLL_SCHEDULE%", run_on_startup=False)
def poll_autopilot_deployments(timer: func.TimerRequest) -> None:
    with _invocation("poll_autopilot_deployments", telemetry.TRIGGER_TIMER):
        guardrail.poll_deployments_all(_services())


@app.function_name("reconcile_tenants")
@app.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False)
def reconcile_tenants(timer: func.TimerRequest) -> None:
    with _invocation("reconcile_tenants", telemetry.TRIGGER_TIMER):
        guardrail.reconcile_all(_services())


@app.function_name("purge_expired_history")
@app.timer_trigger(arg_name="timer", schedule="%RETENTION_SCHEDULE%", run_on_startup=False)
def purge_expired_history(timer: func.TimerRequest) -> None:
    with _invocation("purge_expired_history", telemetry.TRIGGER_TIMER):
        guardrail.purge_history_all(_services())


@app.function_name("maintain_subscriptions")
@app.timer_trigger(arg_name="timer", schedule="%SUBSCRIPTION_SCHEDULE%", run_on_startup=False)
def maintain_subscriptions(timer: func.TimerRequest) -> None:
    with _invocation("maintain_subscriptions", telemetry.TRIGGER_TIMER):
        guardrail.maintain_subscriptions_all(_services())
