"""`greenscreen serve`: the dashboard on loopback, against Azurite or any storage account.

Only loopback addresses are accepted for binding, and a request whose `Host` is not a loopback
name is refused (421), so a web page elsewhere cannot reach the dashboard through DNS
rebinding. No request header says who the user is: the local user sees every tenant.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from monitors.dashboard.access import LOCAL_PRINCIPAL
from monitors.dashboard.command import DEFAULT_PORT as DEFAULT_PORT
from monitors.dashboard.pages import PageResponse, respond
from monitors.dashboard.views import Dashboard

log = logging.getLogger(__name__)

LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
MAX_QUERY: Final = 4_096


class NotLoopbackError(ValueError):
    """A bind address that is not loopback (the dashboard has no sign-in locally)."""


def check_loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise NotLoopbackError(f"--host must be a loopback address, not {host[:60]!r}") from None
    if not address.is_loopback:
        raise NotLoopbackError(
            f"--host must be a loopback address: {host} would serve the dashboard, "
            "which has no sign-in locally, to the network"
        )
    return host


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "greenscreen"
        sys_version = ""

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
            if host not in LOOPBACK_NAMES:
                self._send(PageResponse(421, "not a loopback host\n", "text/plain"))
                return
            split = urlsplit(self.path)
            if len(split.query) > MAX_QUERY:
                self._send(PageResponse(414, "query too long\n", "text/plain"))
                return
            if split.path == "/favicon.ico":
                self._send(PageResponse(404, "", "text/plain"))
                return
            params = dict(parse_qsl(split.query, keep_blank_values=True))
            self._send(respond(dashboard, LOCAL_PRINCIPAL, split.path, params, base=""))

        def _send(self, response: PageResponse) -> None:
            body = response.body.encode("utf-8")
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("dashboard: %s", format % args)

    return Handler


def make_server(
    dashboard: Dashboard, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((check_loopback(host), port), _handler(dashboard))
    server.daemon_threads = True
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    name = host.decode() if isinstance(host, bytes) else str(host)
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}:{port}/"


@contextmanager
def serving(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve in a background thread for the block; yields the base URL."""
    server = make_server(dashboard, host, port)
    thread = threading.Thread(target=server.serve_forever, name="dashboard", daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def stop_on_sigterm() -> None:
    """SIGTERM ends `greenscreen serve` like Ctrl-C, so a local Azurite is stopped too."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def serve_forever(
    dashboard: Dashboard,
    host: str,
    port: int,
    announce: Callable[[str], None],
) -> None:
    server = make_server(dashboard, host, port)
    announce(server_url(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
