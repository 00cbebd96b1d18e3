"""The event-driven guardrail's composition root and the one call behind each trigger.

`function_app.py` translates a trigger into plain values and calls one function here; this
module reads the settings once (`build_services`), builds the real clients (verdict store,
tenant mirror, queue sender, Graph per tenant) and runs the per-tenant work with isolation:
one tenant's failure is logged and counted, and never stops the others (docs/architecture.md,
invariant 6).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from monitors.graph.client import GraphClient, RetryPolicy
from monitors.graph.credentials import CachedCredential, build_credential
from monitors.guardrail.change_processing import CONFIRM_DELAY_S, AlertTiming
from monitors.guardrail.mirror import TenantMirror
from monitors.guardrail.queues import (
    CHANGES_QUEUE,
    AlertBatch,
    ChangeMessage,
    MessageError,
    QueueSender,
    StorageQueueSender,
    send_later,
)
from monitors.guardrail.settings import (
    GuardrailSettings,
    SettingsError,
    TenantConfig,
    read_settings,
)
from monitors.guardrail.slots import TenantBusyError, TenantSlots
from monitors.guardrail.snapshot_models import SnapshotModels, model_cache_tenants
from monitors.guardrail.webhook import NotificationCounts, WebhookReply, answer_notification
from monitors.store.keys import TENANT_PATTERN, format_time
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import names as telemetry_names
from monitors.telemetry.instruments import annotate_current_span, carry_context
from rules.context import OperatorSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
TENANT_WORKERS: Final = 8
MAX_EVALUATE_BODY: Final = 4_096
# Bounds on waiting for Graph per request (monitors.graph.client.RetryPolicy); defaults there.
GRAPH_TIMEOUT_SETTING: Final = "GREENSCREEN_GRAPH_TIMEOUT_SECONDS"
GRAPH_MAX_RETRIES_SETTING: Final = "GREENSCREEN_GRAPH_MAX_RETRIES"
GRAPH_RETRY_DELAY_SETTING: Final = "GREENSCREEN_GRAPH_RETRY_DELAY_SECONDS"
# Alert timing (docs/guardrail.md, Attribution): every alert waits `settle` so a flap within it
# is seen at send time; an alert of a change with no audit record yet waits up to `hold` for it.
ALERT_SETTLE_SETTING: Final = "GREENSCREEN_ALERT_SETTLE_SECONDS"
ATTRIBUTION_HOLD_SETTING: Final = "GREENSCREEN_ATTRIBUTION_HOLD_SECONDS"
DEFAULT_ALERT_SETTLE_S: Final = 120.0
DEFAULT_ATTRIBUTION_HOLD_S: Final = 600.0
BUSY_REQUEUE_S: Final = 30.0  # a message of a busy tenant comes back after this long


@dataclass
class Services:
    settings: GuardrailSettings
    store: VerdictStore
    mirror: TenantMirror
    sender: QueueSender | None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    graph_retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The per-tenant concurrency limit of `process_change` (None: unlimited, single process).
    slots: TenantSlots | None = None
    # When alerts become visible (settle, hold for the audit record); `build_services` reads
    # the settings, a bare `Services` queues them at once.
    alert_timing: AlertTiming = field(default_factory=AlertTiming)
    # Pause before the second look at an object Graph answered 404 for.
    confirm_delay_s: float = CONFIRM_DELAY_S
    # The parsed snapshot model of the tenants this instance evaluated, beside the mirror's
    # cached copy: a change parses only what it brought in (`GREENSCREEN_MODEL_CACHE_TENANTS`).
    models: SnapshotModels = field(default_factory=SnapshotModels)

    @asynccontextmanager
    async def connect(self, tenant_id: str) -> AsyncIterator[GraphClient]:
        """A Graph client for one configured tenant; refuses tenants not in `TENANTS`."""
        tenant = self.settings.tenant(tenant_id)
        if tenant is None:
            raise SettingsError("tenant is not configured in TENANTS")
        client_id = tenant.client_id or self.settings.client_id
        credential = CachedCredential(
            build_credential(
                self.settings.auth_mode,
                tenant_id=tenant.tenant_id,
                client_id=client_id,
                app_id=tenant.app_id,
                authority=self.settings.authority,
            ),
            identity=(
                self.settings.auth_mode.value,
                tenant.tenant_id,
                client_id or "",
                tenant.app_id or "",
                self.settings.authority or "",
            ),
        )
        try:
            async with GraphClient(
                credential, base_url=self.settings.graph_url_for(tenant), retry=self.graph_retry
            ) as client:
                yield client
        finally:
            close = getattr(credential, "close", None)
            if callable(close):
                result = close()
                if asyncio.iscoroutine(result):
                    await result

    def require_sender(self) -> QueueSender:
        if self.sender is None:
            raise SettingsError("set GREENSCREEN_QUEUES or GREENSCREEN_QUEUES__queueServiceUri")
        return self.sender


def build_services(environ: Mapping[str, str] | None = None) -> Services:
    from azure.data.tables import TableServiceClient

    from monitors.store.settings import (
        CONNECTION_SETTING,
        TABLE_URL_SETTING,
        store_from_settings,
    )

    settings = read_settings(environ)
    store = store_from_settings(environ, default_connection=None)
    env = environ if environ is not None else os.environ
    connection = env.get(CONNECTION_SETTING)
    if connection:
        table_service = TableServiceClient.from_connection_string(connection)
    else:
        from azure.identity import DefaultAzureCredential

        table_service = TableServiceClient(
            endpoint=env[TABLE_URL_SETTING], credential=DefaultAzureCredential()
        )
    return Services(
        settings,
        store,
        TenantMirror(table_service),
        queue_sender(settings),
        graph_retry=graph_retry_policy(env),
        alert_timing=alert_timing(env),
        slots=TenantSlots(
            table_service,
            limit=settings.tenant_concurrency,
            wait_s=settings.tenant_wait_seconds,
        ),
        models=SnapshotModels(model_cache_tenants(env)),
    )


def alert_timing(env: Mapping[str, str]) -> AlertTiming:
    return AlertTiming(
        settle_s=_seconds(env, ALERT_SETTLE_SETTING, DEFAULT_ALERT_SETTLE_S, 0.0, 3600.0),
        hold_s=_seconds(env, ATTRIBUTION_HOLD_SETTING, DEFAULT_ATTRIBUTION_HOLD_S, 0.0, 3600.0),
    )


def graph_retry_policy(env: Mapping[str, str]) -> RetryPolicy:
    """The Graph client's per-request timeout, retry count and base delay (without
    `Retry-After`), from the optional settings."""
    default = RetryPolicy()
    timeout_s = _seconds(env, GRAPH_TIMEOUT_SETTING, default.timeout_s, 0.1, 120.0)
    delay_s = _seconds(env, GRAPH_RETRY_DELAY_SETTING, default.base_delay_s, 0.0, 10.0)
    retries = env.get(GRAPH_MAX_RETRIES_SETTING) or ""
    if retries and not (retries.isascii() and retries.isdigit() and int(retries) <= 10):
        raise SettingsError(f"{GRAPH_MAX_RETRIES_SETTING} must be a whole number from 0 to 10")
    return RetryPolicy(
        max_retries=int(retries) if retries else default.max_retries,
        base_delay_s=delay_s,
        transport_retries=default.transport_retries,
        inner_batch_retries=default.inner_batch_retries,
        timeout_s=timeout_s,
    )


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name) or ""
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if not low <= value <= high:  # also refuses nan
        raise SettingsError(f"{name} must be a number of seconds from {low:g} to {high:g}")
    return value


def queue_sender(settings: GuardrailSettings, *, fail_fast: bool = False) -> QueueSender | None:
    """The queue client; `fail_fast` for the webhook: Graph waits 3 s and retries a 503 itself,
    while the SDK's default policy (15 s backoff, 3 retries) would hold a request for 80 s."""
    from azure.storage.queue import LinearRetry, QueueServiceClient

    options: dict[str, Any] = (
        {
            "retry_policy": LinearRetry(backoff=0, retry_total=1, random_jitter_range=0),
            "connection_timeout": WEBHOOK_QUEUE_TIMEOUT_S,
            "read_timeout": WEBHOOK_QUEUE_TIMEOUT_S,
        }
        if fail_fast
        else {}
    )
    if settings.queue_connection:
        return StorageQueueSender(
            QueueServiceClient.from_connection_string(settings.queue_connection, **options)
        )
    if settings.queue_url:
        from azure.identity import DefaultAzureCredential

        return StorageQueueSender(
            QueueServiceClient(
                account_url=settings.queue_url, credential=DefaultAzureCredential(), **options
            )
        )
    return None


