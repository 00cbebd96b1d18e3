"""JSON renderings: the findings contract, per-device readiness, and what-if results.

`--format json` is exactly the findings contract of docs/check.md, a JSON list of findings,
so pipelines can rely on its shape; device readiness goes to a separate file (`--devices-out`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from monitors.reports.model import ReadinessReport
from monitors.reports.safe_text import inert_json
from monitors.what_if import WhatIfResult
from rules.device_readiness import DeviceReadiness
from rules.findings import Finding


def render_findings_json(findings: Sequence[Finding]) -> str:
    return _dump([finding.as_json() for finding in findings])


def render_report_json(report: ReadinessReport) -> str:
    """The findings list; a suppressed finding carries the entry (`suppressed`) that silences it."""
    documents = []
    for finding in report.findings:
        document = finding.as_json()
        suppression = report.suppression_of(finding)
        if suppression is not None:
            document["suppressed"] = suppression.as_json()
        documents.append(document)
    return _dump(documents)


def render_devices_json(report: ReadinessReport, devices: Sequence[DeviceReadiness]) -> str:
    return _dump(
        {
            "tenantId": report.tenant_id,
            "capturedAt": report.captured_at,
            "failOn": report.fail_on.value,
            "devices": [device.as_json() for device in devices],
        }
    )


def render_what_if_json(result: WhatIfResult) -> str:
    return _dump(result.as_json())


def _dump(document: Any) -> str:
    return inert_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
