"""SARIF 2.1.0: rule metadata as reporting descriptors, failing and unknown findings as results.

Passing and not-applicable findings are left out (code-scanning tools show every result as an
alert). An unknown finding is a result at its severity's level with `unknown` in its message
and properties: it must not disappear as if it passed. Graph objects are logical locations
(`<type>/<id>`), since a tenant has no files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from monitors.reports.model import DEVICE_SAMPLE, ReadinessReport
from rules.findings import Finding, RuleMetadata, Severity, Status, Subject

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.BLOCKER: "error",
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}


# Results per rule and profile; the rest are counted in the run's properties (`--all`: every
# one). Code-scanning services cap a run's results (GitHub: 25,000 per run).
RESULTS_PER_RULE = 50


def render_sarif(report: ReadinessReport, *, everything: bool = False) -> str:
    reported = [
        finding
        for finding in report.findings
        if finding.status in (Status.FAIL, Status.UNKNOWN, Status.MANUAL)
    ]
    shown: Counter[tuple[str, str]] = Counter()
    kept = []
    for finding in reported:
        key = (finding.rule_id, finding.scope.profile_id if finding.scope else "")
        shown[key] += 1
        if everything or shown[key] <= RESULTS_PER_RULE:
            kept.append(finding)
    rule_ids = list(report.rules)
    for finding in report.findings:
        if finding.rule_id not in report.rules and finding.rule_id not in rule_ids:
            rule_ids.append(finding.rule_id)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "greenscreen",
                        "informationUri": "https://learn.microsoft.com/autopilot/pre-provision",
                        "rules": [
                            _descriptor(rule_id, report.rules.get(rule_id)) for rule_id in rule_ids
                        ],
                    }
                },
                "invocations": [{"executionSuccessful": True}],
                "automationDetails": {"id": f"greenscreen/{report.tenant_id}/"},
                "properties": {
                    "tenantId": report.tenant_id,
                    "capturedAt": report.captured_at,
                    "verdict": report.readiness.value,
                    "failOn": report.fail_on.value,
                    "unreadableCollections": list(report.unreadable),
                    # Failing and unknown verdicts left out past RESULTS_PER_RULE per rule and
                    # profile (the exit code still counts them; `--all` lists every one).
                    "resultsOmitted": len(reported) - len(kept),
                },
                "results": [_result(report, finding, index[finding.rule_id]) for finding in kept],
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


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


def _result(report: ReadinessReport, finding: Finding, rule_index: int) -> dict[str, Any]:
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
        "locations": [{"logicalLocations": [_logical_location(finding.subject)]}],
        "partialFingerprints": {"greenscreenVerdict/v1": _fingerprint(finding)},
        "properties": {
            "status": finding.status.value,
            "severity": finding.severity.value,
            "reasons": list(finding.reasons),
            "remediation": finding.remediation,
            # A bounded sample; every device is listed once, in per-device readiness.
            "deviceCount": len(finding.devices),
            "devices": [report.device_label(device) for device in finding.devices[:DEVICE_SAMPLE]],
            "scope": scope.as_json() if scope else None,
        },
    }
    if finding.related:
        result["relatedLocations"] = [
            {"id": position, "logicalLocations": [_logical_location(subject)]}
            for position, subject in enumerate(finding.related, start=1)
        ]
    return result


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