WEBHOOK_QUEUE_TIMEOUT_S: Final = 1


# -- per-tenant isolation ------------------------------------------------------------------------


def for_each_tenant(
    tenants: tuple[TenantConfig, ...], work: Callable[[TenantConfig], T]
) -> dict[str, T | Exception]:
    """Run `work` for every tenant, a few at a time; a failure is returned, never raised."""

    def isolated(tenant: TenantConfig) -> T | Exception:
        try:
            return work(tenant)
        except Exception as error:  # isolation boundary: one tenant never blocks another
            log.exception("tenant work failed", extra={"tenant_id": tenant.tenant_id})
            return error

    if not tenants:
        return {}
    with ThreadPoolExecutor(max_workers=min(TENANT_WORKERS, len(tenants))) as pool:
        results = list(pool.map(carry_context(isolated), tenants))
    return {tenant.tenant_id: result for tenant, result in zip(tenants, results, strict=True)}


def _with_client(
    services: Services, tenant_id: str, work: Callable[[GraphClient], Awaitable[T]]
) -> T:
    async def run() -> T:
        async with services.connect(tenant_id) as client:
            return await work(client)

    return asyncio.run(run())


# -- one function per trigger --------------------------------------------------------------------


@dataclass(frozen=True)
class Webhook:
    """What the notification webhook needs: settings and the queue, no table storage, so a
    cold instance answers Graph without creating tables first."""

    settings: GuardrailSettings
    sender: QueueSender | None


