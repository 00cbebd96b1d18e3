"""`greenscreen check` on a snapshot file loads only what it uses.

Starting the command is part of its wall time: the Graph SDK, the storage SDK, telemetry and
the other commands' machinery cost about as much to import as reading a 20,000-device snapshot,
and `check --snapshot` needs none of them. Each test runs the command in a fresh interpreter and
lists the modules it ended up with.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"

# A name stands for the module and everything under it.
NOT_FOR_CHECK = (
    # Graph: the SDK, its HTTP stack, our client, reader and credentials
    "msgraph_core",
    "kiota_abstractions",
    "kiota_http",
    "httpx",
    "asyncio",
    "monitors.graph.client",
    "monitors.graph.credentials",
    "monitors.graph.reader",
    # storage and telemetry
    "azure",
    "opentelemetry",
    "monitors.store.verdict_store",
    "monitors.store.settings",
    "monitors.telemetry",
    # the other commands' machinery
    "monitors.guardrail",
    "monitors.http_api",
    "monitors.alerts.delivery",
    "monitors.alerts.wiring",
    "monitors.dashboard.server",
    "monitors.dashboard.pages",
    "monitors.dashboard.views",
    "jinja2",
    # the schema validator that names the problems of a refused file (a valid one needs none)
    "jsonschema",
)

PROBE = """
import json, sys
from monitors import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(*argv: str) -> tuple[int, list[str]]:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    result = json.loads(completed.stdout.splitlines()[-1])
    return result["code"], result["modules"]


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_every_excluded_module_exists() -> None:
    """A misspelt name would make the tests below pass whatever `check` imports."""
    missing = [name for name in NOT_FOR_CHECK if importlib.util.find_spec(name) is None]

    assert missing == []


@pytest.mark.parametrize("report_format", ["terminal", "json"])
def test_check_on_a_snapshot_imports_no_sdk_and_no_other_command(
    report_format: str, tmp_path: Path
) -> None:
    out = tmp_path / f"report.{report_format}"

    code, modules = modules_after(
        "check", "--snapshot", str(SAMPLE), "--format", report_format, "--out", str(out)
    )

    assert code == 1  # the sample fails the check: the whole command ran
    assert out.stat().st_size > 0
    assert loaded(modules, NOT_FOR_CHECK) == []


def test_the_probe_sees_what_a_command_imports() -> None:
    """The same probe on `history` (which needs the storage SDK) finds it: the listing above
    is what the command loaded, not an empty answer."""
    code, modules = modules_after(
        "history", "--tenant", "contoso.com", "--deployments", "--rule", "X"
    )

    assert code == 2  # refused before any storage is reached
    assert "azure" in modules
    assert "monitors.store.verdict_store" in modules
