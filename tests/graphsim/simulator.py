"""`GraphSimulator`: a Microsoft Graph look-alike on loopback, serving one tenant snapshot.

Thread safety: the tenant is an immutable `TenantView` swapped under `_lock` when changes are
applied; audit logs, the delta journal, subscriptions, faults and the request log each guard
their own state. Request threads never hold a lock while they wait (faults, handshakes).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from monitors.tenant_changes import AppliedChange, ChangeResult
from monitors.tenant_changes import apply_changes as apply_change_document
from rules.tenant_collections import DEVICES, GROUPS
from tests.graphsim import admin_api
from tests.graphsim.audit_trail import (
    AuditIds,
    directory_audit,
    intune_audit_event,
    is_intune_collection,
)
from tests.graphsim.batch import BatchAnswerer
from tests.graphsim.clock import SimulatorClock, graph_timestamp
from tests.graphsim.delta import DeltaTracker
from tests.graphsim.deployments import DeploymentLog, StatusDetail
from tests.graphsim.dispatch import Dispatcher
from tests.graphsim.exchange import GraphRequest, GraphResponse
from tests.graphsim.faults import Fault, FaultTable
from tests.graphsim.http_server import SimulatorHTTPServer
from tests.graphsim.notifications import PUBLISH_TIMEOUT_S, DeliveryResult, NotificationSender
from tests.graphsim.paging import page_size as capped_page_size
from tests.graphsim.request_log import LoggedRequest, RequestLog
from tests.graphsim.subscriptions import (
    DIRECTORY_LIFECYCLE_EVENTS,
    SubscriptionService,
    change_notification,
    lifecycle_notification,
)
from tests.graphsim.tenant_view import (
    DIRECTORY_AUDITS,
    INTUNE_AUDIT_EVENTS,
    TenantView,
    normalize_snapshot,
)

VALIDATION_TIMEOUT_S = 10.0  # Graph waits 10 s for a notification endpoint to echo the token


class GraphSimulator:
    def __init__(
        self,
        snapshot: Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        audit_events: Iterable[Mapping[str, Any]] = (),
        directory_audits: Iterable[Mapping[str, Any]] = (),
        validation_timeout_s: float = VALIDATION_TIMEOUT_S,
        notification_timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        normalized = normalize_snapshot(snapshot)
        collections = normalized["collections"]
        # Audit logs may come inside the snapshot (under their Graph paths) or as arguments.
        self._audit_logs: dict[str, list[dict[str, Any]]] = {
            INTUNE_AUDIT_EVENTS: [
                *collections.pop(INTUNE_AUDIT_EVENTS, []),
                *(copy.deepcopy(dict(e)) for e in audit_events),
            ],
            DIRECTORY_AUDITS: [
                *collections.pop(DIRECTORY_AUDITS, []),
                *(copy.deepcopy(dict(e)) for e in directory_audits),
            ],
        }
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._tenant = TenantView(normalized)
        self._clock = SimulatorClock()
        self._audit_ids = AuditIds(seed)
        self._instance = uuid.UUID(int=seed, version=4).hex[:12]
        self._faults = FaultTable()
        self._deployments = DeploymentLog()
        self._log = RequestLog()
        self._delta = DeltaTracker(self._clock.now)
        self._subscriptions = SubscriptionService(self._clock.now, validation_timeout_s)
        self._sender = NotificationSender(notification_timeout_s)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher = Dispatcher(
            tenant=self._current_tenant,
            audit_log=self._audit_log,
            delta=self._delta,
            subscriptions=self._subscriptions,
            faults=self._faults,
            request_log=self._log,
            clock=self._clock,
            base_url=lambda: self.url,
            instance=self._instance,
            answer_batch=BatchAnswerer(seed),
            deployments=self._deployments,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> GraphSimulator:
        if self._server is not None:
            return self
        self._server = SimulatorHTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="graphsim-server",
            daemon=True,
        )
        self._thread.start()
        self._sender.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._sender.stop()

    def __enter__(self) -> GraphSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The simulator's root, without a trailing slash: `http://127.0.0.1:54321`."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else str(host)  # noqa: S104 - a display rule
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: shows whether clients reuse keep-alive connections."""
        return self._server.connections_accepted if self._server is not None else 0

    # --- requests, log, faults ----------------------------------------------------------------

    def answer_graph(self, request: GraphRequest) -> GraphResponse | None:
        return self._dispatcher.handle(request)

    def answer_admin(
        self, method: str, route: str, query: str, body: bytes
    ) -> admin_api.AdminAnswer:
        return admin_api.answer_admin(self, method, route, query, body)

    @property
    def request_log(self) -> list[LoggedRequest]:
        return self._log.entries()

    def clear_log(self) -> None:
        self._log.clear()

    def add_fault(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def active_faults(self) -> list[Fault]:
        return self._faults.active()

    def page_size(self, path: str, top: int | None) -> int:
        """How many objects one page of `path` holds for a request with this `$top`."""
        return capped_page_size(path, top)

    # --- time ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock.now()

    def advance_clock(self, by: timedelta | float) -> None:
        """Move the simulator's clock (delta token age, subscription expiry, audit times)."""
        self._clock.advance(by if isinstance(by, timedelta) else timedelta(seconds=by))

    def expire_delta_tokens(self) -> None:
        self._delta.expire_tokens()

    # --- the tenant ---------------------------------------------------------------------------

    def _current_tenant(self) -> TenantView:
        with self._lock:
            return self._tenant

    def _audit_log(self, collection: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._audit_logs[collection])

    def add_autopilot_event(
        self, event: Mapping[str, Any], details: Iterable[StatusDetail] = ()
    ) -> str:
        """Record a finished Autopilot deployment (`deviceManagement/autopilotEvents`)."""
        return self._deployments.add(event, details)

    def autopilot_events(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._deployments.events())

    def autopilot_event_details(self, event_id: str) -> list[dict[str, Any]]:
        return self._deployments.details(event_id)

    def audit_events(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._audit_log(INTUNE_AUDIT_EVENTS))

    def directory_audits(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._audit_log(DIRECTORY_AUDITS))

    def tenant_snapshot(self) -> dict[str, Any]:
        """The current tenant as a snapshot (a deep copy; `capturedAt` is the simulator's now)."""
        with self._lock:
            snapshot = copy.deepcopy(self._tenant.snapshot)
        snapshot["capturedAt"] = graph_timestamp(self._clock.now())
        return snapshot

    def apply_changes(self, changes: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Apply a change document (see docs/changes.md); return the audit records it appended.

        Raises `monitors.tenant_changes.ChangeError` (and changes nothing) if the document is
        invalid. Change notifications go out on a background thread (`wait_for_deliveries`).
        """
        with self._lock:
            before = self._tenant
            result = apply_change_document(before.snapshot, changes)
            after = TenantView(result.snapshot)
            self._tenant = after
            now = self._clock.now()
            records = [
                self._audit(change, result, now + timedelta(microseconds=n))
                for n, change in enumerate(result.applied)
            ]
            for change in result.applied:
                self._journal(change, before, after)
            outgoing = self._change_notifications(result.applied, after)
        for url, subscription_ids, payload in outgoing:
            self._sender.send(url, "change", subscription_ids, payload)
        return copy.deepcopy(records)

    def _audit(self, change: AppliedChange, result: ChangeResult, at: datetime) -> dict[str, Any]:
        if is_intune_collection(change.collection):
            record = intune_audit_event(change, result.actor, at, self._audit_ids)
            self._audit_logs[INTUNE_AUDIT_EVENTS].append(record)
        else:
            record = directory_audit(change, result.actor, at, self._audit_ids)
            self._audit_logs[DIRECTORY_AUDITS].append(record)
        return record

    def _journal(self, change: AppliedChange, before: TenantView, after: TenantView) -> None:
        if change.collection not in (GROUPS, DEVICES):
            return
        if change.op == "remove":
            # Deleted groups are soft-deleted (restorable): delta reports reason "changed".
            reason = "changed" if change.collection == GROUPS else "deleted"
            self._delta.record(
                change.collection, change.object_id, properties_changed=True, removed_reason=reason
            )
            return
        membership_only = change.op in {"addGroupMember", "removeGroupMember"} or (
            change.op == "set" and change.modified_properties[0].name.split(".")[0] == "members"
        )
        added, removed = _member_moves(change, before, after)
        self._delta.record(
            change.collection,
            change.object_id,
            properties_changed=not membership_only,
            members_added=added,
            members_removed=removed,
        )

    def _change_notifications(
        self, applied: Iterable[AppliedChange], tenant: TenantView
    ) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
        by_url: dict[str, list[dict[str, Any]]] = {}
        notified: set[tuple[str, str]] = set()
        subscriptions = self._subscriptions.active()
        for change in applied:
            if change.collection != GROUPS:
                continue
            membership = change.op in {"addGroupMember", "removeGroupMember", "setGroupRule"} or (
                change.op == "set" and change.modified_properties[0].name.startswith("members")
            )
            for subscription in subscriptions:
                key = (subscription.id, change.object_id)
                if key in notified or not subscription.covers_group_change(
                    change.object_id, membership=membership
                ):
                    continue
                notified.add(key)
                by_url.setdefault(subscription.notification_url, []).append(
                    change_notification(subscription, change.object_id, tenant.tenant_id)
                )
        # One POST per receiver URL may carry several notifications, as Graph's may.
        return [
            (url, tuple(n["subscriptionId"] for n in items), {"value": items})
            for url, items in by_url.items()
        ]

    # --- subscriptions ------------------------------------------------------------------------

    def subscriptions(self) -> list[dict[str, Any]]:
        return [s.as_graph() for s in self._subscriptions.active()]

    def send_lifecycle_event(
        self, subscription_id: str, event: str = "reauthorizationRequired"
    ) -> None:
        """POST a lifecycle notification to the subscription's `lifecycleNotificationUrl`."""
        subscription = self._subscriptions.find_active(subscription_id)
        if subscription is None:
            raise KeyError(f"no active subscription {subscription_id!r}")
        if event not in DIRECTORY_LIFECYCLE_EVENTS:
            raise ValueError(
                f"{event!r} is not sent for group and user subscriptions "
                f"(only {', '.join(sorted(DIRECTORY_LIFECYCLE_EVENTS))})"
            )
        if subscription.lifecycle_notification_url is None:
            raise ValueError(f"subscription {subscription_id!r} has no lifecycleNotificationUrl")
        payload = lifecycle_notification(subscription, event, self._current_tenant().tenant_id)
        self._sender.send(
            subscription.lifecycle_notification_url, "lifecycle", (subscription.id,), payload
        )

    def wait_for_deliveries(self, timeout: float = 5.0) -> list[DeliveryResult]:
        """Wait for queued notifications; return those delivered since the previous call."""
        return self._sender.wait(timeout)


def _member_moves(
    change: AppliedChange, before: TenantView, after: TenantView
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if change.collection != GROUPS:
        return [], []
    old_group = before.find(GROUPS, change.object_id) or {}
    new_group = after.find(GROUPS, change.object_id) or {}
    old = {str(m.get("id")): m for m in old_group.get("members") or [] if isinstance(m, dict)}
    new = {str(m.get("id")): m for m in new_group.get("members") or [] if isinstance(m, dict)}
    added = [dict(m) for i, m in new.items() if i not in old]
    removed = [dict(m) for i, m in old.items() if i not in new]
    return added, removed
