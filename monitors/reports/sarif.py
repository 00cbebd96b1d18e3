"""SARIF 2.1.0: rule metadata as reporting descriptors, failing and unknown findings as results.

Passing and not-applicable findings are left out (code-scanning tools show every result as an
alert). An unknown finding is a result at its severity's level with `unknown` in its message
and properties: it must not disappear as if it passed. Graph objects are logical locations
(`<type>/<id>`).

GitHub code scanning only accepts a result with a physical location (an artifact URI and a
region with a start line). A tenant has no source files, so the artifact is the snapshot file
that was checked (the line where the subject's id first appears, or line 1), or for a tenant read
live a stable per-tenant pseudo-path `greenscreen/tenants/<tenant id>.json`. The stable
`partialFingerprints` key (rule, subject, profile) is what tracks an alert across runs.

GitHub rejects a run of more than 25,000 results and keeps only the top 5,000 (by severity), and
shows at most 100 locations of a result. Results are ordered gate-failing first (worst severity
first), then the rest; by default each (rule, profile, gate outcome) keeps its first
`RESULTS_PER_RULE` results (`--all`: every one), so a suppressed or below-threshold verdict keeps
its own share and stays visible; whatever the option, a run holds at most `MAX_RESULTS`.
How many were left out, by either bound, is `properties.omittedResults`; the exit code counts
them all. A result lists at most `MAX_RELATED` related objects and `MAX_DEVICES` devices (with
`deviceCount`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitors.reports.model import DEVICE_SAMPLE, ReadinessReport, finding_order
from monitors.reports.safe_text import inert_json
from monitors.suppressions import Suppression
from monitors.what_if import WhatIfChange, WhatIfResult
from rules.findings import Finding, RuleMetadata, Severity, Status, Subject

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_RESULTS = 5000
MAX_RELATED = 100
MAX_DEVICES = DEVICE_SAMPLE
# Results per rule, profile and gate outcome (fails, suppressed, below threshold, manual) unless
# `--all`; a suppressed or below-threshold verdict keeps its own share, so it stays visible.
RESULTS_PER_RULE = 50
_LEVEL = {
    Severity.BLOCKER: "error",
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}


_ID_IN_JSON = re.compile(r'"id"\s*:\s*"([^"\\]+)"')


@dataclass(frozen=True, slots=True)
class SarifArtifact:
    """What the results' physical locations point at."""

    # Relative to the repository root (the working directory in CI), or a file: URI.
    uri: str
    # Object id -> 1-based line of the artifact where it first appears.
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, object_id: str) -> int:
        return self.lines.get(object_id, 1)


def live_tenant_artifact(tenant_id: str) -> SarifArtifact:
    return SarifArtifact(f"greenscreen/tenants/{tenant_id}.json")


def snapshot_artifact(path: Path, object_ids: Iterable[str]) -> SarifArtifact:
    """The snapshot file, with the line of each wanted object id (one pass over the file)."""
    wanted = set(object_ids)
    lines: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as stream:
            for number, line in enumerate(stream, start=1):
                if len(lines) == len(wanted):
                    break
                if '"id"' not in line:
                    continue
                for object_id in _ID_IN_JSON.findall(line):
                    if object_id in wanted:
                        lines.setdefault(object_id, number)
    except OSError:  # a pipe, or gone since it was read: every result on line 1
        lines = {}
    return SarifArtifact(_artifact_uri(path), lines)


def _artifact_uri(path: Path) -> str:
    if not path.is_absolute():
        return path.as_posix().removeprefix("./")
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_uri()


def subject_ids(findings: Iterable[Finding]) -> set[str]:
    return {finding.subject.id for finding in findings}


def render_sarif(
    report: ReadinessReport, artifact: SarifArtifact | None = None, *, everything: bool = False
) -> str:
    return "".join(iter_sarif(report, artifact, everything=everything))


