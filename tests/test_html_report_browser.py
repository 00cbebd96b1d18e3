"""The HTML report in a real browser: headless Chromium opens the 20,000-device tenant's report,
its script draws the paged device tables, and a screenshot is kept under out/html-report/.

Chromium is installed on demand by the session fixture of tests/test_alert_rendering.py (a
failed install fails the test; it is never skipped).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitors.reports.html_report import iter_html, render_html
from monitors.reports.model import build_report
from rules.device_readiness import device_readiness
from rules.engine import collector_paused, evaluate_snapshot
from rules.findings import Severity
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_DEVICES
from samples.synthetic import generate_tenant
from tests.tenant_builder import DEVICE_A_ID, healthy_tenant
from tests.test_alert_rendering import browse, chromium  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "out" / "html-report"
TEN_MB = 10_000_000


def html_report_of(document: dict[str, object], path: Path) -> Path:
    with collector_paused():
        snapshot = TenantSnapshot.from_document(document)
        evaluation = evaluate_snapshot(snapshot)
        devices = device_readiness(snapshot, evaluation.findings, Severity.ERROR)
        report = build_report(evaluation, snapshot, Severity.ERROR, devices)
        with path.open("w", encoding="utf-8") as stream:
            for chunk in iter_html(report):
                stream.write(chunk)
    return path


@pytest.fixture(scope="module")
def large_report() -> Path:
    """The generator's default tenant: 20,000 devices, 2,000 apps, 5,000 groups."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return html_report_of(generate_tenant(), ARTIFACTS / "readiness-20k.html")


def test_the_20k_tenant_report_is_small_and_opens_drawn_in_chromium(
    chromium: str,  # noqa: F811 - fixture
    large_report: Path,
    tmp_path: Path,
) -> None:
    assert large_report.stat().st_size <= TEN_MB
    profile = tmp_path / "chromium-profile"

    dom = browse(chromium, profile, "--dump-dom", large_report.as_uri())

    assert re.search(r'data-drawn-ms="\d+"', dom), "the page script did not finish"
    # Every device table is drawn by the script: a first page of 50 rows, a pager.
    pages = re.findall(r"<span>1-(\d+) of (\d+)</span>", dom)
    assert pages
    assert any(shown == "50" for shown, _ in pages)
    assert sum(int(total) for _, total in pages) == 20_000
    screenshot = ARTIFACTS / "readiness-20k.png"
    browse(
        chromium,
        profile,
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        large_report.as_uri(),
    )
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_a_hostile_device_name_is_drawn_as_text(
    chromium: str,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    evil = "</script><img src=x onerror=alert(1)><b>bold</b>"
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_A_ID, displayName=evil)
    page = html_report_of(tenant.document(), tmp_path / "hostile.html")
    assert evil not in page.read_text(encoding="utf-8")

    dom = browse(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())

    assert (
        "<td>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;bold&lt;/b&gt;</td>" in dom
    )
    assert "<img" not in dom
    assert "<b>bold" not in dom


def test_render_html_is_the_streamed_page() -> None:
    tenant = healthy_tenant()
    snapshot = tenant.snapshot()
    evaluation = evaluate_snapshot(snapshot)
    report = build_report(evaluation, snapshot, Severity.ERROR, None)
    assert render_html(report) == "".join(iter_html(report))
