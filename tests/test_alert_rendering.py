"""The sample alert cards rendered for real: headless Chromium, the npm adaptivecards renderer.

A loopback server serves tests/alert_rendering/render.html, the renderer from node_modules and
the cards of samples/alerts/ (kept current by tests/test_alert_cards.py). The page writes what
it rendered into the DOM; `--dump-dom` gives it back. A screenshot is kept under out/.

On a fresh machine the session fixtures install what is missing: Debian `chromium` (as root,
with apt-get) and the npm `adaptivecards` package. A failed install fails the test: it is
never skipped.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alert_rendering.page import CHROMIUM_FLAGS, RENDERER, serve_cards

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "alerts"
ARTIFACTS = ROOT / "out" / "alert-rendering"
ADAPTIVECARDS_VERSION = "3.0.6"  # the version package.json pins
INSTALL_TIMEOUT_S = 900
BROWSER_TIMEOUT_S = 120


def _run(command: list[str], what: str, timeout: float) -> None:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed commands, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"{what} failed: {error}", pytrace=False)
    if completed.returncode != 0:
        tail = (completed.stdout + completed.stderr)[-2000:]
        pytest.fail(f"{what} failed (exit {completed.returncode}):\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (CI machines start fresh)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(
            "chromium is not installed and this user cannot install it: run "
            "`apt-get update && apt-get install -y chromium` as root",
            pytrace=False,
        )
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail("chromium is not installed and apt-get is not available", pytrace=False)
    os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
    _run([apt, "update"], "apt-get update (for chromium)", INSTALL_TIMEOUT_S)
    _run([apt, "install", "-y", "chromium"], "apt-get install -y chromium", INSTALL_TIMEOUT_S)
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but no `chromium` is on PATH", pytrace=False)
    return found


@pytest.fixture(scope="session")
def renderer() -> Path:
    """The npm adaptivecards renderer (package.json pins it; installed here when missing)."""
    script = RENDERER / "adaptivecards.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install the adaptivecards renderer", pytrace=False)
        _run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                f"adaptivecards@{ADAPTIVECARDS_VERSION}",
            ],
            f"npm install adaptivecards@{ADAPTIVECARDS_VERSION}",
            INSTALL_TIMEOUT_S,
        )
    if not script.exists():
        pytest.fail(f"{script} is missing after npm install", pytrace=False)
    return RENDERER


def sample_cards() -> dict[str, Any]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))["attachments"][0]["content"]
        for path in sorted(SAMPLES.glob("*.json"))
    }


@pytest.fixture(scope="session")
def page_url(renderer: Path) -> Iterator[str]:
    """A loopback server for the page, the renderer and the cards; nothing else is served."""
    with serve_cards(sample_cards(), renderer) as url:
        yield url


def browse(chromium: str, profile: Path, *arguments: str) -> str:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    completed = subprocess.run(  # noqa: S603 - a fixed local browser, fixed flags
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.fixture(scope="session")
def rendered(chromium: str, page_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = browse(chromium, profile, "--dump-dom", page_url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "cards.dom.html").write_text(dom, encoding="utf-8")
    browse(
        chromium,
        profile,
        f"--screenshot={ARTIFACTS / 'cards.png'}",
        "--window-size=620,9000",
        "--hide-scrollbars",
        page_url,
    )
    return dom


def pre(dom: str, element_id: str) -> str:
    found = re.search(rf'<pre id="{element_id}">(.*?)</pre>', dom, re.S)
    assert found is not None, f"#{element_id} is not in the rendered page"
    return html.unescape(found.group(1))


def card_section(dom: str, name: str) -> str:
    text = pre(dom, "rendered-text")
    found = re.search(rf"=== {re.escape(name)} ===\n(.*?)(?=\n=== |\Z)", text, re.S)
    assert found is not None, f"card {name} was not rendered"
    return found.group(1)


def test_every_sample_card_renders_without_errors(rendered: str) -> None:
    assert 'data-rendered="done"' in rendered
    assert pre(rendered, "render-errors") == ""
    for name in sample_cards():
        assert card_section(rendered, name).strip()


def test_rendered_failure_card_shows_what_the_admin_acts_on(rendered: str) -> None:
    text = card_section(rendered, "new-failure")
    for expected in (
        "ERROR · New failure",
        "Win32 apps required in the technician phase install as System",
        "APP-001",
        "contoso.onmicrosoft.com",
        "Contoso - Entra join (pre-provisioning)",
        "37 registered Autopilot devices",
        "Contoso VPN client",
        "jane.admin@contoso.onmicrosoft.com",
        "How to fix",
        "[button] Open Contoso VPN client in Intune",
        "[button] Show history",
    ):
        assert expected in text
    # The actor is bold, as Teams shows it, not wrapped in literal Markdown.
    assert "**" not in text
    assert re.search(r"<strong[^>]*>jane\.admin@contoso\.onmicrosoft\.com</strong>", rendered)


def test_rendered_blind_and_resolved_and_digest_cards_say_what_they_are(rendered: str) -> None:
    assert "UNKNOWN · Monitor blind (permission)" in card_section(rendered, "unknown-permission")
    assert "Monitor blind (throttling)" in card_section(rendered, "unknown-throttling")
    assert "Monitor blind (outage)" in card_section(rendered, "unknown-outage")
    assert "RESOLVED · was failing" in card_section(rendered, "resolved")
    assert "Cause unknown" in card_section(rendered, "new-failure-cause-unknown")
    digest = card_section(rendered, "digest")
    assert "40 readiness changes" in digest
    assert "[button] Show tenant history" in digest


def test_screenshot_of_the_rendered_cards_is_kept(rendered: str) -> None:
    screenshot = ARTIFACTS / "cards.png"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tenant_text_renders_as_text_never_as_a_link_or_markup(
    chromium: str, renderer: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A display name written as a Markdown link, bold text or HTML, rendered for real."""
    from monitors.alerts.cards import alert_card
    from tests.test_hostile_text import CONTEXT, LINK, _hostile_alert

    name = f"{LINK} **urgent** <b>x</b>"
    cards = {"hostile": alert_card(_hostile_alert(name), CONTEXT)}
    with serve_cards(cards, renderer) as url:
        dom = browse(chromium, tmp_path_factory.mktemp("hostile-profile"), "--dump-dom", url)
    assert pre(dom, "render-errors") == ""
    text = card_section(dom, "hostile")
    assert "[Click here to fix](https://evil.example/steal)" in text  # shown, as written
    assert "**urgent**" in text
    assert 'href="https://evil' not in dom
    assert "<b>x</b>" not in dom
