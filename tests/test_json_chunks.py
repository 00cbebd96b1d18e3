"""The JSON documents are written in batches of findings, and made inert a batch at a time.

Neither may change a byte: `inert_json` works character by character (its ASCII fast path
included), and the batch size only moves the chunk boundaries.
"""

from __future__ import annotations

import json
import re

import pytest

from monitors.reports import json_findings
from monitors.reports.json_findings import iter_devices_json, iter_report_json
from monitors.reports.safe_text import inert_json
from rules.catalog import all_rules
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant
from tests.test_reports import report_for

# What `inert_json` must escape (C0 controls are escaped by `json.dumps` already).
UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)


@pytest.mark.parametrize(
    "value",
    [
        "plain ASCII, nothing to do",
        "DEL \x7f is ASCII and unsafe",
        "C1 \x9b and bidi \u202e and a line separator \u2028",
        "accents été, no unsafe character",
        "",
    ],
)
def test_inert_json_escapes_exactly_the_unsafe_characters(value: str) -> None:
    text = json.dumps({"name": value}, ensure_ascii=False)

    inert = inert_json(text)

    assert not UNSAFE_IN_JSON.search(inert)
    assert json.loads(inert) == {"name": value}
    if not UNSAFE_IN_JSON.search(text):
        assert inert == text


def test_batches_change_no_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """The document with batches of 7 findings is the document in one batch (and the device
    list the same), also around a DEL in tenant text."""
    document = generate_tenant(
        apps=12,
        device_configurations=10,
        settings_policies=5,
        scripts=5,
        enrollment_configurations=3,
        profiles=3,
        groups=20,
        devices=60,
        seed=3,
    )
    document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"][0][
        "displayName"
    ] += " \x7f\u202e"
    snapshot = TenantSnapshot.from_document(document)
    report = report_for(snapshot, list(all_rules()))
    devices = report.devices or ()

    def rendered() -> tuple[list[str], str, list[str], str]:
        findings = list(iter_report_json(report, everything=True))
        device_chunks = list(iter_devices_json(report, devices))
        return findings, "".join(findings), device_chunks, "".join(device_chunks)

    monkeypatch.setattr(json_findings, "_BATCH", 10**9)
    whole, whole_text, devices_whole, devices_text = rendered()
    monkeypatch.setattr(json_findings, "_BATCH", 7)
    batched, batched_text, devices_batched, devices_batched_text = rendered()

    listed = len(json.loads(whole_text)["findings"])
    assert listed > 7 * 3
    assert len(batched) > len(whole)  # the small batches did cut the document
    assert batched_text == whole_text
    assert devices_batched_text == devices_text
    assert len(devices_batched) > len(devices_whole)
    assert "\\u007f" in whole_text
    assert not UNSAFE_IN_JSON.search(whole_text)