def build_webhook(environ: Mapping[str, str] | None = None) -> Webhook:
    settings = read_settings(environ)
    return Webhook(settings, queue_sender(settings, fail_fast=True))


def receive_notification(
    webhook: Webhook | Services, params: Mapping[str, str], body: bytes
) -> tuple[WebhookReply, NotificationCounts]:
    settings = webhook.settings
    return answer_notification(
        params,
        body,
        client_state=settings.client_state,
        tenant_ids=settings.tenant_ids(),
        sender=webhook.sender,
    )


def process_change_text(services: Services, text: str | bytes, dequeue_count: int = 1) -> Any:
    """Process one `changes` message. A malformed message or unknown tenant is logged and
    dropped (retrying cannot fix it); anything else raises so the queue redelivers."""
    from monitors.guardrail.change_processing import process_change

    try:
        message = ChangeMessage.from_text(text)
    except MessageError as error:
        log.error("dropped a malformed changes message: %s", error)
        return None
    annotate_current_span(
        {
            telemetry_names.TENANT_ID: message.tenant_id,
            telemetry_names.CHANGE_KIND: message.kind,
            telemetry_names.CHANGE_SOURCE: message.source,
        }
    )
    if services.settings.tenant(message.tenant_id) is None:
        log.error("dropped a changes message for a tenant not in TENANTS")
        return None

    async def run() -> Any:
        outcome = await process_change(
            message,
            connect=services.connect,
            mirror=services.mirror,
            store=services.store,
            sender=services.require_sender(),
            clock=services.clock,
            redelivered=dequeue_count > 1,
            operator_settings=_operator_settings(services, message.tenant_id),
            timing=services.alert_timing,
            confirm_delay_s=services.confirm_delay_s,
            models=services.models,
        )
        annotate_current_span(
            {
                telemetry_names.CHANGE_OUTCOME: outcome.outcome,
                telemetry_names.TRANSITION_COUNT: len(outcome.transitions),
            }
        )
        return outcome

    if services.slots is None:
        return asyncio.run(run())
    try:
        with services.slots.hold(message.tenant_id):
            return asyncio.run(run())
    except TenantBusyError:
        # Busy is not a failure of this message: put it back for later (a new delivery, its
        # attempts untouched) instead of raising towards the poison queue.
        send_later(services.require_sender(), CHANGES_QUEUE, message.to_text(), BUSY_REQUEUE_S)
        log.info(
            "tenant busy: change %s queued again in %.0f s",
            message.id,
            BUSY_REQUEUE_S,
            extra={"tenant_id": message.tenant_id},
        )
        return None


