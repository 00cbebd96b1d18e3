"""The helpers instrumented code uses: a tracer, a span context manager and lazily created metric
instruments, all looked up from the OpenTelemetry API at the moment of use.

Production code talks to the *global* providers, which `monitors.telemetry.setup` installs once at
the edge (or nobody does, and everything is a no-op). The global providers can be set only once per
process, so tests install their own in-memory providers with `use_providers` instead: every
lookup here goes through `_tracer_provider()` / `_meter_provider()`, never a cached global.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import (
    CallbackOptions,
    Counter,
    Histogram,
    Meter,
    MeterProvider,
    ObservableGauge,
    Observation,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from monitors.telemetry import names

Attributes = Mapping[str, AttributeValue]
T = TypeVar("T")
R = TypeVar("R")

_VERSION: Final = "1"
# Seconds: webhook answers are expected far below Graph's 3 s limit; queue lag up to hours.
_WEBHOOK_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.9, 5.0, 10.0)
_LAG_BUCKETS: Final = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)

_overrides: dict[str, TracerProvider | MeterProvider | None] = {"tracer": None, "meter": None}


def use_providers(
    tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Send this process's Greenscreen spans and metrics to these providers (None: the global
    ones). For tests; production configures the global providers in `setup`."""
    _overrides["tracer"] = tracer_provider
    _overrides["meter"] = meter_provider


def _tracer_provider() -> TracerProvider:
    override = _overrides["tracer"]
    return override if isinstance(override, TracerProvider) else trace.get_tracer_provider()


def _meter_provider() -> MeterProvider:
    override = _overrides["meter"]
    return override if isinstance(override, MeterProvider) else metrics.get_meter_provider()


def tracer() -> Tracer:
    return _tracer_provider().get_tracer(names.INSTRUMENTATION_SCOPE, _VERSION)


def meter() -> Meter:
    return _meter_provider().get_meter(names.INSTRUMENTATION_SCOPE, _VERSION)


@contextmanager
def span(
    name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[Span]:
    """A current span that records a failure by its exception *type* only: exception messages
    can carry URLs or Graph text, so they are never attached to telemetry."""
    with tracer().start_as_current_span(
        name,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as error:
            current.set_attribute(names.ERROR_TYPE, type(error).__qualname__)
            current.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            raise


def annotate_current_span(attributes: Attributes) -> None:
    """Add attributes to whatever span is current (e.g. the trigger's, once the tenant is known)."""
    trace.get_current_span().set_attributes(attributes)


@dataclass
class LastValues:
    """Values waiting for an observable gauge's next collection, then forgotten.

    Each value is reported once, at the first export after it was computed: an instance that
    evaluated a tenant hours ago must not keep repeating a verdict that another instance has since
    replaced. Dashboards take the latest point per attribute set (docs/telemetry.md).
    """

    _values: dict[tuple[tuple[str, AttributeValue], ...], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, value: float, attributes: Mapping[str, str]) -> None:
        with self._lock:
            self._values[tuple(sorted(attributes.items()))] = value

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            pending = list(self._values.items())
            self._values.clear()
        return [Observation(value, dict(key)) for key, value in pending]


@dataclass(frozen=True, slots=True)
class Instruments:
    findings: Counter
    readiness: LastValues
    readiness_blocking: LastValues
    transitions: Counter
    graph_requests: Counter
    graph_throttles: Counter
    webhook_duration: Histogram
    notifications: Counter
    queue_lag: Histogram
    alert_deliveries: Counter
    alert_failures: Counter
    gauges: tuple[ObservableGauge, ...]  # kept referenced for as long as the values are


def instruments() -> Instruments:
    """The metric instruments of the current meter provider, created on first use."""
    return _instruments_of(_meter_provider())


@functools.lru_cache(maxsize=8)
def _instruments_of(provider: MeterProvider) -> Instruments:
    m = provider.get_meter(names.INSTRUMENTATION_SCOPE, _VERSION)
    readiness, blocking = LastValues(), LastValues()
    gauges = (
        m.create_observable_gauge(
            names.METRIC_READINESS,
            [readiness.observe],
            "1",
            "1 when a profile (or the tenant) is ready, else 0",
        ),
        m.create_observable_gauge(
            names.METRIC_READINESS_BLOCKING,
            [blocking.observe],
            "{verdict}",
            "Failing or unknown verdicts at or above the readiness threshold",
        ),
    )
    return Instruments(
        findings=m.create_counter(
            names.METRIC_FINDINGS, "{finding}", "Findings produced by evaluations"
        ),
        readiness=readiness,
        readiness_blocking=blocking,
        gauges=gauges,
        transitions=m.create_counter(
            names.METRIC_TRANSITIONS, "{transition}", "Verdict status changes recorded"
        ),
        graph_requests=m.create_counter(
            names.METRIC_GRAPH_REQUESTS,
            "{request}",
            "Graph requests: every HTTP exchange (retries included) and every $batch item",
        ),
        graph_throttles=m.create_counter(
            names.METRIC_GRAPH_THROTTLES, "{request}", "Graph answers with status 429"
        ),
        webhook_duration=m.create_histogram(
            names.METRIC_WEBHOOK_DURATION,
            "s",
            "Time the change-notification webhook took to answer",
            explicit_bucket_boundaries_advisory=_WEBHOOK_BUCKETS,
        ),
        notifications=m.create_counter(
            names.METRIC_NOTIFICATIONS, "{item}", "Change-notification items by outcome"
        ),
        queue_lag=m.create_histogram(
            names.METRIC_QUEUE_LAG,
            "s",
            "Time from a queue message's insertion to the start of its processing",
            explicit_bucket_boundaries_advisory=_LAG_BUCKETS,
        ),
        alert_deliveries=m.create_counter(
            names.METRIC_ALERT_DELIVERIES, "{message}", "Alert messages by delivery outcome"
        ),
        alert_failures=m.create_counter(
            names.METRIC_ALERT_FAILURES,
            "{message}",
            "Alert messages that could not be delivered within the retry budget",
        ),
    )


def carry_context(work: Callable[[T], R]) -> Callable[[T], R]:
    """`work` run with the caller's trace context, e.g. in a thread pool (threads do not
    inherit context): spans it starts stay children of the caller's span."""
    captured = otel_context.get_current()

    def in_context(item: T) -> R:
        token = otel_context.attach(captured)
        try:
            return work(item)
        finally:
            otel_context.detach(token)

    return in_context
