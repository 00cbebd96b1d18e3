"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe` (no websocket needed).

Chromium reads commands from file descriptor 3 and writes answers and events to 4, each a JSON
message ended by a NUL byte. Enough for the dashboard's browser tests: navigate, evaluate
JavaScript (fill a field, click a button), wait for the page, take a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.alert_rendering.page import CHROMIUM_FLAGS

TIMEOUT_S = 60


class Browser:
    def __init__(self, chromium: str, profile: Path, width: int = 1280, height: int = 900) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def wire() -> None:  # in the child: fd 3 reads our commands, fd 4 carries its answers
            reading, writing = os.dup(to_browser_read), os.dup(from_browser_write)  # above 4
            os.dup2(reading, 3)
            os.dup2(writing, 4)
            os.close(reading)
            os.close(writing)

        self._process = subprocess.Popen(  # noqa: S603 - a fixed local browser, fixed flags
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                f"--window-size={width},{height}",
                "--hide-scrollbars",
                "about:blank",
            ],
            # Python's own descriptors are not inheritable (PEP 446): only 0-2 and the two
            # that `wire` makes cross the exec.
            close_fds=False,
            preexec_fn=wire,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if not os.environ.get("DASHBOARD_BROWSER_LOG") else None,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        try:
            self._attach(width, height)
        except BaseException:
            self._process.kill()
            self._process.wait(timeout=15)
            os.close(self._to_browser)
            os.close(self._from_browser)
            raise

    def _attach(self, width: int, height: int) -> None:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=15)
        os.close(self._to_browser)
        os.close(self._from_browser)

    # -- protocol -------------------------------------------------------------------------------

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
        raise RuntimeError(f"{method}: no answer in {TIMEOUT_S} s")

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buffer += chunk
        text, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(text)
        return message

    # -- what the tests do ----------------------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        answer = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", session=True, url=url)
        self.wait_for(url_prefix=url.split("?", 1)[0])

    def wait_for(self, *, url_prefix: str) -> None:
        """Until the page at `url_prefix` has loaded (navigation by a click included)."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.evaluate("[document.readyState, location.href]")
            if state[0] == "complete" and str(state[1]).startswith(url_prefix):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{url_prefix} did not load in {TIMEOUT_S} s")

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def text(self, selector: str = "main") -> str:
        value = self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"
        )
        return str(value)

    def screenshot(self, path: Path, max_height: int = 2200) -> None:
        """The page from the top, as tall as its content (at most `max_height` pixels)."""
        size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], max_height),
            "scale": 1,
        }
        data = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip=clip,
        )["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
