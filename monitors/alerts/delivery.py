"""Posting alerts: retries within a budget, once per alert, and replay of what failed.

`WebhookPoster` posts one body with httpx: per-request timeouts, retries on 429 and 5xx and on
transport errors, honouring `Retry-After`, all within a bounded wall-time budget. A 4xx other
than 429 is not retried (an expired or deleted Workflows URL answers 4xx). `deliver_alerts`
routes alerts, composes the messages, claims each in the ledger (so a redelivered queue message
does not post twice) and records the outcome; an undeliverable message is recorded with its
body, and `DeliveryReport.raise_if_undelivered` turns it into the exception that sends the
queue message to the poison queue. `replay_undelivered` posts recorded failures again.

Webhook URLs never reach a log line, an exception message or telemetry: only the destination's
name (and, where useful, scheme and host).
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import httpx

from monitors.alerts.alert import Alert
from monitors.alerts.cards import DEFAULT_DIGEST_ABOVE, CardContext, compose_messages
from monitors.alerts.ledger import AlertLedger, DeliveryState
from monitors.alerts.routing import (
    AlertPlan,
    AlertRouting,
    Destination,
    WebhookUrl,
    plan_alerts,
    redact_url,
)
from monitors.telemetry.alerts import alert_delivery_span

logger = logging.getLogger(__name__)

USER_AGENT: Final = "greenscreen-alerts/1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    budget_seconds: float = 60.0  # wall time for all attempts and waits of one message
    first_backoff_seconds: float = 1.0  # without Retry-After; doubles per attempt
    max_backoff_seconds: float = 15.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class PostResult:
    delivered: bool
    attempts: int
    status: int | None  # the last HTTP status, None when no answer came
    detail: str  # why it failed; safe to log (never the URL)
    # The request went out and no answer came (read timeout, connection lost after sending):
    # the receiver may have posted it. Never retried: a second post could be a second card.
    ambiguous: bool = False


class _Ambiguous(Exception):  # control flow inside `post`, never escapes it
    pass


class _Retry(Exception):  # control flow inside `post`, never escapes it
    def __init__(self, status: int | None, detail: str, wait: float | None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.wait = wait


class WebhookPoster:
    """POSTs JSON to one webhook URL with bounded retries. The client is built by the caller."""

    def __init__(
        self,
        client: httpx.Client,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        install_url_redaction()

    def post(self, url: WebhookUrl, body: Mapping[str, Any], *, label: str) -> PostResult:
        """Deliver `body`; `label` (the destination's name) is what logs show."""
        policy = self._policy
        deadline = self._clock() + policy.budget_seconds
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        status: int | None = None
        detail = "not attempted"
        for attempt in range(1, policy.max_attempts + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                return PostResult(False, attempt - 1, status, f"budget spent; last: {detail}")
            try:
                status = self._attempt(url, content, remaining)
            except _Ambiguous as unanswered:
                return PostResult(False, attempt, None, str(unanswered), ambiguous=True)
            except _Retry as retry:
                status, detail = retry.status, retry.detail
                wait = retry.wait
                if wait is None:
                    wait = min(
                        policy.first_backoff_seconds * 2 ** (attempt - 1),
                        policy.max_backoff_seconds,
                    )
                if attempt == policy.max_attempts:
                    break
                if self._clock() + wait >= deadline:
                    return PostResult(
                        False,
                        attempt,
                        status,
                        f"{detail}; waiting {wait:.0f} s would exceed the retry budget",
                    )
                logger.warning(
                    "alert post to %s failed (%s), attempt %d; retrying in %.1f s",
                    label,
                    detail,
                    attempt,
                    wait,
                    extra={"destination": label, "status": status, "attempt": attempt},
                )
                self._sleep(wait)
                continue
            if 200 <= status < 300:
                return PostResult(True, attempt, status, "")
            return PostResult(False, attempt, status, f"HTTP {status}: not retried")
        return PostResult(False, policy.max_attempts, status, f"{detail}; attempts exhausted")

    def _attempt(self, url: WebhookUrl, content: bytes, remaining: float) -> int:
        policy = self._policy
        read = min(policy.read_timeout_seconds, max(remaining, 0.1))
        timeout = httpx.Timeout(read, connect=min(policy.connect_timeout_seconds, read))
        try:
            response = self._client.post(
                url.reveal(),
                content=content,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
                timeout=timeout,
            )
        except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as error:
            # Nothing was sent: trying again cannot post twice.
            raise _Retry(None, f"timeout or refused ({type(error).__name__})", None) from None
        except (httpx.TimeoutException, httpx.ReadError, httpx.RemoteProtocolError) as error:
            # Sent, no answer: Teams may answer late and post it anyway (never retried).
            raise _Ambiguous(f"sent, no answer (timeout: {type(error).__name__})") from None
        except httpx.TransportError as error:
            raise _Retry(None, f"transport error ({type(error).__name__})", None) from None
        status = response.status_code
        response.close()
        if status == 429 or status >= 500:
            raise _Retry(status, f"HTTP {status}", retry_after(response.headers.get("Retry-After")))
        return status


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


# -- keeping URLs out of httpx's own log lines ------------------------------------------------


class UrlRedactingFilter(logging.Filter):
    """httpx logs every request's full URL at INFO; rewrite URLs to scheme and host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg))
                if isinstance(arg, httpx.URL) or (isinstance(arg, str) and "://" in arg)
                else arg
                for arg in record.args
            )
        return True


def install_url_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, UrlRedactingFilter) for existing in httpx_logger.filters):
        httpx_logger.addFilter(UrlRedactingFilter())


# -- delivering alerts ------------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # a redelivery: the ledger says it went out before
    IN_FLIGHT = "in_flight"  # another delivery holds an unexpired claim
    UNDELIVERED = "undelivered"
    UNCONFIRMED = "unconfirmed"  # sent, no answer: maybe posted, not posted again


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    tenant_id: str
    destination: str
    key: str
    status: DeliveryStatus
    attempts: int = 0
    detail: str = ""


class AlertUndeliverable(Exception):
    """Some alerts could not be delivered within the retry budget (they are in the ledger).

    Raised from a queue trigger, it sends the message to the poison queue. The message names
    destinations and keys, never a URL.
    """

    def __init__(self, results: Sequence[DeliveryResult]) -> None:
        self.results = tuple(results)
        names = ", ".join(sorted({result.destination for result in results}))
        super().__init__(f"{len(results)} alert message(s) undelivered to: {names}")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    results: tuple[DeliveryResult, ...]
    plan: AlertPlan

    @property
    def undelivered(self) -> tuple[DeliveryResult, ...]:
        return tuple(r for r in self.results if r.status is DeliveryStatus.UNDELIVERED)

    @property
    def in_flight(self) -> tuple[DeliveryResult, ...]:
        return tuple(r for r in self.results if r.status is DeliveryStatus.IN_FLIGHT)

    def raise_if_undelivered(self) -> None:
        """Raise for undelivered alerts, and for alerts another delivery claimed and has not
        finished: if that claimant died (or could not record its outcome), the queue's next
        attempt takes the stuck claim over once its lease ran out, instead of dropping it."""
        waiting = self.undelivered + self.in_flight
        if waiting:
            raise AlertUndeliverable(waiting)


def deliver_alerts(
    alerts: Iterable[Alert],
    routing: AlertRouting,
    context: CardContext,
    ledger: AlertLedger,
    poster: WebhookPoster,
    *,
    now: datetime,
    digest_above: int = DEFAULT_DIGEST_ABOVE,
) -> DeliveryReport:
    """Route, compose, claim, post and record. Idempotent per (destination, alert key)."""
    plan = plan_alerts(alerts, routing, now)
    for silenced in plan.suppressed:
        record = silenced.alert.transition.record
        logger.info(
            "alert for %s on %s suppressed by %s until %s: %s",
            record.rule_id,
            record.subject_id,
            silenced.suppression.owner,
            silenced.suppression.expires.isoformat(),
            silenced.suppression.reason,
            extra={"tenant_id": silenced.alert.tenant_id, "rule_id": record.rule_id},
        )
    results: list[DeliveryResult] = []
    for routed in plan.routed:
        destination = routed.destination
        messages = compose_messages(
            routed.alerts, context, destination.payload_format, digest_above=digest_above
        )
        for message in messages:
            results.append(
                deliver_body(
                    message.tenant_id, message.key, message.body, destination, ledger, poster, now
                )
            )
    return DeliveryReport(tuple(results), plan)


def deliver_body(
    tenant_id: str,
    key: str,
    body: Mapping[str, Any],
    destination: Destination,
    ledger: AlertLedger,
    poster: WebhookPoster,
    now: datetime,
) -> DeliveryResult:
    with alert_delivery_span(tenant_id, destination.name) as finish:
        result = _deliver_body(tenant_id, key, body, destination, ledger, poster, now)
        finish(result.status.value, result.attempts)
        return result


def _deliver_body(
    tenant_id: str,
    key: str,
    body: Mapping[str, Any],
    destination: Destination,
    ledger: AlertLedger,
    poster: WebhookPoster,
    now: datetime,
) -> DeliveryResult:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    claim = ledger.claim(tenant_id, destination.name, key, text, now)
    if not claim.granted:
        status = {
            DeliveryState.SENT: DeliveryStatus.ALREADY_SENT,
            DeliveryState.UNCONFIRMED: DeliveryStatus.UNCONFIRMED,  # maybe posted: not again
        }.get(claim.state, DeliveryStatus.IN_FLIGHT)
        logger.info(
            "alert %s for %s not posted: %s",
            key,
            destination.name,
            status.value,
            extra={"tenant_id": tenant_id, "destination": destination.name},
        )
        return DeliveryResult(tenant_id, destination.name, key, status)
    result = poster.post(destination.url, body, label=destination.name)
    if result.ambiguous:
        ledger.mark_unconfirmed(claim, now, result.detail)
        logger.warning(
            "alert %s to %s: %s; not posted again (see `greenscreen alerts replay`)",
            key,
            destination.name,
            result.detail,
            extra={"tenant_id": tenant_id, "destination": destination.name},
        )
        return DeliveryResult(
            tenant_id,
            destination.name,
            key,
            DeliveryStatus.UNCONFIRMED,
            result.attempts,
            result.detail,
        )
    if result.delivered:
        ledger.mark_sent(claim, now)
        return DeliveryResult(
            tenant_id, destination.name, key, DeliveryStatus.SENT, result.attempts
        )
    ledger.mark_undelivered(claim, now, result.detail)
    logger.error(
        "alert %s undelivered to %s (%s) after %d attempt(s): %s",
        key,
        destination.name,
        destination.url.redacted,
        result.attempts,
        result.detail,
        extra={"tenant_id": tenant_id, "destination": destination.name},
    )
    return DeliveryResult(
        tenant_id, destination.name, key, DeliveryStatus.UNDELIVERED, result.attempts, result.detail
    )


# -- replay -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayReport:
    results: tuple[DeliveryResult, ...]
    skipped: tuple[tuple[str, str, str], ...] = field(default=())  # (tenant, key, why)


def replay_undelivered(
    ledger: AlertLedger,
    routing: AlertRouting,
    poster: WebhookPoster,
    *,
    now: datetime,
    tenant_id: str | None = None,
    limit: int | None = None,
    unconfirmed: bool = False,
) -> ReplayReport:
    """Post every recorded undelivered message again, to its destination as configured now:
    undelivered ones, claims stuck `pending` past their lease, and, only when `unconfirmed`,
    those that went out without an answer (they may be in the channel already)."""
    results: list[DeliveryResult] = []
    skipped: list[tuple[str, str, str]] = []
    for entry in list(ledger.replayable(now, tenant_id, unconfirmed=unconfirmed)):
        if limit is not None and len(results) >= limit:
            break
        destination = routing.destination(entry.tenant_id, entry.destination)
        if destination is None:
            skipped.append((entry.tenant_id, entry.key, f"no destination {entry.destination!r}"))
            continue
        if entry.body is None:
            skipped.append((entry.tenant_id, entry.key, "the body was too large to keep"))
            continue
        body = json.loads(entry.body)
        if entry.state is DeliveryState.UNCONFIRMED:
            ledger.release_unconfirmed(entry, now)
        results.append(
            deliver_body(entry.tenant_id, entry.key, body, destination, ledger, poster, now)
        )
    return ReplayReport(tuple(results), tuple(skipped))


def describe_destination(destination: Destination) -> str:
    """For operators: the name and where it points, without the secret part of the URL."""
    return f"{destination.name} → {redact_url(destination.url.reveal())}"
