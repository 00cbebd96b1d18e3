"""The query endpoints as pure request → response translation, testable without Functions.

`function_app.py` hands each handler the query parameters and a verdict store and turns the
`ApiResponse` into an HTTP response. Invalid input is answered 400 with a one-line reason;
storage trouble 503 (retry later); nothing else escapes as a 5xx.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError

from monitors.attestation import attested_basis
from monitors.reports import profile_verdict
from monitors.reports.stored_verdicts import THRESHOLD as READINESS_THRESHOLD
from monitors.reports.stored_verdicts import (
    blocking_failures,
    readiness_of_verdicts,
    severity_of,
)
from monitors.store import query_params
from monitors.store.continuation import InvalidQueryError
from monitors.store.keys import InvalidKeyError, format_time
from monitors.store.records import CurrentVerdict, PassingCount, StoredStatus
from monitors.store.settings import StoreSettingsError
from monitors.store.verdict_store import VerdictStore
from rules.device_readiness import Readiness

log = logging.getLogger(__name__)

_BLOCKING_STATUSES = {StoredStatus.FAIL.value, StoredStatus.UNKNOWN.value}


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: dict[str, Any]

    def json_text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))


def readiness(params: Mapping[str, str], store: VerdictStore) -> ApiResponse:
    return _answer(lambda: _readiness(query_params.readiness_query(_plain(params)), store))


def history(params: Mapping[str, str], store: VerdictStore) -> ApiResponse:
    def answer() -> dict[str, Any]:
        query = query_params.history_query(_plain(params))
        since, until = bounded_range(query.since, query.until, store.retention_days)
        page = store.history(
            query.tenant,
            rule=query.rule,
            subject=query.subject,
            status=query.status,
            since=since,
            until=until,
            continuation=query.continuation,
            page_size=query.page_size,
        )
        return {
            "tenant": query.tenant,
            "items": [_with_basis(transition.as_json()) for transition in page.items],
            "continuation": page.continuation,
        }

    return _answer(answer)


def changes(params: Mapping[str, str], store: VerdictStore) -> ApiResponse:
    def answer() -> dict[str, Any]:
        query = query_params.changes_query(_plain(params))
        since, until = bounded_range(query.since, query.until, store.retention_days)
        page = store.changes(
            query.tenant,
            since=since,
            until=until,
            actor=query.actor,
            continuation=query.continuation,
            page_size=query.page_size,
        )
        return {
            "tenant": query.tenant,
            "items": [change.as_json() for change in page.items],
            "continuation": page.continuation,
        }

    return _answer(answer)


# History is kept in one partition per month: a range of at most this many days reads at most
# 15 partitions. Without `since`, a query covers this many days (or the retention, if shorter).
MAX_RANGE_DAYS = 400


def bounded_range(
    since: datetime | None, until: datetime | None, retention_days: int
) -> tuple[datetime, datetime]:
    """The time range a query reads, refused (400) when it spans more than `MAX_RANGE_DAYS`."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=min(retention_days, MAX_RANGE_DAYS))
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise query_params.QueryError(
            f"since..until must span at most {MAX_RANGE_DAYS} days; page through shorter ranges"
        )
    return start, end


def respond(
    handler: Callable[[Mapping[str, str], VerdictStore], ApiResponse],
    params: Mapping[str, str],
    store: Callable[[], VerdictStore],
) -> ApiResponse:
    """Build (or reuse) the store, then answer; a store that cannot be built is a 503.

    At a cold start the store is built on the first request: a malformed connection string
    (the SDK's `ValueError`) or unreachable storage (`AzureError`, creating the tables) is the
    deployment's problem, answered `503` like any other storage trouble, never a 500.
    """
    try:
        built = store()
    except AzureError as error:
        log.warning("storage unavailable at start: %s", type(error).__name__)
        return ApiResponse(503, {"error": "storage is unavailable; retry later"})
    except StoreSettingsError as error:  # names the setting, never its value
        log.error("not configured: %s", error)
        return ApiResponse(503, {"error": f"not configured: {error}"})
    except ValueError as error:
        # The SDK's message may quote the connection string: name the problem, not the value.
        log.error("storage not configured: %s", type(error).__name__)
        return ApiResponse(
            503, {"error": "not configured: the storage connection setting is malformed"}
        )
    return handler(params, built)


