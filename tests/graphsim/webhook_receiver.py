"""A notification endpoint for tests: answers Graph's validation handshake and records POSTs.

`handshake` chooses how it answers the handshake, so tests can make subscription creation fail
the ways a real endpoint does (wrong token, wrong status, wrong content type, too slow).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import parse_qs, urlsplit

HandshakeAnswer = Literal["echo", "wrong_token", "server_error", "json_content_type", "slow"]
HANDSHAKE_ANSWERS: Final = ("echo", "wrong_token", "server_error", "json_content_type", "slow")


@dataclass(frozen=True)
class ReceivedPost:
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(
        self,
        *,
        handshake: HandshakeAnswer = "echo",
        delay_s: float = 0.0,
        notification_status: int = 202,
    ) -> None:
        if handshake not in HANDSHAKE_ANSWERS:
            raise ValueError(f"unknown handshake answer {handshake!r}")
        self.handshake = handshake
        self.delay_s = delay_s
        self.notification_status = notification_status
        self._lock = threading.Lock()
        self._received: list[ReceivedPost] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the receiver is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def received(self) -> list[ReceivedPost]:
        with self._lock:
            return list(self._received)

    def validation_requests(self) -> list[ReceivedPost]:
        return [p for p in self.received if "validationToken" in p.query]

    def notifications(self) -> list[ReceivedPost]:
        return [p for p in self.received if "validationToken" not in p.query]

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = urlsplit(self.path)
                post = ReceivedPost(
                    path=target.path,
                    query=parse_qs(target.query),
                    content_type=self.headers.get("Content-Type", ""),
                    body=body,
                )
                with receiver._lock:
                    receiver._received.append(post)
                if "validationToken" in post.query:
                    self._answer_handshake(post.query["validationToken"][0])
                else:
                    self._send(receiver.notification_status, "text/plain", b"")

            def _answer_handshake(self, token: str) -> None:
                answer = receiver.handshake
                if answer == "slow":
                    time.sleep(receiver.delay_s)
                if answer == "wrong_token":
                    self._send(200, "text/plain", b"not-the-token")
                elif answer == "server_error":
                    self._send(500, "text/plain", token.encode())
                elif answer == "json_content_type":
                    self._send(200, "application/json", json.dumps(token).encode())
                else:
                    self._send(200, "text/plain; charset=utf-8", token.encode())

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    # The caller gave up waiting (the slow-receiver tests): nothing to answer.
                    return

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
