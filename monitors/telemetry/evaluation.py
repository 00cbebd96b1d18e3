"""Telemetry of evaluations: a span per evaluation and per rule, findings, transitions, readiness.

The rules engine stays pure: it takes a `RuleObserver` and this module supplies one.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from monitors.telemetry import names
from monitors.telemetry.instruments import instruments, span
from rules.context import OperatorSettings
from rules.engine import Evaluation, Rule, evaluate_snapshot
from rules.findings import Finding, RuleMetadata, Status
from rules.snapshot_model import TenantSnapshot

if TYPE_CHECKING:
    from monitors.store.records import Transition
    from monitors.store.verdict_store import VerdictStore

log = logging.getLogger(__name__)


class RuleSpans:
    """A `rules.engine.RuleObserver`: one span per rule, with its findings counted by status."""

    def observe_rule(
        self, metadata: RuleMetadata, run: Callable[[], list[Finding]]
    ) -> list[Finding]:
        attributes = {names.RULE_ID: metadata.id, names.RULE_SEVERITY: metadata.severity.value}
        with span(names.SPAN_RULE, attributes) as current:
            findings = run()
            current.set_attributes(_status_counts(findings))
            current.set_attribute(names.RULE_ERROR, any(f.rule_error for f in findings))
            return findings


def evaluate_observed(
    snapshot: TenantSnapshot,
    *,
    trigger: str,
    rules: Sequence[Rule] | None = None,
    settings: OperatorSettings | None = None,
) -> Evaluation:
    """`rules.engine.evaluate_snapshot` inside an evaluation span, its findings counted."""
    attributes = {names.TENANT_ID: snapshot.tenant_id, names.TRIGGER: trigger}
    with span(names.SPAN_EVALUATION, attributes) as current:
        evaluation = evaluate_snapshot(snapshot, rules, settings, observer=RuleSpans())
        current.set_attributes(
            {
                names.RULE_COUNT: len(evaluation.rules),
                names.UNREADABLE_COUNT: len(evaluation.unreadable),
                **_status_counts(evaluation.findings),
            }
        )
        record_findings(evaluation, trigger)
    return evaluation


def _status_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counted = Counter(finding.status.value for finding in findings)
    return {names.FINDINGS_PREFIX + s.value: counted.get(s.value, 0) for s in Status}


def record_findings(evaluation: Evaluation, trigger: str) -> None:
    counted = Counter((f.status.value, f.severity.value) for f in evaluation.findings)
    findings = instruments().findings
    for (status, severity), count in sorted(counted.items()):
        findings.add(
            count,
            {
                names.TENANT_ID: evaluation.tenant_id,
                names.TRIGGER: trigger,
                names.FINDING_STATUS: status,
                names.FINDING_SEVERITY: severity,
            },
        )


def record_transitions(transitions: Iterable[Transition]) -> None:
    counter = instruments().transitions
    for transition in transitions:
        record = transition.record
        counter.add(
            1,
            {
                names.TENANT_ID: transition.tenant_id,
                names.RULE_ID: record.rule_id,
                names.FINDING_SEVERITY: record.severity,
                names.TRANSITION_FROM: transition.from_status.value
                if transition.from_status
                else "",
                names.TRANSITION_TO: transition.to_status.value,
            },
        )


def record_readiness(tenant_id: str, store: VerdictStore) -> None:
    """Readiness of the tenant and of each profile, as `GET /api/readiness` answers it now.

    The state is the instance's kept state of the tenant when no other writer or purge came
    since (`VerdictStore.current_state(kept=True)`: the head read, not the whole state); the
    verdicts are put in the order `GET /api/readiness` puts them, so a profile's name is the
    one it shows whichever way the state was got.
    """
    from azure.core.exceptions import AzureError

    from monitors.guardrail.profile_use import not_preprovisioning_beside
    from monitors.http_api import readiness_summaries

    try:
        state = store.current_state(tenant_id, kept=True)
    except AzureError as error:
        # The type only: storage messages can carry account names and request URLs.
        log.warning("readiness not refreshed, storage query failed: %s", type(error).__name__)
        return  # the gauges keep their last values
    verdicts = sorted(
        state.verdicts,
        key=lambda v: (v.record.scope_id, v.record.rule_id, v.record.subject_id),
    )
    summaries = readiness_summaries(
        verdicts, state.passing, not_used=not_preprovisioning_beside(store, tenant_id)
    )
    board = instruments()
    rows: list[tuple[str, str, dict[str, Any]]] = [("", "", summaries["summary"])]
    rows += [(p["profileId"], p["displayName"], p) for p in summaries["profiles"]]
    for profile_id, profile_name, summary in rows:
        if summary.get("ready") is None:
            continue  # never evaluated: unknown, which a 0/1 gauge cannot say
        attributes = {
            names.TENANT_ID: tenant_id,
            names.PROFILE_ID: profile_id,
            names.PROFILE_NAME: profile_name,
        }
        board.readiness.set(1.0 if summary["ready"] else 0.0, attributes)
        board.readiness_blocking.set(float(summary.get("blocking") or 0), attributes)
