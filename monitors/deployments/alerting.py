"""A failed pre-provisioning attempt, told to the tenant's alert destinations exactly once.

The card is `monitors.alerts.cards.deployment_failure_card`; the routes are the alert routes
(`GREENSCREEN_ALERT_ROUTES`, severity `error`: a real failure is at least that); delivery goes
through the delivery ledger under a key derived from the tenant and the Autopilot event id, so a
poll that re-reads the event (overlap window, a crash before the cursor moved) posts nothing
twice, and an undeliverable card is kept for `greenscreen alerts replay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from monitors.alerts.alert import alert_key
from monitors.alerts.cards import (
    DEPLOYMENT_FAILURE_KIND,
    PayloadFormat,
    deployment_failure_card,
    deployment_failure_sentence,
    teams_message,
)
from monitors.alerts.delivery import DeliveryStatus, WebhookPoster, deliver_body
from monitors.alerts.ledger import AlertLedger
from monitors.alerts.routing import AlertRouting
from rules.findings import Severity

SEVERITY: Final = Severity.ERROR


def deployment_alert_key(tenant_id: str, event_id: str) -> str:
    return alert_key(DEPLOYMENT_FAILURE_KIND, tenant_id.lower(), event_id)


class DeploymentNotifier:
    """Posts one card per failed attempt to every destination that takes `error` alerts."""

    def __init__(
        self,
        routing: AlertRouting,
        ledger: AlertLedger,
        poster: WebhookPoster,
        clock: Any,
        close: Any = None,
    ) -> None:
        self._close = close
        self._routing = routing
        self._ledger = ledger
        self._poster = poster
        self._clock = clock

    def close(self) -> None:
        if callable(self._close):
            self._close()

    def __call__(self, tenant_id: str, documents: Sequence[Mapping[str, Any]]) -> int:
        sent = 0
        now: datetime = self._clock()
        for destination in self._routing.destinations_for(tenant_id):
            if not SEVERITY.at_least(destination.min_severity):
                continue
            for document in documents:
                card = deployment_failure_card(document, tenant_id)
                body: dict[str, Any] = (
                    teams_message(card)
                    if destination.payload_format is PayloadFormat.TEAMS
                    else {
                        "kind": DEPLOYMENT_FAILURE_KIND,
                        "tenantId": tenant_id,
                        "text": deployment_failure_sentence(document),
                        "attempt": dict(document),
                    }
                )
                key = deployment_alert_key(tenant_id, str(document["eventId"]))
                result = deliver_body(
                    tenant_id, key, body, destination, self._ledger, self._poster, now
                )
                sent += result.status is DeliveryStatus.SENT
        return sent


def notifier_from_settings(environ: Mapping[str, str] | None = None) -> DeploymentNotifier:
    from datetime import UTC

    from monitors.alerts.wiring import alert_delivery_from_settings

    delivery = alert_delivery_from_settings(environ, with_links=False)
    return DeploymentNotifier(
        delivery.routing,
        delivery.ledger,
        delivery.poster,
        lambda: datetime.now(UTC),
        delivery.close,
    )
