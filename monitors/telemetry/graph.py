"""Telemetry of Graph requests: one span per call (retries inside), a count per HTTP exchange.

Graph URLs carry object ids and query values (filters naming groups, delta and skip tokens), so
nothing here ever records a URL: a request is named by its *template*, the path with every id
replaced by `{id}`, and by the *names* of its query options.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import httpx
from opentelemetry.metrics import Counter, Meter
from opentelemetry.trace import SpanKind

from monitors.telemetry import names
from monitors.telemetry.instruments import Attributes, instruments, meter, span

# Fallbacks (values of `greenscreen.graph.fallback`): how the reader got round what Graph refused
# or cannot serve.
FALLBACK_PER_OBJECT: Final = "per_object_navigation"  # an expand refused: navigations one by one
FALLBACK_DEVICE_BY_ID: Final = "autopilot_device_by_id"  # serial unknown: one GET by id first
FALLBACK_DEVICE_LIST: Final = "autopilot_device_list"  # serial filter missed it: the whole list
FALLBACK_PROFILE_LOOKUP: Final = "autopilot_assigned_devices"  # profile re-read per profile
FALLBACK_ASSIGNMENTS_PATH: Final = "assignments_by_path"  # an expand known to answer empty
# The key under which a request carries its `GraphCall` through the middleware to the transport.
CALL_EXTENSION: Final = "greenscreen.graph_call"
_VERSIONS: Final = ("v1.0", "beta")
# Resource and navigation names (`deviceManagement`, `$batch`, `microsoft.graph.delta`); anything
# else in a path is an id or a key and becomes `{id}`.
_NAME: Final = re.compile(r"\$?[a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)*")
_FUNCTION: Final = re.compile(r"(\$?[a-z][A-Za-z.]*)\((.*)\)")


@dataclass(frozen=True, slots=True)
class RequestShape:
    version: str
    template: str
    query_options: str  # comma-separated option names, never their values

    @classmethod
    def of(cls, url: str | httpx.URL, version: str | None = None) -> RequestShape:
        """The shape of an absolute URL, or of one relative to the version root (`version`)."""
        parts = urlsplit(str(url))
        segments = [s for s in parts.path.split("/") if s]
        if version is None:
            # Absolute: the version is the first segment that names one (a base URL may add more).
            index = next((i for i, s in enumerate(segments) if s in _VERSIONS), -1)
            version = segments[index] if index >= 0 else ""
            segments = segments[index + 1 :]
        options = sorted({key for key, _ in parse_qsl(parts.query, keep_blank_values=True)})
        return cls(version, "/".join(_template_segment(s) for s in segments), ",".join(options))

    def attributes(self) -> dict[str, str]:
        return {
            names.GRAPH_VERSION: self.version,
            names.URL_TEMPLATE: self.template,
            names.GRAPH_QUERY_OPTIONS: self.query_options,
        }


def _template_segment(segment: str) -> str:
    if _NAME.fullmatch(segment):
        return segment
    function = _FUNCTION.fullmatch(segment)
    if function:
        return f"{function.group(1)}({'{params}' if function.group(2) else ''})"
    return "{id}"


@dataclass(slots=True)
class GraphCall:
    """What one logical Graph request went through: every attempt the middleware made."""

    method: str
    shape: RequestShape
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    retry_after_s: float | None = None

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            names.HTTP_RESEND_COUNT: max(self.attempts - 1, 0),
            names.GRAPH_THROTTLED: 429 in self.statuses,
        }
        if self.statuses:
            summary[names.HTTP_STATUS] = self.statuses[-1]
        if self.retry_after_s is not None:
            summary[names.GRAPH_RETRY_AFTER] = self.retry_after_s
        return summary


@contextmanager
def graph_request_span(method: str, url: str) -> Iterator[GraphCall]:
    """Around one `GraphClient.request_json`: put the yielded call into the request's
    extensions under `CALL_EXTENSION` so the transport can report each attempt."""
    call = GraphCall(method.upper(), RequestShape.of(url))
    attributes: Attributes = {names.HTTP_METHOD: call.method, **call.shape.attributes()}
    with span(names.SPAN_GRAPH_REQUEST, attributes, kind=SpanKind.CLIENT) as current:
        try:
            yield call
        finally:
            current.set_attributes(call.summary())


def exchange_started(request: httpx.Request) -> None:
    """Called by the transport under the middleware, once per attempt (retries included)."""
    call = request.extensions.get(CALL_EXTENSION)
    if isinstance(call, GraphCall):
        call.attempts += 1


def exchange_answered(request: httpx.Request, response: httpx.Response) -> None:
    call = request.extensions.get(CALL_EXTENSION)
    shape = call.shape if isinstance(call, GraphCall) else RequestShape.of(request.url)
    status = response.status_code
    if isinstance(call, GraphCall):
        call.statuses.append(status)
        seconds = _seconds(response.headers.get("Retry-After"))
        if seconds is not None:
            call.retry_after_s = seconds
    _count(request.method.upper(), shape, status, in_batch=False)


def _count(method: str, shape: RequestShape, status: int, *, in_batch: bool) -> None:
    attributes: Attributes = {
        names.HTTP_METHOD: method,
        names.GRAPH_VERSION: shape.version,
        names.URL_TEMPLATE: shape.template,
        names.HTTP_STATUS: status,
        names.GRAPH_IN_BATCH: in_batch,
    }
    meters = instruments()
    meters.graph_requests.add(1, attributes)
    if status == 429:
        meters.graph_throttles.add(1, attributes)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: Graph sends seconds, so this is not worth parsing
        return None


@dataclass(slots=True)
class BatchCall:
    version: str
    items: Sequence[Mapping[str, Any]]
    throttled: int = 0

    def answered(self, responses: Mapping[str, Mapping[str, Any]]) -> None:
        """Count every inner answer like a request of its own: Graph throttles them so."""
        for item in self.items:
            answer = responses.get(str(item.get("id")))
            if answer is None:
                continue
            status = int(answer.get("status") or 0)
            shape = RequestShape.of(str(item.get("url") or ""), version=self.version)
            _count(str(item.get("method") or "GET").upper(), shape, status, in_batch=True)
            if status == 429:
                self.throttled += 1


@contextmanager
def graph_batch_span(version: str, items: Sequence[Mapping[str, Any]]) -> Iterator[BatchCall]:
    batch = BatchCall(version, items)
    attributes: Attributes = {names.GRAPH_VERSION: version, names.GRAPH_BATCH_SIZE: len(items)}
    with span(names.SPAN_GRAPH_BATCH, attributes, kind=SpanKind.CLIENT) as current:
        try:
            yield batch
        finally:
            current.set_attribute(names.GRAPH_BATCH_THROTTLED, batch.throttled)


@functools.lru_cache(maxsize=8)
def _workaround_counters(current: Meter) -> tuple[Counter, Counter]:
    return (
        current.create_counter(
            names.METRIC_GRAPH_REFUSED,
            "{request}",
            "Graph requests refused in a form the reader relies on (then read another way)",
        ),
        current.create_counter(
            names.METRIC_GRAPH_FALLBACKS,
            "{read}",
            "Reads made another way because Graph refuses or misreports the direct one",
        ),
    )


def record_refused(version: str, relative_url: str, status: int) -> None:
    """Graph refused a query form the reader relies on (named by template and option names)."""
    shape = RequestShape.of(relative_url, version)
    refused, _ = _workaround_counters(meter())
    refused.add(1, {**shape.attributes(), names.HTTP_STATUS: status})


def record_fallback(kind: str, collection: str, count: int = 1) -> None:
    """`count` reads made the other way round (`kind`, one of the FALLBACK_* values)."""
    _, fallbacks = _workaround_counters(meter())
    template = RequestShape.of(collection, "beta").template
    fallbacks.add(count, {names.GRAPH_FALLBACK: kind, names.URL_TEMPLATE: template})
