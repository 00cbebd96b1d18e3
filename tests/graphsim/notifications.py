"""Delivering change and lifecycle notifications on a background thread.

`apply_changes` only queues; the sender POSTs with Graph's 3-second publish timeout and records
what each receiver answered. Graph retries failed deliveries for hours; the simulator does not
retry, it records the failure so that a test can assert on it.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from tests.graphsim.subscriptions import post_json

PUBLISH_TIMEOUT_S: Final = 3.0


@dataclass(frozen=True)
class DeliveryResult:
    url: str
    kind: str  # "change" | "lifecycle"
    subscription_ids: tuple[str, ...]
    payload: dict[str, Any]
    status: int | None  # None when the receiver could not be reached or did not answer in time
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class _Delivery:
    url: str
    kind: str
    subscription_ids: tuple[str, ...]
    payload: dict[str, Any]


class NotificationSender:
    def __init__(self, timeout_s: float = PUBLISH_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._queue: queue.Queue[_Delivery | None] = queue.Queue()
        self._condition = threading.Condition()
        self._pending = 0
        self._finished: list[DeliveryResult] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="graphsim-notifications", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self._timeout_s + 1)
            self._thread = None

    def send(self, url: str, kind: str, subscription_ids: tuple[str, ...], payload: Any) -> None:
        with self._condition:
            self._pending += 1
        self._queue.put(_Delivery(url, kind, subscription_ids, payload))

    def wait(self, timeout: float) -> list[DeliveryResult]:
        """Wait until every queued notification was delivered (or failed); return the results
        finished since the previous call. Raises TimeoutError if some are still in flight."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._pending} notification(s) still being delivered")
                self._condition.wait(remaining)
            finished, self._finished = self._finished, []
            return finished

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            status, error = post_json(delivery.url, delivery.payload, self._timeout_s)
            result = DeliveryResult(
                delivery.url,
                delivery.kind,
                delivery.subscription_ids,
                delivery.payload,
                status,
                error,
            )
            with self._condition:
                self._finished.append(result)
                self._pending -= 1
                self._condition.notify_all()
