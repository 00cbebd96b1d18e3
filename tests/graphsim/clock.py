"""The simulator's notion of "now", which tests can move forward.

Delta tokens (valid seven days), subscriptions (at most 41,760 minutes) and audit timestamps all
read this clock, so a test can age a token or expire a subscription without waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimulatorClock:
    def __init__(self, wall_clock: Callable[[], datetime] | None = None) -> None:
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._wall_clock() + self._offset

    def advance(self, by: timedelta) -> None:
        if by < timedelta():
            raise ValueError("the simulator clock only moves forward")
        with self._lock:
            self._offset += by


def graph_timestamp(moment: datetime) -> str:
    """Graph's timestamp form: UTC, seven fractional digits, `Z`: 2026-11-24T10:00:00.1234560Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def error_date(moment: datetime) -> str:
    """The `innerError.date` form: UTC, whole seconds, no zone designator."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp as Graph writes it; a value without a zone is taken as UTC."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
