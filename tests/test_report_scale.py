"""Reports stay bounded as the tenant grows: the synthetic generator at two device counts.

Everything but the number of registered devices is the same in both tenants, so what a report
adds per device is what grows. Terminal and markdown summaries must not grow at all beyond
their bounds; JSON lists what is not green (a per-device failure is one finding) but never a
finding's whole device list; HTML carries each device once, as a small row of data.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from monitors.reports.html_report import render_html
from monitors.reports.json_findings import render_report_json
from monitors.reports.junit import render_junit
from monitors.reports.markdown import render_markdown
from monitors.reports.model import DEVICE_SAMPLE, build_report
from monitors.reports.sarif import render_sarif
from monitors.reports.terminal import render_terminal
from rules.device_readiness import device_readiness
from rules.engine import collector_paused, evaluate_snapshot
from rules.findings import Severity
from rules.snapshot_model import TenantSnapshot
from samples.synthetic import generate_tenant

SMALL, LARGE = 400, 2400
ONE_SCREEN = 60  # lines


@dataclass(frozen=True)
class Rendered:
    devices: int
    terminal: str
    json: str
    html: str
    markdown: str
    junit: str
    sarif: str


def render_at(devices: int) -> Rendered:
    document = generate_tenant(
        apps=60,
        device_configurations=30,
        settings_policies=10,
        scripts=6,
        enrollment_configurations=5,
        profiles=6,
        groups=120,
        devices=devices,
        compliance_policies=4,
        filters=4,
    )
    with collector_paused():
        snapshot = TenantSnapshot.from_document(document)
        evaluation = evaluate_snapshot(snapshot)
        readiness = device_readiness(snapshot, evaluation.findings, Severity.ERROR)
        report = build_report(evaluation, snapshot, Severity.ERROR, readiness)
        return Rendered(
            devices=devices,
            terminal=render_terminal(report),
            json=render_report_json(report),
            html=render_html(report),
            markdown=render_markdown(report, show_devices=True),
            junit=render_junit(report),
            sarif=render_sarif(report),
        )


@pytest.fixture(scope="module")
def small() -> Rendered:
    return render_at(SMALL)


@pytest.fixture(scope="module")
def large() -> Rendered:
    return render_at(LARGE)


def test_the_terminal_summary_is_one_screen_at_any_size(small: Rendered, large: Rendered) -> None:
    for rendered in (small, large):
        assert rendered.terminal.count("\n") <= ONE_SCREEN, rendered.terminal


def test_markdown_does_not_grow_with_devices(small: Rendered, large: Rendered) -> None:
    # Six times the devices: the first findings of each rule and the first 100 devices only.
    assert len(large.markdown) <= 2 * len(small.markdown)
    assert large.markdown.count("\n| 🟥") + large.markdown.count("\n| 🟩") <= 100


def test_json_names_a_bounded_sample_of_devices(small: Rendered, large: Rendered) -> None:
    for rendered in (small, large):
        document = json.loads(rendered.json)
        findings = document["findings"]
        assert all(len(f["devices"]) <= DEVICE_SAMPLE for f in findings)
        assert {f["status"] for f in findings} <= {"fail", "unknown", "manual"}
        # What each listed finding costs does not grow with the tenant.
        assert len(rendered.json) / len(findings) < 1_000
    assert max(f["deviceCount"] for f in json.loads(large.json)["findings"]) > DEVICE_SAMPLE


def test_html_grows_by_a_small_row_per_device(small: Rendered, large: Rendered) -> None:
    per_device = (len(large.html.encode()) - len(small.html.encode())) / (LARGE - SMALL)
    assert per_device < 250


def test_junit_and_sarif_do_not_grow_with_devices(small: Rendered, large: Rendered) -> None:
    assert len(large.junit) <= 1.25 * len(small.junit)
    assert len(large.sarif) <= 1.25 * len(small.sarif)
    root = ET.fromstring(large.junit)  # noqa: S314 - our own output
    assert int(root.get("failures", "0")) > 0
    run = json.loads(large.sarif)["runs"][0]
    assert run["properties"]["omittedResults"] > 0