def _with_basis(document: dict[str, Any]) -> dict[str, Any]:
    """A verdict that rests on an operator's attestation says so: `basis` is `attested`."""
    basis = attested_basis(document.get("reasons") or ())
    if basis is not None:
        document["basis"] = "attested"
        document["attestation"] = basis
    return document


# No parameter has a use for control characters; some parsers stop at a NUL (CPython's
# `fromisoformat` reads "2026-11-20T10:00:00Z\x00" as a valid time), so they never get that far.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _plain(params: Mapping[str, str]) -> Mapping[str, str]:
    for name, value in params.items():
        if _CONTROL.search(value):
            shown = "".join(c if c.isprintable() else "?" for c in name[:40])
            raise query_params.QueryError(f"{shown} must not contain control characters")
    return params


def _answer(produce: Callable[[], dict[str, Any]]) -> ApiResponse:
    try:
        return ApiResponse(200, produce())
    except (query_params.QueryError, InvalidQueryError, InvalidKeyError) as error:
        return ApiResponse(400, {"error": " ".join(str(error).split())})
    except AzureError as error:
        # The type only: storage messages can carry account names and request URLs.
        log.warning("storage query failed: %s", type(error).__name__)
        return ApiResponse(503, {"error": "storage is unavailable; retry later"})


def _readiness(tenant: str, store: VerdictStore) -> dict[str, Any]:
    from monitors.guardrail.profile_use import not_preprovisioning_beside

    state = store.current_state(tenant)
    verdicts = sorted(
        state.verdicts,
        key=lambda v: (v.record.scope_id, v.record.rule_id, v.record.subject_id),
    )
    return {
        "tenant": tenant,
        "lastRunId": state.last_run_id,
        "capturedAt": format_time(state.captured_at) if state.captured_at else None,
        **readiness_summaries(
            verdicts, state.passing, not_used=not_preprovisioning_beside(store, tenant)
        ),
        "verdicts": [_with_basis(verdict.as_json()) for verdict in verdicts],
        "deployments": deployment_accuracy(tenant, store),
    }


def deployment_accuracy(tenant: str, store: VerdictStore) -> dict[str, Any]:
    """Precision and recall of the predictions over the last 30 days (docs/deployments.md)."""
    from monitors.deployments.accuracy import report
    from monitors.store.deployment_store import DeploymentStore

    return report(DeploymentStore.beside(store), tenant, datetime.now(UTC))


