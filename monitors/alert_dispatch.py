"""Where `alerts` messages go: for now a log line per transition.

Teams delivery is being written in `monitors/alerts/`; this seam stays the only thing the
`send_alert` trigger calls, so wiring it in later is a one-line change here.
"""

from __future__ import annotations

import logging

from monitors.queues import AlertMessage

log = logging.getLogger(__name__)


def deliver_alert(message: AlertMessage) -> None:
    transition = message.transition
    subject = transition.get("subject") or {}
    log.info(
        "alert: %s %s -> %s for %s %s",
        transition.get("ruleId"),
        transition.get("from"),
        transition.get("to"),
        subject.get("type"),
        subject.get("id"),
        extra={
            "tenant_id": message.tenant_id,
            "rule_id": transition.get("ruleId"),
            "idempotency_key": message.idempotency_key,
        },
    )
