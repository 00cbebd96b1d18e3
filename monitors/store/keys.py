"""Table names, key encoding and the time-ordered row keys every table uses.

Table Storage forbids `/ \\ # ?` and control characters in PartitionKey and RowKey and caps
each key at 1 KiB. Every value that reaches a key goes through `key_part`, which escapes
anything outside a small safe alphabet, so untrusted subject ids (they come from Graph, but
are treated as untrusted) can neither break a key nor collide with the `|` separator.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

STATE_TABLE = "GreenscreenState"
TRANSITIONS_TABLE = "GreenscreenTransitions"
CHANGES_TABLE = "GreenscreenChanges"
CAUSES_TABLE = "GreenscreenCauses"
RUNS_TABLE = "GreenscreenRuns"
OPERATIONS_TABLE = "GreenscreenOperations"
MIRROR_TABLE = "GreenscreenTenantMirror"
# The dashboard's readiness summary (monitors/dashboard/summary.py), written at evaluation time.
SUMMARY_TABLE = "GreenscreenReadinessSummary"
ALL_TABLES = (
    STATE_TABLE,
    TRANSITIONS_TABLE,
    CHANGES_TABLE,
    CAUSES_TABLE,
    RUNS_TABLE,
    OPERATIONS_TABLE,
    MIRROR_TABLE,
    SUMMARY_TABLE,
)

SEPARATOR = "|"
# The tenant's state partition holds one head entity; its row key sorts before every state row.
HEAD_ROW_KEY = "!head"
STATE_ROW_PREFIX = "s" + SEPARATOR  # one record per row (the previous layout, still read)
BUCKET_ROW_PREFIX = "b" + SEPARATOR  # the records of one (rule, scope) by subject hash prefix

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")
# Encoded parts longer than this are shortened to a prefix and a hash of the whole value.
MAX_PART_LENGTH = 180
# Inverted milliseconds: newest first in a plain ascending scan, 13 digits until year 2286.
_INVERSION_BASE = 10**13 - 1
TENANT_PATTERN = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=.{3,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


class InvalidKeyError(ValueError):
    """A value that cannot be part of a table key (for example a malformed tenant id)."""


def key_part(value: str) -> str:
    """Encode one key component: safe characters pass, everything else becomes `~XX` bytes."""
    encoded = _UNSAFE.sub(_escape, value)
    if len(encoded) <= MAX_PART_LENGTH:
        return encoded
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{encoded[: MAX_PART_LENGTH - 34]}~~{digest}"


def _escape(match: re.Match[str]) -> str:
    return "".join(f"~{byte:02X}" for byte in match.group().encode())


def digest(*parts: str, length: int = 24) -> str:
    """A short, stable, key-safe fingerprint of several values."""
    hashed = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return hashed[:length]


def tenant_key(tenant_id: str) -> str:
    """Tenant ids are GUIDs or domain names; both compare case-insensitively."""
    if not TENANT_PATTERN.fullmatch(tenant_id):
        raise InvalidKeyError(f"not a tenant id or domain: {tenant_id[:80]!r}")
    return tenant_id.lower()


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m")


def months_back(newest: datetime, oldest: datetime) -> list[str]:
    """Month partitions from `newest` back to `oldest`, newest first (both inclusive)."""
    year, month = newest.astimezone(UTC).year, newest.astimezone(UTC).month
    end = (oldest.astimezone(UTC).year, oldest.astimezone(UTC).month)
    months = []
    while (year, month) >= end:
        months.append(f"{year:04d}{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def time_partition(tenant: str, moment: datetime) -> str:
    return f"{tenant}{SEPARATOR}{month_of(moment)}"


def inverted_time(moment: datetime) -> str:
    milliseconds = int(moment.astimezone(UTC).timestamp() * 1000)
    return f"{_INVERSION_BASE - milliseconds:013d}"


def state_row_key(rule_id: str, scope_id: str, subject_type: str, subject_id: str) -> str:
    return SEPARATOR.join(
        (
            STATE_ROW_PREFIX + key_part(rule_id),
            key_part(scope_id),
            key_part(subject_type),
            key_part(subject_id),
        )
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str) -> datetime:
    """ISO 8601 with an explicit or implied UTC offset (a trailing `Z` is accepted)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
