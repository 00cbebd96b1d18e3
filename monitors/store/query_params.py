"""Validation of every query parameter the HTTP API and `greenscreen history` accept.

Everything is checked against a pattern and a length bound before it reaches the store, and
the store then passes values only as filter *parameters*. A rejected value yields one line
saying which parameter and why, never the value itself echoed at length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from monitors.store.continuation import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from monitors.store.keys import TENANT_PATTERN, parse_time
from monitors.store.records import StoredStatus

RULE_PATTERN = re.compile(r"^[A-Z]{2,5}-\d{3}$")
SUBJECT_PATTERN = re.compile(r"^[A-Za-z0-9._@:-]{1,256}$")
# Actors are UPNs, application ids or application display names: printable text.
ACTOR_PATTERN = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,256}$")
MAX_DATETIME_LENGTH = 40
MAX_CONTINUATION_LENGTH = 512
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# `code` carries the function key when it is passed in the query string.
IGNORED = frozenset({"code"})
STATUSES = tuple(status.value for status in StoredStatus)


class QueryError(ValueError):
    """Invalid input: HTTP 400 / exit code 2, with this one-line reason."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    tenant: str
    rule: str | None = None
    subject: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    continuation: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class ChangesQuery:
    tenant: str
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    continuation: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE


def _only(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed - IGNORED)
    if unknown:
        raise QueryError(f"unknown parameter {_show(unknown[0])}")


def _show(value: str) -> str:
    """A short, printable rendering of a bad value for the one-line reason."""
    printable = "".join(char if char.isprintable() else "?" for char in value[:40])
    return repr(printable + ("…" if len(value) > 40 else ""))


def tenant(value: str | None) -> str:
    if not value:
        raise QueryError("tenant is required (a tenant id GUID or a domain name)")
    if len(value) > 253 or not TENANT_PATTERN.fullmatch(value):
        raise QueryError("tenant must be a tenant id GUID or a domain name")
    return value.lower()


def rule(value: str | None) -> str | None:
    if value is None:
        return None
    if not RULE_PATTERN.fullmatch(value):
        raise QueryError("rule must be a catalog id such as PRF-001")
    return value


def subject(value: str | None) -> str | None:
    if value is None:
        return None
    if not SUBJECT_PATTERN.fullmatch(value):
        raise QueryError("subject must be an object id (1-256 letters, digits, . _ @ : -)")
    return value


def status(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise QueryError(f"status must be one of {', '.join(STATUSES)}")
    return value


def actor(value: str | None) -> str | None:
    if value is None:
        return None
    if not ACTOR_PATTERN.fullmatch(value):
        raise QueryError("actor must be 1-256 printable characters")
    return value


def moment(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    if len(value) > MAX_DATETIME_LENGTH or not value.isascii():
        raise QueryError(f"{name} must be an ISO 8601 date-time such as 2026-11-24T10:00:00Z")
    try:
        parsed = parse_time(value)
    except (ValueError, OverflowError):
        raise QueryError(
            f"{name} must be an ISO 8601 date-time such as 2026-11-24T10:00:00Z"
        ) from None
    if not EARLIEST <= parsed <= LATEST:
        raise QueryError(f"{name} must lie between 2000 and 2200")
    return parsed


def continuation(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_CONTINUATION_LENGTH or not value.isascii():
        raise QueryError("continuation is not a token this service issued")
    return value


def page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not (value.isascii() and value.isdigit() and len(value) <= 4):
        raise QueryError(f"pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}")
    number = int(value)
    if not 1 <= number <= MAX_PAGE_SIZE:
        raise QueryError(f"pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return number


def _time_range(params: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    since, until = moment("since", params.get("since")), moment("until", params.get("until"))
    if since and until and since > until:
        raise QueryError("since must not be after until")
    return since, until


def readiness_query(params: Mapping[str, str]) -> str:
    _only(params, {"tenant"})
    return tenant(params.get("tenant"))


def history_query(params: Mapping[str, str]) -> HistoryQuery:
    _only(
        params,
        {"tenant", "rule", "subject", "status", "since", "until", "continuation", "pageSize"},
    )
    since, until = _time_range(params)
    return HistoryQuery(
        tenant=tenant(params.get("tenant")),
        rule=rule(params.get("rule")),
        subject=subject(params.get("subject")),
        status=status(params.get("status")),
        since=since,
        until=until,
        continuation=continuation(params.get("continuation")),
        page_size=page_size(params.get("pageSize")),
    )


def changes_query(params: Mapping[str, str]) -> ChangesQuery:
    _only(params, {"tenant", "since", "until", "actor", "continuation", "pageSize"})
    since, until = _time_range(params)
    return ChangesQuery(
        tenant=tenant(params.get("tenant")),
        since=since,
        until=until,
        actor=actor(params.get("actor")),
        continuation=continuation(params.get("continuation")),
        page_size=page_size(params.get("pageSize")),
    )
