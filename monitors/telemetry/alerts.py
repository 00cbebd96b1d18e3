"""Telemetry of alert delivery: a span per message and destination, counters of outcomes.

Destinations are named by their route name only; a webhook URL is a secret and never recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry.trace import SpanKind

from monitors.telemetry import names
from monitors.telemetry.instruments import instruments, span


@contextmanager
def alert_delivery_span(tenant_id: str, destination: str) -> Iterator[Callable[[str, int], None]]:
    """Yields `finish(outcome, attempts)`; call it with the delivery's result."""
    attributes = {names.TENANT_ID: tenant_id, names.ALERT_DESTINATION: destination}
    with span(names.SPAN_ALERT_DELIVERY, attributes, kind=SpanKind.CLIENT) as current:

        def finish(outcome: str, attempts: int) -> None:
            current.set_attributes({names.ALERT_OUTCOME: outcome, names.ALERT_ATTEMPTS: attempts})
            counted = {**attributes, names.ALERT_OUTCOME: outcome}
            meters = instruments()
            meters.alert_deliveries.add(1, counted)
            if outcome == "undelivered":
                meters.alert_failures.add(1, counted)

        yield finish
