"""Where `alerts` messages go: Teams (and generic JSON) webhooks, through `monitors/alerts`.

The `send_alert` trigger calls `deliver_alert` once per message. Delivery is idempotent per
(destination, alert key) through the delivery ledger, so a redelivered message posts nothing
twice. An alert that cannot be delivered within its retry budget raises: the Functions host
retries the message and finally moves it to `alerts-poison`, and the ledger keeps it as
`undelivered` for `greenscreen alerts replay`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitors.queues import AlertMessage, MessageError
from monitors.store.keys import parse_time
from monitors.store.records import ChangeEvent, StoredStatus, Transition, VerdictRecord

log = logging.getLogger(__name__)


def deliver_alert(message: AlertMessage, environ: Mapping[str, str] | None = None) -> None:
    from monitors.alerts.alert import Alert, InvolvedObject
    from monitors.alerts.delivery import deliver_alerts
    from monitors.alerts.settle import settled_from_settings
    from monitors.alerts.wiring import alert_delivery_from_settings

    settled = settled_from_settings(transition_from_message(message), environ)
    if settled is None:  # a flap, told by a later transition (monitors/alerts/settle.py)
        return
    transition = settled
    alert = Alert.for_transition(transition, causes=_causes_of(transition, environ))
    if alert is not None and (message.devices_at_risk is not None or message.related):
        alert = replace(
            alert,
            devices_at_risk=message.devices_at_risk,
            involved=tuple(
                InvolvedObject(
                    str(subject.get("type") or ""),
                    str(subject.get("id") or ""),
                    str(subject.get("displayName") or ""),
                )
                for subject in message.related
            ),
        )
    if alert is None:
        log.info("no alert for %s -> %s", transition.from_status, transition.to_status.value)
        return
    delivery = alert_delivery_from_settings(environ)
    try:
        if delivery.context is None:  # built with links: never None here
            raise RuntimeError("alert delivery was built without card links")
        report = deliver_alerts(
            [alert],
            delivery.routing,
            delivery.context,
            delivery.ledger,
            delivery.poster,
            now=datetime.now(UTC),
        )
    finally:
        delivery.close()
    log.info(
        "alert %s for %s: %d delivery result(s)",
        alert.kind.value,
        transition.record.rule_id,
        len(report.results),
        extra={"tenant_id": message.tenant_id, "rule_id": transition.record.rule_id},
    )
    report.raise_if_undelivered()


# Audit events reach the store before the evaluation they caused; look a little around it.
CAUSE_LOOKBACK = timedelta(days=1)
CAUSE_LOOKAHEAD = timedelta(minutes=10)


def _causes_of(transition: Transition, environ: Mapping[str, str] | None) -> list[ChangeEvent]:
    """The change events (actor, activity) the transition is attributed to, from the store."""
    if not transition.cause_event_ids:
        return []
    from azure.core.exceptions import AzureError

    from monitors.store.settings import store_from_settings

    wanted = set(transition.cause_event_ids)
    try:
        store = store_from_settings(environ, create_tables=False)
        page = store.changes(
            transition.tenant_id,
            since=transition.at - CAUSE_LOOKBACK,
            until=transition.at + CAUSE_LOOKAHEAD,
            page_size=1000,
        )
    except (AzureError, ValueError) as error:
        # The alert matters more than its attribution: send it with "cause unknown".
        log.warning("could not read the change events of an alert: %s", type(error).__name__)
        return []
    return [item.event for item in page.items if item.event.event_id in wanted]


def transition_from_message(message: AlertMessage) -> Transition:
    """Rebuild the transition an `alerts` message carries (`Transition.as_json()` shape)."""
    document = message.transition
    try:
        at = parse_time(_text(document, "at"))
        subject = document["subject"]
        scope = document.get("scope") or {}
        if not isinstance(subject, Mapping) or not isinstance(scope, Mapping):
            raise MessageError("transition subject and scope must be objects")
        origin = document.get("from")
        to_status = StoredStatus(_text(document, "to"))
        record = VerdictRecord(
            rule_id=_text(document, "ruleId"),
            rule_version=int(document.get("ruleVersion") or 1),
            scope_id=str(scope.get("profileId") or ""),
            scope_name=str(scope.get("displayName") or ""),
            subject_type=str(subject.get("type") or ""),
            subject_id=str(subject.get("id") or ""),
            subject_name=str(subject.get("displayName") or ""),
            status=to_status,
            severity=_text(document, "severity"),
            message=str(document.get("message") or ""),
            reasons=tuple(str(reason) for reason in document.get("reasons") or ()),
            first_seen=at,
            last_changed=at,
        )
        return Transition(
            tenant_id=message.tenant_id,
            at=at,
            run_id=_text(document, "runId"),
            # The write sequence: a second break of one subject is a second alert.
            seq=int(document.get("seq") or 0),
            from_status=StoredStatus(origin) if origin else None,
            to_status=to_status,
            record=record,
            cause_event_ids=tuple(str(cause) for cause in document.get("causeEventIds") or ()),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MessageError(f"alert message has no usable transition: {error}") from None


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise MessageError(f"transition.{key} must be a non-empty string")
    return value
