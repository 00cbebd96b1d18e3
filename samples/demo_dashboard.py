"""The last act of `make demo`: the readiness dashboard over what the guardrail act stored.

The guardrail act runs on an Azurite that keeps its data in `out/demo-storage/`. This act
serves the dashboard on loopback for a moment, reads the sample tenant's page and timeline from
it as a browser would, prints what they show and where, and stops: the demo never blocks.
`greenscreen serve --azurite out/demo-storage` brings the same pages back up for as long as
you like, at the URL printed last.
"""

from __future__ import annotations

import re
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Final

from monitors.dashboard.server import DEFAULT_PORT, serving
from monitors.dashboard.views import Dashboard

if TYPE_CHECKING:
    from tests.azurite import PersistentAzurite

REPO: Final = Path(__file__).resolve().parents[1]
DEMO_STORAGE: Final = REPO / "out" / "demo-storage"


@contextmanager
def demo_storage() -> Iterator[PersistentAzurite]:
    """A fresh on-disk Azurite in out/demo-storage (a new deployment starts with no history)."""
    from tests.azurite import persistent_azurite

    shutil.rmtree(DEMO_STORAGE, ignore_errors=True)
    with persistent_azurite(DEMO_STORAGE) as azurite:
        yield azurite


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _transition_line(row: str) -> str:
    """One timeline row as a line: when, rule, subject, from -> to, and who caused it."""
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    subject = re.search(r"<a[^>]*>(.*?)</a>", cells[2], re.S)
    change = _text(cells[3].split("<br>", 1)[0])
    actors = [_text(actor) for actor in re.findall(r'class="actor"[^>]*>(.*?)</a>', cells[4], re.S)]
    cause = f"caused by {', '.join(actors)}" if actors else "no recorded cause"
    name = _text(subject.group(1)) if subject else ""
    return f"{_text(cells[0])}  {_text(cells[1])}  {name}: {change}, {cause}"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - our loopback server
        return str(answer.read().decode("utf-8"))


def show_dashboard(table_connection: str, tenant_id: str) -> int:
    """Serve the dashboard briefly, check what it shows, and print how to keep it up."""
    from azure.data.tables import TableServiceClient

    board = Dashboard.over(TableServiceClient.from_connection_string(table_connection))
    with serving(board) as url:
        tenant_page = _get(f"{url}tenant?tenant={tenant_id}")
        timeline = _get(f"{url}timeline?tenant={tenant_id}")
    readiness = re.search(r'<div id="readiness">(.*?)</div>', tenant_page, re.S)
    blocking = re.search(r'<div id="blocking">(.*?)</div>', tenant_page, re.S)
    rows = re.findall(r'<tr class="transition".*?</tr>', timeline, re.S)
    if readiness is None or blocking is None or not rows:
        print("The dashboard did not show the sample tenant's transition.", flush=True)
        return 1
    print(
        f"\nDashboard: tenant {tenant_id} is {_text(readiness.group(1))} with "
        f"{_text(blocking.group(1))} blocking findings; its timeline shows "
        f"{len(rows)} transition{'s' if len(rows) != 1 else ''}:",
        flush=True,
    )
    for row in rows[:3]:
        print(f"  {_transition_line(row)}", flush=True)
    storage = DEMO_STORAGE.relative_to(REPO)
    print(
        "\nThe readiness dashboard of the sample tenant, with its transition and who caused it:\n"
        f"  $ greenscreen serve --azurite {storage}      (keeps it up until Ctrl-C)\n"
        f"  http://127.0.0.1:{DEFAULT_PORT}/tenant?tenant={tenant_id}",
        flush=True,
    )
    return 0
