"""Where `alerts` messages go: Teams (and generic JSON) webhooks, through `monitors/alerts`.

The `send_alert` trigger calls `deliver_alert` once per message: every alert of one evaluation
run, so one root cause makes one card (a digest above the threshold, one blind card per
unreadable collection; see `monitors.alerts.cards`), after the settle check has taken out the
transitions superseded within the settle time (`monitors.alerts.settle`). A batch held for its
cause and its attributed copy carry the same alerts, so they make the same cards under the same
keys: whichever is handled first posts. Delivery is idempotent per
(destination, alert key) through the delivery ledger, so a redelivered message posts nothing
twice. An alert that cannot be delivered within its retry budget raises: the Functions host
retries the message and finally moves it to `alerts-poison`, and the ledger keeps it as
`undelivered` for `greenscreen alerts replay`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitors.guardrail.queues import AlertBatch, AlertMessage, MessageError
from monitors.store.keys import parse_time
from monitors.store.records import ChangeEvent, StoredStatus, Transition, VerdictRecord

if TYPE_CHECKING:
    from monitors.alerts.alert import Alert

log = logging.getLogger(__name__)


def deliver_alert(
    message: AlertMessage | AlertBatch, environ: Mapping[str, str] | None = None
) -> None:
    """Deliver one `alerts` message: a run's batch (or one alert of the earlier contract)."""
    from monitors.alerts.delivery import deliver_alerts
    from monitors.alerts.wiring import alert_delivery_from_settings, digest_above_from_settings

    batch = (
        message
        if isinstance(message, AlertBatch)
        else AlertBatch(message.tenant_id, str(message.transition.get("runId") or ""), (message,))
    )
    alerts = alerts_of(batch, environ)
    if not alerts:
        log.info("no alert in run %s: every transition is a quiet one", batch.run_id)
        return
    delivery = alert_delivery_from_settings(environ)
    try:
        if delivery.context is None:  # built with links: never None here
            raise RuntimeError("alert delivery was built without card links")
        report = deliver_alerts(
            alerts,
            delivery.routing,
            delivery.context,
            delivery.ledger,
            delivery.poster,
            now=datetime.now(UTC),
            digest_above=digest_above_from_settings(environ),
        )
    finally:
        delivery.close()
    log.info(
        "run %s: %d alert(s), %d delivery result(s)",
        batch.run_id,
        len(alerts),
        len(report.results),
        extra={"tenant_id": batch.tenant_id},
    )
    report.raise_if_undelivered()


def alerts_of(batch: AlertBatch, environ: Mapping[str, str] | None = None) -> list[Alert]:
    """The alerts a batch carries (quiet and superseded transitions dropped), with their
    causes attached."""
    from monitors.alerts.alert import Alert, InvolvedObject
    from monitors.alerts.settle import settled_batch_from_settings

    # The settle check first: a transition superseded within the settle time (a flap) leaves
    # the batch, and one whose cause was attached since it was queued gets it.
    judged = settled_batch_from_settings(
        [transition_from_message(message) for message in batch.alerts], environ
    )
    kept = [
        (message, transition)
        for message, transition in zip(batch.alerts, judged, strict=True)
        if transition is not None
    ]
    causes = _causes_of([transition for _, transition in kept], environ)
    alerts: list[Alert] = []
    for message, transition in kept:
        alert = Alert.for_transition(transition, causes=causes)
        if alert is None:
            continue
        if message.devices_at_risk is not None or message.related:
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
        alerts.append(alert)
    return alerts


# Audit events reach the store before the evaluation they caused; look a little around it.
CAUSE_LOOKBACK = timedelta(days=1)
CAUSE_LOOKAHEAD = timedelta(minutes=10)


def _causes_of(
    transitions: Sequence[Transition], environ: Mapping[str, str] | None
) -> list[ChangeEvent]:
    """The change events (actor, activity) the transitions are attributed to, from the store:
    one query for the whole batch."""
    wanted = {cause for transition in transitions for cause in transition.cause_event_ids}
    if not wanted:
        return []
    from azure.core.exceptions import AzureError

    from monitors.store.settings import store_from_settings

    tenant_id = transitions[0].tenant_id
    earliest = min(transition.at for transition in transitions)
    latest = max(transition.at for transition in transitions)
    try:
        store = store_from_settings(environ, create_tables=False)
        page = store.changes(
            tenant_id,
            since=earliest - CAUSE_LOOKBACK,
            until=latest + CAUSE_LOOKAHEAD,
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
            # The write sequence, when the message carries it: a second break of one subject is
            # a second alert, and the settle check finds the transitions that followed it.
            seq=_seq(document),
            from_status=StoredStatus(origin) if origin else None,
            to_status=to_status,
            record=record,
            cause_event_ids=tuple(str(cause) for cause in document.get("causeEventIds") or ()),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise MessageError(f"alert message has no usable transition: {error}") from None


def _seq(document: Mapping[str, Any]) -> int:
    value = document.get("seq", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise MessageError(f"transition.{key} must be a non-empty string")
    return value
