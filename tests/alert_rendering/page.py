"""Serving alert cards to a browser on loopback, rendered by the npm adaptivecards renderer.

Used by the rendering test and by `make demo`. Only the page, its glue script, the cards and
the renderer are served; the page loads nothing from anywhere else.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent
RENDERER = PAGE.parents[1] / "node_modules" / "adaptivecards" / "dist"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def serve_cards(cards: Mapping[str, Any], renderer: Path = RENDERER) -> Iterator[str]:
    """Serve a page rendering `cards` (name -> Adaptive Card); yield its URL."""
    cards_js = ("window.GREENSCREEN_CARDS = " + json.dumps(cards) + ";\n").encode()
    files: dict[str, tuple[bytes, str]] = {
        "/": ((PAGE / "render.html").read_bytes(), "text/html; charset=utf-8"),
        "/render.js": ((PAGE / "render.js").read_bytes(), "text/javascript"),
        "/cards.js": (cards_js, "text/javascript"),
        "/adaptivecards/adaptivecards.min.js": (
            (renderer / "adaptivecards.min.js").read_bytes(),
            "text/javascript",
        ),
        "/adaptivecards/adaptivecards.css": (
            (renderer / "adaptivecards.css").read_bytes(),
            "text/css",
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            body, content_type = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
