"""What the simulator was asked: the measure of how many Graph requests a reader spends."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    version: str | None  # "v1.0" | "beta" | None (not under a Graph version root)
    path: str  # under the version root, no leading slash; the full path when version is None
    query: str  # raw query string without "?"
    status: int  # 0 when the `timeout` fault closed the connection without an answer
    in_batch: bool
    batch_id: str | None  # the request-id of the enclosing `$batch`
    duration_s: float
    request_id: str = ""
    fault: str | None = None  # the kind of the fault injected into this request, if any

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
