"""Readiness of recorded verdicts: one rule for every place that judges from the store (the
dashboard's scan, `GET /api/readiness`, the readiness gauges), the reports' rule
(`monitors.reports.profile_verdict`) applied to stored records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from monitors.reports import profile_verdict
from monitors.store.records import CurrentVerdict, StoredStatus
from rules.device_readiness import Readiness, readiness_of
from rules.findings import Severity, Status

# Failing or unknown at or above this severity makes a profile not ready.
THRESHOLD: Final = Severity.ERROR


def status_of(stored: StoredStatus) -> Status:
    """A recorded status as a verdict's status (resolved: it passes now)."""
    return Status(stored.value) if stored is not StoredStatus.RESOLVED else Status.PASS


def severity_of(text: str) -> Severity:
    """A recorded severity; an unreadable one never makes anything greener."""
    try:
        return Severity(text)
    except ValueError:
        return Severity.BLOCKER


def readiness_of_verdicts(verdicts: Iterable[CurrentVerdict], passed: bool = False) -> Readiness:
    """Red, unknown or green at the threshold; nothing recorded is unknown, never green.

    `passed`: subjects were evaluated and pass (the store counts passes, it does not list them).
    """
    pairs = [(status_of(v.record.status), severity_of(v.record.severity)) for v in verdicts]
    if not pairs:
        return Readiness.GREEN if passed else Readiness.UNKNOWN
    return readiness_of(pairs, THRESHOLD)


def blocking_failures(verdicts: Iterable[CurrentVerdict]) -> dict[str, Severity]:
    """Rule id -> the worst severity of its failing verdicts at or above the threshold."""
    return profile_verdict.worst_by_rule(
        (v.record.rule_id, severity)
        for v in verdicts
        if v.record.status is StoredStatus.FAIL
        for severity in (severity_of(v.record.severity),)
        if severity.at_least(THRESHOLD)
    )


def judge_profile(
    own: Readiness,
    tenant_wide: Readiness,
    own_failing: Mapping[str, Severity],
    tenant_failing: Mapping[str, Severity],
    preprovisioning: bool | None,
) -> tuple[Readiness, tuple[str, ...]]:
    """A profile's verdict and the rules a RED one names, by the reports' rule."""
    readiness = profile_verdict.profile_readiness(own, tenant_wide, preprovisioning)
    red_by = profile_verdict.profile_red_by(
        readiness,
        profile_verdict.red_by_rules(own_failing),
        profile_verdict.red_by_rules(tenant_failing, profile_verdict.TENANT_WIDE),
        preprovisioning,
    )
    return readiness, red_by
