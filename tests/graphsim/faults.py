"""Injected faults: throttling, outages, slowness, hung and garbled answers.

A fault matches by a regular expression searched in the path under the version root (so
`r"^groups$"` is exact and `r"mobileApps"` matches anything under it), optionally by method.
It fires `times` times (None: until cleared), on top-level and on `$batch` inner requests alike.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import unquote

FaultKind = Literal[
    "throttle",
    "unavailable",
    "slow",
    "timeout",
    "malformed",
    "forbidden",
    "not_found",
    "bad_request",
    "garbled",
    "loop",
]
FAULT_KINDS: Final = (
    "throttle",
    "unavailable",
    "slow",
    "timeout",
    "malformed",
    "forbidden",
    "not_found",
    "bad_request",
    "garbled",
    "loop",
)


@dataclass(frozen=True)
class Fault:
    path: str
    kind: FaultKind
    times: int | None = 1
    retry_after: int = 1
    delay_s: float = 0.0
    method: str | None = None
    # Regex searched in the decoded query string (e.g. r"\$expand=assignments"); None: any query.
    query: str | None = None
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for a fault that stays)")
        if self.delay_s < 0 or self.retry_after < 0:
            raise ValueError("delay_s and retry_after cannot be negative")
        try:
            pattern = re.compile(self.path)
        except re.error as error:
            raise ValueError(
                f"fault path {self.path!r} is not a regular expression: {error}"
            ) from error
        object.__setattr__(self, "_pattern", pattern)
        if self.query is not None:
            re.compile(self.query)

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.query is not None and re.search(self.query, unquote(query)) is None:
            return False
        return self._pattern.search(path) is not None

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("a fault is an object with at least 'path' and 'kind'")
        known = {"path", "kind", "times", "retry_after", "delay_s", "method", "query"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "times": self.times,
            "retry_after": self.retry_after,
            "delay_s": self.delay_s,
            "method": self.method,
            "query": self.query,
        }


class FaultTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[Fault, list[int | None]]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append((fault, [fault.times]))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, query: str = "") -> Fault | None:
        """The first matching fault, counting one use of it."""
        with self._lock:
            for fault, remaining in self._faults:
                if fault.matches(method, path, query):
                    if remaining[0] is not None:
                        remaining[0] -= 1
                        if remaining[0] == 0:
                            self._faults = [f for f in self._faults if f[0] is not fault]
                    return fault
        return None

    def active(self) -> list[Fault]:
        with self._lock:
            return [fault for fault, _ in self._faults]