def handle_poisoned_change(services: Services, text: str | bytes) -> ChangeMessage | None:
    """A `changes` message that failed every attempt (`changes-poison`): what it would have
    told is unknown, so the whole tenant is read again (a `full` message). Its id derives from
    the poisoned message, so a repeat of this handler queues the same message (harmless)."""
    try:
        poisoned = ChangeMessage.from_text(text)
    except MessageError as error:
        log.error("dropped a malformed poisoned changes message: %s", error)
        return None
    if services.settings.tenant(poisoned.tenant_id) is None:
        log.error("dropped a poisoned changes message for a tenant not in TENANTS")
        return None
    if poisoned.kind == "reauthorize":
        # Lifecycle work: the next `maintain_subscriptions` repairs the subscription.
        log.warning("a subscription lifecycle message was poisoned; upkeep will repair it")
        return None
    reread = ChangeMessage.create(
        poisoned.tenant_id, "reconcile", "full", discriminator=f"poison:{poisoned.id}"
    )
    services.require_sender().send(CHANGES_QUEUE, reread.to_text())
    log.warning(
        "change %s was poisoned; queued a full read of the tenant (%s)",
        poisoned.id,
        reread.id,
        extra={"tenant_id": poisoned.tenant_id, "change_id": poisoned.id},
    )
    return reread


def _operator_settings(services: Services, tenant_id: str) -> OperatorSettings:
    """The tenant's attestations, while they hold (monitors/attestation.py)."""
    from monitors.attestation import operator_settings_for_tenant

    tenant = services.settings.tenant(tenant_id)
    attestation = tenant.mdm_attestation if tenant is not None else None
    return operator_settings_for_tenant(attestation, services.store, tenant_id, services.clock())


def dispatch_alert_text(text: str | bytes) -> AlertBatch | None:
    from monitors.guardrail.alert_dispatch import deliver_alert

    try:
        message = AlertBatch.from_text(text)
    except MessageError as error:
        log.error("dropped a malformed alerts message: %s", error)
        return None
    annotate_current_span({telemetry_names.TENANT_ID: message.tenant_id})
    deliver_alert(message)
    return message


def poll_intune_audit_all(services: Services) -> dict[str, Any]:
    from monitors.guardrail.audit_polling import poll_intune_audit

    sender = services.require_sender()
    overlap = timedelta(minutes=services.settings.audit_overlap_minutes)

    def work(tenant: TenantConfig) -> Any:
        return _with_client(
            services,
            tenant.tenant_id,
            lambda client: poll_intune_audit(
                client,
                tenant.tenant_id,
                store=services.store,
                sender=sender,
                now=services.clock(),
                overlap=overlap,
                mirror=services.mirror,
            ),
        )

    return for_each_tenant(services.settings.tenants, work)


# How far back each deployment poll re-reads (Intune's latency for autopilotEvents is not
# documented; an attempt is recorded when it ends, and a record may be updated afterwards).
DEPLOYMENT_OVERLAP_SETTING: Final = "GREENSCREEN_DEPLOYMENT_OVERLAP_MINUTES"
DEFAULT_DEPLOYMENT_OVERLAP_MINUTES: Final = 60


