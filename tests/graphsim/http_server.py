"""The HTTP/1.1 server: keep-alive connections, exact Content-Length, one write per answer.

Graph requests go to the simulator's dispatcher, `/_admin/...` to the admin API. Answers are
written in a single `send` with Nagle's algorithm off, so keep-alive clients do not stall on
delayed ACKs (which would distort benchmarks by tens of milliseconds a request).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

from tests.graphsim.exchange import GRAPH_VERSIONS, GraphRequest

if TYPE_CHECKING:
    from tests.graphsim.simulator import GraphSimulator

ADMIN_PREFIX: Final = "/_admin/"
IDLE_CONNECTION_TIMEOUT_S: Final = 120.0


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: GraphSimulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.connections_accepted = 0
        super().__init__(address, GraphRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
            self.connections_accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close idle keep-alive connections, whose threads would otherwise linger."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


class GraphRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_CONNECTION_TIMEOUT_S
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    def _handle(self) -> None:
        body = self._read_body()
        target = urlsplit(self.path)
        path = unquote(target.path)
        simulator = self.server.simulator
        if path.startswith(ADMIN_PREFIX):
            status, content_type, payload = simulator.answer_admin(
                self.command, path[len(ADMIN_PREFIX) :], target.query, body
            )
            self._write(status, {"Content-Type": content_type} if payload else {}, payload)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request_id = str(uuid.uuid4())
        segments = [s for s in path.split("/") if s]  # Graph tolerates `//` after the version
        version = segments[0] if segments and segments[0] in GRAPH_VERSIONS else None
        request = GraphRequest(
            method=self.command,
            version=version or "",
            path="/".join(segments[1:] if version else segments),
            query=target.query,
            headers=headers,
            body=body,
            request_id=request_id,
            client_request_id=headers.get("client-request-id", request_id),
        )
        response = simulator.answer_graph(request)
        if response is None:
            self.close_connection = True  # the `timeout` fault: hang up without answering
            return
        self._write(response.status, response.headers, response.body_bytes())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (body if status not in (204, 304) else b""))
        self.wfile.flush()
