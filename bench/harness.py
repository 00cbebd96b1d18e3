"""Shared pieces of `bench.guardrail` and `bench.scale`: a deployment on loopback (Graph simulator,
Azurite, the real function handlers), storage transaction counting, and the markdown writers.

The function handlers are the ones the Functions host calls (`function_app.app`, indexed once);
the bench plays the host: it calls a timer handler, takes messages off the `changes` queue and
hands them to `process_change` one by one, and deletes each after a successful call.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import RequestsTransport
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE
from tests.azurite import Azurite, running_azurite
from tests.graphsim import GraphSimulator
from tests.test_function_support import guardrail_env, reset_function_app

REPO = Path(__file__).resolve().parents[1]
CHANGE_FORMAT = "greenscreen.tenant-changes/1"
ACTOR = {"userPrincipalName": "bench.admin@contoso.onmicrosoft.com"}


# -- storage transactions ------------------------------------------------------------------------


@dataclass
class StorageCounter:
    """Every REST request the Azure Storage SDKs send, by service and operation.

    Counted under the SDK's pipeline (retries included), which is what Table and Queue storage
    bill: one transaction per REST request; a table transaction of up to 100 entities is one.
    """

    table_port: int
    queue_port: int
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # "app" counts as the app's own requests; "host" as the Functions host's queue trigger
    # (receive and delete); None counts nothing (the bench's own bookkeeping).
    role: str | None = "app"

    def record(self, method: str, url: str) -> None:
        if self.role is None:
            return
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        if parts.port == self.table_port:
            key = ("table", _table_operation(method, path))
        elif parts.port == self.queue_port:
            service = "queue" if self.role == "app" else "queue (host trigger)"
            key = (service, _queue_operation(method, path, parts.query))
        else:
            return
        with self.lock:
            self.counts[key] += 1

    @contextlib.contextmanager
    def acting_as(self, role: str | None) -> Iterator[None]:
        previous, self.role = self.role, role
        try:
            yield
        finally:
            self.role = previous

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter(self.counts)

    def total(self, service: str, counts: Mapping[tuple[str, str], int] | None = None) -> int:
        source = self.snapshot() if counts is None else counts
        return sum(n for (s, _), n in source.items() if s == service)


def _table_operation(method: str, path: str) -> str:
    if path.endswith("$batch"):
        return "transaction (batch)"
    if method == "GET":
        return "read/query"
    if method == "POST" and path.endswith("/Tables"):
        return "create table"
    return "write"


def _queue_operation(method: str, path: str, query: str) -> str:
    if path.endswith("/messages") and method == "POST":
        return "put message"
    if path.endswith("/messages") and method == "GET":
        return "peek" if "peekonly" in query else "get messages"
    if "/messages/" in path and method == "DELETE":
        return "delete message"
    return "other"


@contextlib.contextmanager
def counting_storage(azurite: Azurite) -> Iterator[StorageCounter]:
    counter = StorageCounter(azurite.table_port, azurite.queue_port)
    original = RequestsTransport.send

    def send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
        counter.record(str(request.method), str(request.url))
        return original(self, request, **kwargs)

    RequestsTransport.send = send  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        RequestsTransport.send = original  # type: ignore[method-assign]


def delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]]) -> Counter[Any]:
    result: Counter[Any] = Counter()
    for key in set(after) | set(before):
        if after[key] - before[key]:
            result[key] = after[key] - before[key]
    return result


# -- the deployment ------------------------------------------------------------------------------

_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def handler(name: str) -> Callable[..., Any]:
    """The real user function: `app.get_functions()` indexes once per app (azure-functions 1.26)."""
    if not _FUNCTIONS:
        from function_app import app

        _FUNCTIONS.update(
            {fn.get_function_name(): fn.get_user_function() for fn in app.get_functions()}
        )
    return _FUNCTIONS[name]


@dataclass
class Deployment:
    azurite: Azurite
    simulator: GraphSimulator
    storage: StorageCounter
    tenant_id: str
    queues: dict[str, QueueClient] = field(default_factory=dict)

    def queue(self, name: str) -> QueueClient:
        if name not in self.queues:
            client = QueueClient.from_connection_string(
                self.azurite.queue_connection,
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            with self.storage.acting_as(None), contextlib.suppress(ResourceExistsError):
                client.create_queue()
            self.queues[name] = client
        return self.queues[name]

    def run_timer(self, name: str) -> None:
        handler(name)(TimerRequest(past_due=False))

    def deliver_changes(self, limit: int = 10_000) -> list[str]:
        """Play the host's queue trigger: receive, hand to `process_change`, delete."""
        client = self.queue(CHANGES_QUEUE)
        handled: list[str] = []
        while len(handled) < limit:
            with self.storage.acting_as("host"):
                batch = list(client.receive_messages(messages_per_page=16, max_messages=16))
            if not batch:
                return handled
            for message in batch:
                handler("process_change")(
                    func.QueueMessage(
                        id=message.id,
                        body=str(message.content).encode(),
                        pop_receipt=message.pop_receipt,
                    )
                )
                with self.storage.acting_as("host"):
                    client.delete_message(message)
                handled.append(str(message.content))
        return handled

    def drain(self, name: str) -> list[str]:
        client = self.queue(name)
        texts: list[str] = []
        with self.storage.acting_as(None):
            while True:
                batch = list(client.receive_messages(messages_per_page=32, max_messages=32))
                if not batch:
                    return texts
                for message in batch:
                    texts.append(str(message.content))
                    client.delete_message(message)

    def queue_length(self, name: str) -> int:
        with self.storage.acting_as(None):
            return int(self.queue(name).get_queue_properties().approximate_message_count)

    def graph_requests(self) -> int:
        """As Graph's throttling counts them: batch envelopes not, the requests inside yes."""
        return sum(1 for r in self.simulator.request_log if r.path != "$batch")


