"""`python -m bench.attribution [--rounds N]`: per change kind, from the change to the card.

Four kinds of breaking change on the sample tenant, each made and undone by a named admin:
group (the pre-provisioning profile's dynamic group paused; it arrives by change notification
through the real webhook, and the directory poll that follows brings the audit record),
assignment (an ESP-blocking app's required assignment moved to a user group; Intune audit poll),
enrollment (the pre-provisioning ESP stops showing progress; Intune audit poll) and CSP (an
OMA-URI that disables the Microsoft Account Sign-In Assistant added to a custom profile; Intune
audit poll). Everything runs through the function app's handlers against the Graph simulator,
Azurite and a local Teams webhook; the bench plays the host and runs each poll at once (the poll
interval is excluded) with the settle time at 0 and an attribution hold of `HOLD_S`.

Per kind: detection latency (mutation to the card's arrival at the webhook), Graph requests of
`process_change` per change, table requests (each one table transaction) of processing and
delivery per change, cards posted per change, and the share of cards that name the admin.
The section between the attribution-bench markers of docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import azure.functions as func
from azure.core.pipeline.transport import RequestsTransport
from azure.functions.timer import TimerRequest

from bench.harness import REPO
from bench.results import write_section
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from rules import tenant_collections as tc
from tests.azurite import Azurite, running_azurite
from tests.graphsim import GraphSimulator
from tests.test_alert_sender import Receiver
from tests.test_function_support import (
    drain,
    guardrail_env,
    reset_function_app,
    sample_snapshot,
    user_function,
)
from tests.test_guardrail_e2e import _FunctionsAdapter

RESULTS = REPO / "docs" / "benchmarks.md"
BEGIN = "<!-- attribution-bench:begin -->"
END = "<!-- attribution-bench:end -->"
HEADING = "## Attribution and detection per change kind\n\n"
ACTOR = "bench.admin@contoso.onmicrosoft.com"
HOLD_S = 2  # GREENSCREEN_ATTRIBUTION_HOLD_SECONDS here (production default 600)
FORMAT = "greenscreen.tenant-changes/1"
PREPROVISIONING_ESP = "b9309bc0-3f43-529f-a270-6a05c991960a"
CUSTOM_PROFILE = "036614ea-4e9a-510a-876b-7bb4b1b23d0a"  # "Windows - Time zone"
SIGN_IN_ASSISTANT = (
    "./Device/Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountSignInAssistant"
)


@dataclass
class Kind:
    name: str
    poll: str  # the timer that notices it
    breaks: list[dict[str, Any]]
    undoes: list[dict[str, Any]]
    notified: bool = False  # arrives by change notification first


@dataclass
class Sample:
    latency_s: float
    graph_requests: int
    table_requests: int
    cards: int
    attributed: int


@dataclass
class Counters:
    table_port: int
    table: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def see(self, url: str) -> None:
        if f":{self.table_port}/" in url:
            with self.lock:
                self.table += 1


def kinds(snapshot: dict[str, Any]) -> list[Kind]:
    from bench.changes import scenarios

    by_kind = {s.kind: s for s in scenarios(snapshot)}
    app, group = by_kind["app moved to a user group"], by_kind["dynamic group paused"]
    custom = next(
        c for c in snapshot["collections"][tc.DEVICE_CONFIGURATIONS] if c["id"] == CUSTOM_PROFILE
    )
    settings = list(custom.get("omaSettings") or ())
    disabled = {
        "@odata.type": "#microsoft.graph.omaSettingInteger",
        "displayName": "Sign-in assistant",
        "omaUri": SIGN_IN_ASSISTANT,
        "value": 0,
    }

    def set_(collection: str, object_id: str, path: str, value: Any) -> list[dict[str, Any]]:
        return [
            {"op": "set", "collection": collection, "id": object_id, "path": path, "value": value}
        ]

    return [
        Kind("group", group.poll, group.breaks["changes"], group.undoes["changes"], True),
        Kind("assignment", app.poll, app.breaks["changes"], app.undoes["changes"]),
        Kind(
            "enrollment",
            "poll_intune_audit",
            set_(
                tc.ENROLLMENT_CONFIGURATIONS, PREPROVISIONING_ESP, "showInstallationProgress", False
            ),
            set_(
                tc.ENROLLMENT_CONFIGURATIONS, PREPROVISIONING_ESP, "showInstallationProgress", True
            ),
        ),
        Kind(
            "CSP",
            "poll_intune_audit",
            set_(tc.DEVICE_CONFIGURATIONS, CUSTOM_PROFILE, "omaSettings", [*settings, disabled]),
            set_(tc.DEVICE_CONFIGURATIONS, CUSTOM_PROFILE, "omaSettings", settings),
        ),
    ]


@contextmanager
def webhook_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FunctionsAdapter)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/notifications"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def timer(name: str) -> None:
    user_function(name)(TimerRequest(past_due=False))


def process_all(azurite: Azurite) -> None:
    for text in drain(azurite, CHANGES_QUEUE):
        user_function("process_change")(func.QueueMessage(id="m", body=text.encode()))


def send_all(texts: list[str]) -> None:
    for text in texts:
        user_function("send_alert")(func.QueueMessage(id="a", body=text.encode()))


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def one_change(
    azurite: Azurite,
    sim: GraphSimulator,
    teams: Receiver,
    counters: Counters,
    kind: Kind,
    changes: list[dict[str, Any]],
) -> Sample:
    cards_before = len(teams.bodies)
    graph_before = len([r for r in sim.request_log if r.path != "$batch"])
    started = time.perf_counter()
    with counters.lock:
        counters.table = 0
    sim.apply_changes({"format": FORMAT, "actor": {"userPrincipalName": ACTOR}, "changes": changes})
    graph_polls = 0
    if kind.notified:
        sim.wait_for_deliveries(timeout=5)
        process_all(azurite)  # recorded at once, its alert held for the audit record
        send_all(drain(azurite, ALERTS_QUEUE))
    polled_from = len([r for r in sim.request_log if r.path != "$batch"])
    timer(kind.poll)
    graph_polls = len([r for r in sim.request_log if r.path != "$batch"]) - polled_from
    process_all(azurite)
    send_all(drain(azurite, ALERTS_QUEUE))
    wait_for(lambda: len(teams.bodies) > cards_before, 5.0)
    latency = time.perf_counter() - started
    if kind.notified:  # the held copy shows up after the hold: it posts nothing
        held: list[str] = []
        wait_for(lambda: bool(held.extend(drain(azurite, ALERTS_QUEUE)) or held), HOLD_S + 3.0)
        send_all(held)
    graph = len([r for r in sim.request_log if r.path != "$batch"]) - graph_before - graph_polls
    cards = teams.bodies[cards_before:]
    return Sample(
        latency_s=latency,
        graph_requests=graph,
        table_requests=counters.table,
        cards=len(cards),
        attributed=sum(1 for card in cards if ACTOR in json.dumps(card)),
    )


def run(rounds: int) -> dict[str, list[Sample]]:
    results: dict[str, list[Sample]] = {}
    snapshot = sample_snapshot()
    saved = dict(os.environ)
    original_send = RequestsTransport.send
    teams = Receiver()
    try:
        with (
            running_azurite() as azurite,
            GraphSimulator(snapshot, seed=11) as sim,
            webhook_server() as hook,
        ):
            counters = Counters(azurite.table_port)

            def send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
                counters.see(str(request.url))
                return original_send(self, request, **kwargs)

            RequestsTransport.send = send  # type: ignore[method-assign]
            tenant = str(snapshot["tenantId"])
            env = guardrail_env(azurite, [{"tenantId": tenant}], sim.url)
            env.update(
                {
                    "GREENSCREEN_ATTRIBUTION_HOLD_SECONDS": str(HOLD_S),
                    "GREENSCREEN_NOTIFICATION_URL": hook,
                    "GREENSCREEN_HISTORY_BASE_URL": "https://greenscreen.example.org",
                    "TEAMS_BENCH_WEBHOOK": teams.url.reveal(),
                    "GREENSCREEN_ALERT_ROUTES": json.dumps(
                        [
                            {
                                "name": "ops",
                                "webhookSetting": "TEAMS_BENCH_WEBHOOK",
                                "minSeverity": "info",
                            }
                        ]
                    ),
                }
            )
            os.environ.update(env)
            reset_function_app()
            for name in (CHANGES_QUEUE, ALERTS_QUEUE):
                drain(azurite, name)
            user_function("evaluate_now")(
                func.HttpRequest(
                    method="POST", url="/api/evaluate", params={"tenant": tenant}, body=b""
                )
            )
            process_all(azurite)
            drain(azurite, ALERTS_QUEUE)
            timer("maintain_subscriptions")
            timer("poll_intune_audit")
            timer("poll_directory_changes")
            process_all(azurite)
            drain(azurite, ALERTS_QUEUE)
            for _ in range(rounds):
                for kind in kinds(snapshot):
                    for changes in (kind.breaks, kind.undoes):
                        sample = one_change(azurite, sim, teams, counters, kind, changes)
                        results.setdefault(kind.name, []).append(sample)
    finally:
        RequestsTransport.send = original_send  # type: ignore[method-assign]
        teams.close()
        os.environ.clear()
        os.environ.update(saved)
        reset_function_app()
    return results


def render(results: dict[str, list[Sample]], rounds: int) -> str:
    lines = [
        BEGIN,
        f"`python -m bench.attribution --rounds {rounds}`: each kind made and undone {rounds} "
        "times by a named admin on the sample tenant, through the function app's handlers "
        "(Graph simulator, Azurite, local Teams webhook). Latency: from the change in the "
        "simulator to the card at the webhook, the poll run at once (its interval excluded), "
        f"settle time 0, attribution hold {HOLD_S} s (ended early by the audit record). Graph "
        "requests: `process_change` only (polls excluded). Table requests: every request to "
        "table storage (one transaction each) for the change: poll, processing, delivery "
        "(ledger, settle check, causes).",
        "",
        "| change kind | changes | cards | cards naming the admin | latency median (max) | "
        "Graph requests / change | table requests / change |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, samples in results.items():
        cards = sum(s.cards for s in samples)
        named = sum(s.attributed for s in samples)
        share = 100 * named / max(cards, 1)
        lines.append(
            f"| {name} | {len(samples)} | {cards} | {named} ({share:.0f} %) | "
            f"{statistics.median(s.latency_s for s in samples):.2f} s "
            f"({max(s.latency_s for s in samples):.2f} s) | "
            f"{statistics.median(s.graph_requests for s in samples):g} | "
            f"{statistics.median(s.table_requests for s in samples):g} |"
        )
    lines += [
        "",
        "In production the settle time (120 s) is added to every alert, the poll interval "
        "(5 min) to changes found by polling, and a notified change waits for the directory "
        "poll that brings its audit record (at most the 600 s hold). A share below 100 % means "
        "a card went out without its actor.",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attribution", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args(argv)
    results = run(args.rounds)
    block = render(results, args.rounds)
    print(block)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, block, HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