def readiness_summaries(
    verdicts: Sequence[CurrentVerdict],
    passing: Sequence[PassingCount] = (),
    *,
    not_used: frozenset[str] | None,
) -> dict[str, Any]:
    """`summary`, `tenantWide` and `profiles` of a readiness answer (also the telemetry gauges).

    A profile is judged as the reports and the dashboard judge it
    (`monitors.reports.profile_verdict`): one that allows pre-provisioning by its own verdicts
    and the tenant-wide ones; one that does not (`not_used` holds its id) by its own alone; when
    that is not known (`not_used` is None), by the verdict both answers give, unknown where they
    differ. What passes is stored as counts per (rule, scope), not as verdicts
    (docs/storage.md).
    """
    tenant_wide = [v for v in verdicts if not v.record.scope_id]
    wide_passing = [p for p in passing if not p.scope_id]
    by_profile: dict[str, list[CurrentVerdict]] = defaultdict(list)
    names: dict[str, str] = {}
    for verdict in verdicts:
        if verdict.record.scope_id:
            by_profile[verdict.record.scope_id].append(verdict)
            names.setdefault(verdict.record.scope_id, verdict.record.scope_name)
    passing_by_profile: dict[str, list[PassingCount]] = defaultdict(list)
    for count in passing:
        if count.scope_id:
            passing_by_profile[count.scope_id].append(count)
            names.setdefault(count.scope_id, count.scope_name)
    # Nothing recorded tenant-wide blocks nothing (as in the reports and the dashboard).
    wide = readiness_of_verdicts(tenant_wide, True)
    wide_tally = _tally(tenant_wide, wide_passing)
    wide_red_by = profile_verdict.red_by_rules(
        blocking_failures(tenant_wide), profile_verdict.TENANT_WIDE
    )
    profiles = []
    for profile_id in sorted(names):
        own_verdicts = by_profile.get(profile_id, [])
        own_passing = passing_by_profile.get(profile_id, [])
        preprovisioning = None if not_used is None else profile_id not in not_used
        own = readiness_of_verdicts(own_verdicts, bool(own_passing))
        readiness = profile_verdict.profile_readiness(own, wide, preprovisioning)
        red_by = profile_verdict.profile_red_by(
            readiness,
            profile_verdict.red_by_rules(blocking_failures(own_verdicts)),
            wide_red_by,
            preprovisioning,
        )
        # A profile not used for pre-provisioning counts its own verdicts only.
        own_tally = _tally(own_verdicts, own_passing)
        counted = _summary_of(own_tally if preprovisioning is False else own_tally + wide_tally)
        if readiness is Readiness.UNKNOWN and own is not Readiness.UNKNOWN:
            # Not known because it is not known whether the tenant-wide verdicts apply.
            counted["ready"] = None
        else:
            counted["ready"] = readiness is Readiness.GREEN
        profiles.append(
            {
                "profileId": profile_id,
                "displayName": names[profile_id],
                **counted,
                "readiness": readiness.value,
                "preprovisioning": preprovisioning,
                "redBy": list(red_by),
                "note": profile_verdict.verdict_note(
                    readiness, preprovisioning, red_by, len(red_by)
                ),
            }
        )
    return {
        "summary": _summary(verdicts, passing),
        "tenantWide": _summary_of(wide_tally),
        "profiles": profiles,
    }


@dataclass(frozen=True, slots=True)
class _Tally:
    """What a readiness summary counts of some verdicts and pass counts; two tallies add up
    to the tally of both (a profile's own and the tenant-wide ones, counted once)."""

    counts: Counter[str]
    blocking: int
    recorded: bool  # any verdict or pass count at all

    def __add__(self, other: _Tally) -> _Tally:
        return _Tally(
            self.counts + other.counts,
            self.blocking + other.blocking,
            self.recorded or other.recorded,
        )


def _tally(verdicts: Sequence[CurrentVerdict], passing: Sequence[PassingCount] = ()) -> _Tally:
    counts: Counter[str] = Counter()
    blocking = 0
    blocks: dict[tuple[str, str], bool] = {}
    for verdict in verdicts:
        status, severity = verdict.record.status.value, verdict.record.severity
        counts[status] += 1
        key = (status, severity)
        if key not in blocks:
            blocks[key] = status in _BLOCKING_STATUSES and severity_of(severity).at_least(
                READINESS_THRESHOLD
            )
        blocking += blocks[key]
    for count in passing:
        counts[StoredStatus.PASS.value] += count.passing
        counts[StoredStatus.NOT_APPLICABLE.value] += count.not_applicable
    return _Tally(counts, blocking, bool(verdicts or passing))


def _summary(
    verdicts: Sequence[CurrentVerdict], passing: Sequence[PassingCount] = ()
) -> dict[str, Any]:
    return _summary_of(_tally(verdicts, passing))


def _summary_of(tally: _Tally) -> dict[str, Any]:
    counts = tally.counts
    return {
        # Nothing recorded (never evaluated) is unknown, not ready: unknown is never green.
        "ready": (not tally.blocking) if tally.recorded else None,
        "blocking": tally.blocking,
        "counts": {status.value: counts.get(status.value, 0) for status in StoredStatus},
    }