def poll_deployments_all(
    services: Services, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Per tenant: read new Autopilot deployment attempts, assess, store, alert failures."""
    from monitors.deployments.alerting import notifier_from_settings
    from monitors.deployments.polling import poll_deployments
    from monitors.store.deployment_store import DeploymentStore

    env = environ if environ is not None else os.environ
    minutes = int(
        _seconds(env, DEPLOYMENT_OVERLAP_SETTING, DEFAULT_DEPLOYMENT_OVERLAP_MINUTES, 1, 1440)
    )
    deployments = DeploymentStore.beside(services.store)
    deployments.ensure_table()
    notifier = notifier_from_settings(env)

    def work(tenant: TenantConfig) -> Any:
        return _with_client(
            services,
            tenant.tenant_id,
            lambda client: poll_deployments(
                client,
                tenant.tenant_id,
                store=services.store,
                deployments=deployments,
                now=services.clock(),
                overlap=timedelta(minutes=minutes),
                notify=notifier,
            ),
        )

    try:
        return for_each_tenant(services.settings.tenants, work)
    finally:
        notifier.close()


def poll_directory_all(services: Services) -> dict[str, Any]:
    from monitors.guardrail.directory_polling import poll_directory_changes

    sender = services.require_sender()
    overlap = timedelta(minutes=services.settings.audit_overlap_minutes)

    def work(tenant: TenantConfig) -> Any:
        return _with_client(
            services,
            tenant.tenant_id,
            lambda client: poll_directory_changes(
                client,
                tenant.tenant_id,
                store=services.store,
                mirror=services.mirror,
                sender=sender,
                now=services.clock(),
                overlap=overlap,
            ),
        )

    return for_each_tenant(services.settings.tenants, work)


def maintain_subscriptions_all(services: Services) -> dict[str, Any]:
    from monitors.guardrail.subscriptions import maintain_subscriptions

    settings = services.settings
    if not settings.notification_url or not settings.client_state:
        raise SettingsError("set GREENSCREEN_NOTIFICATION_URL and GREENSCREEN_CLIENT_STATE")
    notification_url, client_state = settings.notification_url, settings.client_state

    def work(tenant: TenantConfig) -> Any:
        return _with_client(
            services,
            tenant.tenant_id,
            lambda client: maintain_subscriptions(
                client,
                tenant.tenant_id,
                mirror=services.mirror,
                store=services.store,
                notification_url=notification_url,
                client_state=client_state,
                now=services.clock(),
                renew_before=timedelta(hours=settings.renew_before_hours),
            ),
        )

    return for_each_tenant(settings.tenants, work)


def purge_history_all(services: Services) -> dict[str, Any]:
    """Enforce the retention period (`GREENSCREEN_RETENTION_DAYS`, default 400) per tenant."""

    from monitors.store.deployment_store import DEPLOYMENTS_TABLE, DeploymentStore

    deployments = DeploymentStore.beside(services.store)

    def work(tenant: TenantConfig) -> dict[str, int]:
        deleted = services.store.purge_expired(tenant.tenant_id, now=services.clock())
        deleted[DEPLOYMENTS_TABLE] = deployments.purge_expired(tenant.tenant_id, services.clock())
        return deleted

    return for_each_tenant(services.settings.tenants, work)


def reconcile_all(services: Services) -> dict[str, Any]:
    """One `full` message per tenant: the reads themselves fan out over the queue."""
    sender = services.require_sender()
    stamp = format_time(services.clock())

    def work(tenant: TenantConfig) -> str:
        message = ChangeMessage.create(tenant.tenant_id, "reconcile", "full", discriminator=stamp)
        sender.send(CHANGES_QUEUE, message.to_text())
        return message.id

    return for_each_tenant(services.settings.tenants, work)


def request_evaluation(
    services: Services, params: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """`POST /api/evaluate` with `{"tenantId"}` (or `?tenant=`): queue a full evaluation."""
    tenant_id = params.get("tenant")
    if tenant_id is None and body:
        if len(body) > MAX_EVALUATE_BODY:
            return 413, {"error": "body too large"}
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            # RecursionError: a body nested deeper than the parser's stack.
            return 400, {"error": "body must be JSON"}
        tenant_id = document.get("tenantId") if isinstance(document, dict) else None
    if not isinstance(tenant_id, str) or not TENANT_PATTERN.match(tenant_id.strip()):
        return 400, {"error": "tenantId must be a tenant GUID or domain"}
    tenant = services.settings.tenant(tenant_id.strip())
    if tenant is None:
        return 404, {"error": "tenant is not configured"}
    message = ChangeMessage.create(
        tenant.tenant_id, "manual", "full", discriminator=format_time(services.clock())
    )
    try:
        services.require_sender().send(CHANGES_QUEUE, message.to_text())
    except Exception:  # isolation boundary: answer 503, the caller may retry
        log.exception("could not enqueue an evaluation request")
        return 503, {"error": "could not enqueue; retry"}
    return 202, {"id": message.id, "tenantId": tenant.tenant_id}