@contextlib.contextmanager
def deployment(
    snapshot: Mapping[str, Any], *, extra_env: Mapping[str, str] | None = None
) -> Iterator[Deployment]:
    """Azurite and the simulator on loopback, the function app's settings aimed at both."""
    tenant_id = str(snapshot["tenantId"]).lower()
    with running_azurite() as azurite, GraphSimulator(snapshot, seed=1) as simulator:
        env = guardrail_env(azurite, [{"tenantId": tenant_id}], simulator.url)
        env.update(extra_env or {})
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        reset_function_app()
        try:
            with counting_storage(azurite) as storage:
                deployed = Deployment(azurite, simulator, storage, tenant_id)
                deployed.queue(CHANGES_QUEUE)
                deployed.queue(ALERTS_QUEUE)
                yield deployed
        finally:
            reset_function_app()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def change_document(*changes: Mapping[str, Any]) -> dict[str, Any]:
    return {"format": CHANGE_FORMAT, "actor": dict(ACTOR), "changes": [dict(c) for c in changes]}


# -- numbers and markdown ------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> list[str]:
    """A markdown table; `align` has one letter per column (l or r), default l then r."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.started


# -- the webhook on loopback (what the Functions host does with Graph's POSTs) -------------------


@dataclass
class WebhookCalls:
    executions: int = 0
    seconds: float = 0.0
    billable_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _FunctionsAdapter(BaseHTTPRequestHandler):
    calls: WebhookCalls

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = func.HttpRequest(method="POST", url=self.path, params=params, body=body)
        started = time.perf_counter()
        response = handler("receive_graph_notification")(request)
        elapsed = time.perf_counter() - started
        with self.calls.lock:
            self.calls.executions += 1
            self.calls.seconds += elapsed
            self.calls.billable_seconds += billable(elapsed)
        payload = response.get_body()
        self.send_response(response.status_code)
        self.send_header("Content-Type", response.mimetype or "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[str, WebhookCalls]]:
    """`receive_graph_notification` behind a loopback HTTP server, as Graph would reach it."""
    calls = WebhookCalls()
    adapter = type("Adapter", (_FunctionsAdapter,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), adapter)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/notifications", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MIN_BILLED_S = 1.0  # assumed minimum billable execution time on Flex Consumption (docs/scale.md)


def billable(seconds: float) -> float:
    """Execution time as billed under the assumption above: at least 1 s, in 0.1 s steps."""
    return max(MIN_BILLED_S, math.ceil(seconds * 10) / 10)
