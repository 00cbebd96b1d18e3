"""JSON renderings: the findings contract, per-device readiness, and what-if results.

`--format json` is the findings contract `greenscreen.findings/2` (docs/check.md, JSON Schema
in monitors/schemas/findings.schema.json, `greenscreen schema --findings`): one document whose
failing, unknown and manual findings are listed one per (rule, scope, subject), while passing
and not-applicable verdicts are counted per (rule, scope). A finding carries its device count and
a bounded sample of device ids; related objects and profiles are referenced by id and described
once. The document is produced piece by piece (`iter_report_json`), so a large tenant is written
as it is produced, never held as one string. A suppressed finding carries the entry that
silences it (`suppressed`); every chunk passes through `inert_json`. Per-device readiness goes
to its own file (`--devices-out`), produced the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any, Final

from monitors.reports.model import DEVICE_SAMPLE, QUIET, ReadinessReport, quiet_counts
from monitors.reports.safe_text import inert_json
from monitors.what_if import WhatIfResult
from rules.device_readiness import DeviceReadiness
from rules.findings import Finding, Status, Subject

FINDINGS_FORMAT = "greenscreen.findings/2"
# `json.dumps` with options of its own builds an encoder per call: one for every finding.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# Findings (or devices) per chunk: one `inert_json` pass and one write for each batch of them,
# not for each (the text is the same, `inert_json` works character by character).
_BATCH: Final = 1_000


def _compact(document: Any) -> str:
    """Compact JSON, every unsafe character of tenant text spelled as a `\\uXXXX` escape."""
    return inert_json(_ENCODER.encode(document))


def _batched(lines: Iterator[str]) -> Iterator[str]:
    """Raw JSON pieces joined `_BATCH` at a time, each batch made inert once."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == _BATCH:
            yield inert_json("".join(batch))
            batch.clear()
    if batch:
        yield inert_json("".join(batch))


def object_ref(subject: Subject) -> str:
    """How a finding names a related object: `<type>/<id>`, described once under `objects`."""
    return f"{subject.type}/{subject.id}"


def finding_json(
    finding: Finding, texts: dict[str, int], sample: int = DEVICE_SAMPLE
) -> dict[str, Any]:
    """One finding of the v2 contract (its rule's title and remediation are under `rules`).

    Reasons are indices into the document's `texts`: thousands of findings share a reason (the
    group-tag groups a profile expects, the profiles targeting a device), written once there.
    """
    document: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "status": finding.status.value,
        "severity": finding.severity.value,
        "subject": finding.subject.as_json(),
        "scope": finding.scope.profile_id if finding.scope else None,
        "message": finding.message,
        "reasons": [texts.setdefault(reason, len(texts)) for reason in finding.reasons],
        "deviceCount": len(finding.devices),
        "devices": list(finding.devices[:sample]),
        "related": [object_ref(subject) for subject in finding.related],
    }
    if finding.rule_error:
        document["ruleError"] = True
    return document


def report_finding_json(
    report: ReadinessReport, finding: Finding, texts: dict[str, int]
) -> dict[str, Any]:
    """`finding_json`, plus the entry (`suppressed`) that silences a suppressed finding."""
    document = finding_json(finding, texts)
    suppression = report.suppression_of(finding)
    if suppression is not None:
        document["suppressed"] = suppression.as_json()
    return document


def iter_report_json(report: ReadinessReport, *, everything: bool = False) -> Iterator[str]:
    """The findings document in pieces; `everything` lists passing findings one by one too."""
    counts = report.counts()
    head: dict[str, Any] = {
        "format": FINDINGS_FORMAT,
        "tenantId": report.tenant_id,
        "capturedAt": report.captured_at,
        "failOn": report.fail_on.value,
        "verdict": report.readiness.value,
        "counts": {status.value: counts[status] for status in Status},
        "unreadable": list(report.unreadable),
        "complete": everything,
        "deviceSample": DEVICE_SAMPLE,
        "rules": [
            {
                "id": metadata.id,
                "title": metadata.title,
                "kind": metadata.kind.value,
                "severity": metadata.severity.value,
                "version": metadata.version,
                "remediation": metadata.remediation,
                "references": list(metadata.references),
            }
            for metadata in report.rules.values()
        ],
        "profiles": [
            {
                "id": section.profile_id,
                "displayName": section.title,
                "verdict": section.readiness.value,
                "groups": [{"id": g.id, "displayName": g.display_name} for g in section.groups],
                "targetedDevices": section.targeted_devices,
            }
            for section in report.profiles
        ],
        "tenantWideVerdict": report.tenant_wide.readiness.value,
        "quiet": [
            {"ruleId": rule_id, "scope": scope, "status": status.value, "count": count}
            for rule_id, scope, status, count in quiet_counts(report.findings)
        ],
    }
    yield _compact(head)[:-1] + ',\n"findings":['
    objects: dict[str, dict[str, str]] = {}
    texts: dict[str, int] = {}

    def findings() -> Iterator[str]:
        encode = _ENCODER.encode
        separator = "\n"
        for section in report.sections:
            for finding in section.findings:
                if finding.status in QUIET and not everything:
                    continue
                for subject in finding.related:
                    objects.setdefault(object_ref(subject), subject.as_json())
                yield separator + encode(report_finding_json(report, finding, texts))
                separator = ",\n"

    yield from _batched(findings())
    yield '\n],\n"objects":' + _compact(objects) + ',\n"texts":' + _compact(list(texts)) + "}\n"


def render_report_json(report: ReadinessReport, *, everything: bool = False) -> str:
    return "".join(iter_report_json(report, everything=everything))


def iter_devices_json(report: ReadinessReport, devices: Sequence[DeviceReadiness]) -> Iterator[str]:
    """Per-device readiness, one device per line: every device listed once."""
    head = {
        "tenantId": report.tenant_id,
        "capturedAt": report.captured_at,
        "failOn": report.fail_on.value,
    }
    yield _compact(head)[:-1] + ',"devices":['
    encode = _ENCODER.encode
    yield from _batched(
        ("\n" if index == 0 else ",\n") + encode(device.as_json())
        for index, device in enumerate(devices)
    )
    yield "\n]}\n"


def render_devices_json(report: ReadinessReport, devices: Sequence[DeviceReadiness]) -> str:
    return "".join(iter_devices_json(report, devices))


def render_what_if_json(result: WhatIfResult) -> str:
    return _dump(result.as_json())


def _dump(document: Any) -> str:
    return inert_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of the findings document (`greenscreen schema --findings`)."""
    text = resources.files("monitors").joinpath("schemas/findings.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