def iter_sarif(
    report: ReadinessReport, artifact: SarifArtifact | None = None, *, everything: bool = False
) -> Iterator[str]:
    """The SARIF document in pieces: the run without its results, then one result at a time
    (a bounded run of a large tenant is still tens of MB; it is never held as one string)."""
    artifact = artifact or live_tenant_artifact(report.tenant_id)
    rule_ids = list(report.rules)
    for finding in report.findings:
        if finding.rule_id not in report.rules and finding.rule_id not in rule_ids:
            rule_ids.append(finding.rule_id)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    reported = sorted(
        (
            finding
            for finding in report.findings
            if finding.status in (Status.FAIL, Status.UNKNOWN, Status.MANUAL)
        ),
        key=lambda finding: (not report.fails_gate(finding), finding_order(finding)),
    )
    kept = _bounded(report, reported, everything)
    # The results are the run's last key: they are written in its place below, one at a time.
    document = _sarif_document(
        rule_ids,
        report.rules,
        f"greenscreen/{report.tenant_id}/",
        {
            "tenantId": report.tenant_id,
            "capturedAt": report.captured_at,
            "verdict": report.readiness.value,
            "failOn": report.fail_on.value,
            "unreadableCollections": list(report.unreadable),
            "expiredSuppressions": [s.as_json() for s in report.expired_suppressions],
            # Results left out: past RESULTS_PER_RULE per rule, profile and gate outcome
            # (not under `--all`), then past MAX_RESULTS. The exit code still counts them.
            "omittedResults": len(reported) - len(kept),
        },
        artifact,
        [],
    )
    text = json.dumps(document, indent=2, ensure_ascii=False)
    before, marker, after = text.rpartition('"results": []')
    if not marker:  # pragma: no cover - the document above always ends with its results
        raise AssertionError("SARIF document without results")
    yield inert_json(before) + '"results": ['
    for position, finding in enumerate(kept):
        result = _result(report, finding, index[finding.rule_id], artifact)
        yield ("\n" if position == 0 else ",\n") + inert_json(
            json.dumps(result, ensure_ascii=False)
        )
    yield ("\n      " if kept else "") + "]" + inert_json(after) + "\n"


