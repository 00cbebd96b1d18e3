"""What-if analysis: would a proposed change break pre-provisioning readiness?

The change document (docs/changes.md) is applied to a copy of the snapshot document, both
tenants are evaluated with the same rules and settings, and verdicts are compared keyed by
(rule id, subject id, scope profile id). When a rule says several things about one key, its
worst verdict stands for the key.

- newly failing: not green after, and green (or absent) before; or unknown before and failing
  after; or failing at a higher severity than before.
- resolved: not green before, green (pass, not applicable) or absent after.
- unchanged: everything else, including failing before and unknown after (still not green).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitors.reports.model import finding_order, suppressed_verdicts
from monitors.snapshot_file import first_problem
from monitors.suppressions import Suppression
from monitors.tenant_changes import AppliedChange, apply_changes
from rules.context import OperatorSettings
from rules.engine import Evaluation, Rule, evaluate_snapshot
from rules.findings import Finding, RuleMetadata, Severity, Status
from rules.snapshot_model import SnapshotModelError, TenantSnapshot

NOT_GREEN = (Status.FAIL, Status.UNKNOWN)
_STATUS_BADNESS = {
    Status.FAIL: 3,
    Status.UNKNOWN: 2,
    Status.MANUAL: 1,
    Status.PASS: 1,
    Status.NOT_APPLICABLE: 0,
}

VerdictKey = tuple[str, str, str | None]


def verdict_key(finding: Finding) -> VerdictKey:
    return (
        finding.rule_id,
        finding.subject.id,
        finding.scope.profile_id if finding.scope else None,
    )


@dataclass(frozen=True, slots=True)
class WhatIfChange:
    """One verdict that the change turns (before -> after); None: the rule said nothing."""

    key: VerdictKey
    before: Finding | None
    after: Finding | None

    @property
    def rule_id(self) -> str:
        return self.key[0]

    @property
    def finding(self) -> Finding:
        """The side worth showing: the verdict after the change, else the one before."""
        if self.after is not None:
            return self.after
        if self.before is not None:
            return self.before
        raise ValueError(f"verdict change {self.key} has neither side")

    @property
    def profile_name(self) -> str | None:
        scope = self.finding.scope
        return scope.profile_name if scope else None

    @property
    def before_label(self) -> str:
        return _label(self.before)

    @property
    def after_label(self) -> str:
        return _label(self.after)

    def breaches(self, fail_on: Severity) -> bool:
        after = self.after
        return after is not None and after.status in NOT_GREEN and after.severity.at_least(fail_on)

    def as_json(self) -> dict[str, Any]:
        shown = self.finding
        return {
            "ruleId": self.rule_id,
            "subject": shown.subject.as_json(),
            "scope": shown.scope.as_json() if shown.scope else None,
            "before": _side_json(self.before),
            "after": _side_json(self.after),
            "message": shown.message,
            "reasons": list(shown.reasons),
            "devices": list(shown.devices),
            "remediation": shown.remediation,
        }


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    tenant_id: str
    captured_at: str
    source: str
    description: str | None
    applied: tuple[AppliedChange, ...]
    fail_on: Severity
    newly_failing: tuple[WhatIfChange, ...]
    resolved: tuple[WhatIfChange, ...]
    unchanged: int
    # The catalog entries evaluated (titles, references and remediation for the reports).
    rules: Mapping[str, RuleMetadata] = field(default_factory=dict)
    # (rule id, subject id) -> the suppression (`--suppressions`) silencing a newly failing verdict.
    suppressed: Mapping[tuple[str, str], Suppression] = field(default_factory=dict)

    def suppression_of(self, change: WhatIfChange) -> Suppression | None:
        return self.suppressed.get((change.key[0], change.key[1]))

    def fails_gate(self, change: WhatIfChange) -> bool:
        """Newly failing or unknown at or above the threshold, and not suppressed."""
        return change.breaches(self.fail_on) and self.suppression_of(change) is None

    def breaking(self) -> tuple[WhatIfChange, ...]:
        """What makes the check exit 1."""
        return tuple(c for c in self.newly_failing if self.fails_gate(c))

    def as_json(self) -> dict[str, Any]:
        newly = []
        for change in self.newly_failing:
            document = change.as_json()
            suppression = self.suppression_of(change)
            if suppression is not None:
                document["suppressed"] = suppression.as_json()
            newly.append(document)
        return {
            "newlyFailing": newly,
            "resolved": [change.as_json() for change in self.resolved],
            "unchanged": self.unchanged,
        }


class WhatIfError(Exception):
    """The change cannot be evaluated; the message is one line for the operator."""


def evaluate_what_if(
    snapshot_document: Mapping[str, Any],
    change_document: Mapping[str, Any],
    *,
    source: str,
    fail_on: Severity,
    settings: OperatorSettings | None = None,
    rules: Sequence[Rule] | None = None,
    before: Evaluation | None = None,
    suppressions: Sequence[Suppression] = (),
    now: datetime | None = None,
) -> WhatIfResult:
    """Apply the change to a copy of the snapshot, evaluate both, and compare the verdicts.

    Raises `ChangeError` for a change that does not fit the snapshot and `WhatIfError` when the
    changed tenant is not a valid snapshot.
    """
    result = apply_changes(snapshot_document, change_document, source=source)
    problem = first_problem(result.snapshot)
    if problem is not None:
        raise WhatIfError(f"{source}: the changed tenant is not a valid snapshot: {problem}")
    try:
        changed = TenantSnapshot.from_document(result.snapshot)
        if before is None:
            original = TenantSnapshot.from_document(snapshot_document)
            before = evaluate_snapshot(original, rules, settings)
    except SnapshotModelError as error:
        raise WhatIfError(f"{source}: {error}") from None
    after = evaluate_snapshot(changed, rules, settings)
    newly_failing, resolved, unchanged = compare_evaluations(before.findings, after.findings)
    description = change_document.get("description")
    return WhatIfResult(
        tenant_id=after.tenant_id,
        captured_at=after.captured_at,
        source=source,
        description=description if isinstance(description, str) else None,
        applied=result.applied,
        fail_on=fail_on,
        newly_failing=newly_failing,
        resolved=resolved,
        unchanged=unchanged,
        rules={metadata.id: metadata for metadata in after.rules},
        suppressed=suppressed_verdicts(
            (change.finding for change in newly_failing),
            suppressions,
            after.tenant_id,
            now or datetime.now(UTC),
        ),
    )


def compare_evaluations(
    before: Iterable[Finding], after: Iterable[Finding]
) -> tuple[tuple[WhatIfChange, ...], tuple[WhatIfChange, ...], int]:
    """(newly failing, resolved, number of unchanged verdicts), keyed by `verdict_key`."""
    old = _worst_by_key(before)
    new = _worst_by_key(after)
    newly_failing: list[WhatIfChange] = []
    resolved: list[WhatIfChange] = []
    unchanged = 0
    for key in old.keys() | new.keys():
        was, now = old.get(key), new.get(key)
        if _got_worse(was, now):
            newly_failing.append(WhatIfChange(key, was, now))
        elif _is_not_green(was) and not _is_not_green(now):
            resolved.append(WhatIfChange(key, was, now))
        else:
            unchanged += 1
    newly_failing.sort(key=lambda change: finding_order(change.finding))
    resolved.sort(key=lambda change: finding_order(change.finding))
    return tuple(newly_failing), tuple(resolved), unchanged


def _got_worse(was: Finding | None, now: Finding | None) -> bool:
    if now is None or now.status not in NOT_GREEN:
        return False
    if was is None or was.status not in NOT_GREEN:
        return True
    if was.status is Status.UNKNOWN and now.status is Status.FAIL:
        return True
    return now.status is was.status and now.severity.rank > was.severity.rank


def _is_not_green(finding: Finding | None) -> bool:
    return finding is not None and finding.status in NOT_GREEN


def _worst_by_key(findings: Iterable[Finding]) -> dict[VerdictKey, Finding]:
    worst: dict[VerdictKey, Finding] = {}
    for finding in findings:
        key = verdict_key(finding)
        current = worst.get(key)
        if current is None or _badness(finding) > _badness(current):
            worst[key] = finding
    return worst


def _badness(finding: Finding) -> tuple[int, int]:
    return (_STATUS_BADNESS[finding.status], finding.severity.rank)


def _label(finding: Finding | None) -> str:
    if finding is None:
        return "absent"
    if finding.status in NOT_GREEN:
        return f"{finding.status.value} ({finding.severity.value})"
    return finding.status.value


def _side_json(finding: Finding | None) -> dict[str, str] | None:
    if finding is None:
        return None
    return {"status": finding.status.value, "severity": finding.severity.value}