def _sarif_document(
    rule_ids: Sequence[str],
    rules: Mapping[str, RuleMetadata],
    automation_id: str,
    properties: dict[str, Any],
    artifact: SarifArtifact,
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    """One SARIF log of one run; `results` is the run's last key."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "greenscreen",
                        "informationUri": "https://learn.microsoft.com/autopilot/pre-provision",
                        "rules": [_descriptor(rule_id, rules.get(rule_id)) for rule_id in rule_ids],
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "automationDetails": {"id": automation_id},
                "properties": properties,
                "artifacts": [{"location": {"uri": artifact.uri}}],
                "results": results,
            }
        ],
    }


def _descriptor(rule_id: str, metadata: RuleMetadata | None) -> dict[str, Any]:
    if metadata is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    descriptor: dict[str, Any] = {
        "id": metadata.id,
        "name": metadata.id.replace("-", ""),
        "shortDescription": {"text": metadata.title},
        "fullDescription": {"text": metadata.rationale},
        "help": {"text": metadata.remediation},
        "defaultConfiguration": {"level": _LEVEL[metadata.severity]},
        "properties": {
            "severity": metadata.severity.value,
            "tags": ["autopilot", "pre-provisioning", metadata.id.split("-", 1)[0].lower()],
            "graphReads": list(metadata.graph_reads),
            "permissions": list(metadata.permissions),
            "inference": metadata.inference,
            "version": metadata.version,
            "kind": metadata.kind.value,
        },
    }
    if metadata.references:
        descriptor["helpUri"] = metadata.references[0]
    return descriptor


def _result(
    report: ReadinessReport, finding: Finding, rule_index: int, artifact: SarifArtifact
) -> dict[str, Any]:
    prefix = {Status.UNKNOWN: "unknown: ", Status.MANUAL: "manual check: "}.get(finding.status, "")
    scope = finding.scope
    text = prefix + finding.message
    if scope is not None:
        text += f" (profile '{scope.profile_name}')"
    manual = finding.status is Status.MANUAL
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        # SARIF 2.1.0 §3.27.9: "review" is a result a person must judge; its level is "none".
        "kind": "review" if manual else "fail",
        "level": "none" if manual else _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [_location(finding.subject, artifact)],
        "partialFingerprints": {"greenscreenVerdict/v1": _fingerprint(finding)},
        "properties": {
            "status": finding.status.value,
            "severity": finding.severity.value,
            "gate": _gate(report, finding),
            "reasons": list(finding.reasons),
            "remediation": finding.remediation,
            # A bounded sample; every device is listed once, in per-device readiness.
            "deviceCount": len(finding.devices),
            "devices": [report.device_label(device) for device in finding.devices[:MAX_DEVICES]],
            "scope": scope.as_json() if scope else None,
        },
    }
    suppression = report.suppression_of(finding)
    if suppression is not None:
        result["suppressions"] = [_suppression(suppression)]
    if finding.related:
        result["relatedLocations"] = [
            {"id": position, **_location(subject, artifact)}
            for position, subject in enumerate(finding.related[:MAX_RELATED], start=1)
        ]
    return result


def _bounded(report: ReadinessReport, reported: list[Finding], everything: bool) -> list[Finding]:
    """`reported` (gate-failing first) bounded per rule, profile and gate outcome, then to
    MAX_RESULTS: what fails the gate is the last to be left out."""
    if everything:
        return reported[:MAX_RESULTS]
    shown: Counter[tuple[str, str, str]] = Counter()
    kept: list[Finding] = []
    for finding in reported:
        key = (
            finding.rule_id,
            finding.scope.profile_id if finding.scope else "",
            _gate(report, finding),
        )
        shown[key] += 1
        if shown[key] <= RESULTS_PER_RULE:
            kept.append(finding)
            if len(kept) == MAX_RESULTS:
                break
    return kept


def _gate(report: ReadinessReport, finding: Finding) -> str:
    if finding.status is Status.MANUAL:
        return "manual"
    if report.suppression_of(finding) is not None:
        return "suppressed"
    return "fails" if report.fails_gate(finding) else "below threshold"


def _location(subject: Subject, artifact: SarifArtifact) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact.uri, "index": 0},
            "region": {"startLine": artifact.line_of(subject.id)},
        },
        "logicalLocations": [_logical_location(subject)],
    }


def _logical_location(subject: Subject) -> dict[str, str]:
    return {
        "name": subject.display_name,
        "fullyQualifiedName": f"{subject.type}/{subject.id}",
        "kind": subject.type,
    }


def _fingerprint(finding: Finding) -> str:
    # Stable across runs for one (rule, subject, profile): lets viewers track a verdict.
    key = "|".join(
        (finding.rule_id, finding.subject.id, finding.scope.profile_id if finding.scope else "")
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


# --- what-if ------------------------------------------------------------------------------------


def render_what_if_sarif(result: WhatIfResult, artifact: SarifArtifact | None = None) -> str:
    """The verdicts the change newly breaks, as results (resolved ones are simply absent)."""
    artifact = artifact or live_tenant_artifact(result.tenant_id)
    rule_ids = list(result.rules)
    for change in result.newly_failing:
        if change.rule_id not in rule_ids:
            rule_ids.append(change.rule_id)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    reported = sorted(result.newly_failing, key=lambda change: not result.fails_gate(change))
    document = _sarif_document(
        rule_ids,
        result.rules,
        f"greenscreen-what-if/{result.tenant_id}/",
        {
            "tenantId": result.tenant_id,
            "capturedAt": result.captured_at,
            "changeFile": result.source,
            "description": result.description,
            "failOn": result.fail_on.value,
            "resolved": len(result.resolved),
            "unchanged": result.unchanged,
            "omittedResults": max(0, len(reported) - MAX_RESULTS),
        },
        artifact,
        [
            _what_if_result(result, change, index[change.rule_id], artifact)
            for change in reported[:MAX_RESULTS]
        ],
    )
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _what_if_result(
    result: WhatIfResult, change: WhatIfChange, rule_index: int, artifact: SarifArtifact
) -> dict[str, Any]:
    finding = change.finding
    scope = finding.scope
    text = f"{change.before_label} -> {change.after_label}: {finding.message}"
    if scope is not None:
        text += f" (profile '{scope.profile_name}')"
    suppression = result.suppression_of(change)
    gate = "fails" if result.fails_gate(change) else "below threshold"
    document: dict[str, Any] = {
        "ruleId": change.rule_id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [_location(finding.subject, artifact)],
        "partialFingerprints": {"greenscreenVerdict/v1": _fingerprint(finding)},
        "properties": {
            "before": change.before_label,
            "after": change.after_label,
            "gate": "suppressed" if suppression is not None else gate,
            "reasons": list(finding.reasons),
            "remediation": finding.remediation,
            "deviceCount": len(finding.devices),
            "devices": list(finding.devices[:MAX_DEVICES]),
            "scope": scope.as_json() if scope else None,
        },
    }
    if suppression is not None:
        document["suppressions"] = [_suppression(suppression)]
    return document


def _suppression(suppression: Suppression) -> dict[str, str]:
    # SARIF 2.1.0 §3.27.23, §3.35: suppressed outside the tool, by a reviewed entry.
    return {
        "kind": "external",
        "status": "accepted",
        "justification": (
            f"{suppression.reason} ({suppression.owner}, until "
            f"{suppression.expires.date().isoformat()})"
        ),
    }
