"""Running the Azurite storage emulator for tests and the demo.

Azurite is started from node_modules directly (not through npx) so the PID held here is the
server itself; it runs in memory on free loopback ports and is stopped by that PID.

`persistent_azurite(directory)` runs it on disk instead (`--location`; Azurite refuses it
together with `--inMemoryPersistence`), as a `PersistentAzurite` that can be stopped and started
again on the same ports and directory: an outage in the middle of a test, with the data kept.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from monitors.dashboard.local_storage import free_port, listening

AZURITE = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "azurite"
# Azurite's documented development account and key: a public emulator constant, not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Azurite:
    table_port: int
    queue_port: int

    @property
    def table_connection(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{DEV_ACCOUNT};"
        )

    @property
    def queue_connection(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{DEV_ACCOUNT};"
        )


@contextmanager
def running_azurite(workdir: Path | None = None) -> Iterator[Azurite]:
    """Start Azurite in memory on free ports; stop it when the block ends."""
    if not AZURITE.exists():
        raise RuntimeError(f"{AZURITE} is missing: run `make setup` (npm ci) first")
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        yield from _run(Path(scratch))


def _run(scratch: Path) -> Iterator[Azurite]:
    ports = Azurite(table_port=free_port(), queue_port=free_port())
    process = _start(
        ports, free_port(), ["--inMemoryPersistence"], scratch, scratch / "azurite.log"
    )
    try:
        yield ports
    finally:
        _stop(process)


def _start(
    ports: Azurite, blob_port: int, persistence: list[str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("a") as output:
        process = subprocess.Popen(  # noqa: S603 - a fixed local binary with fixed arguments
            [
                str(AZURITE),
                *persistence,
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(blob_port),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(ports.queue_port),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(ports.table_port),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not (listening(ports.table_port) and listening(ports.queue_port)):
            if process.poll() is not None:
                raise RuntimeError(f"Azurite exited early: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("Azurite did not start listening in time")
            time.sleep(0.05)
    except BaseException:
        _stop(process)
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: Azurite closes its servers and saves its databases (on disk, when persistent)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class PersistentAzurite:
    """Azurite keeping its data in `location`, on ports fixed for its whole life, so a test can
    stop it (an outage: connections refused) and start it again with everything it had."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.ports = Azurite(table_port=free_port(), queue_port=free_port())
        self._blob_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("Azurite is already running")
        self._process = _start(
            self.ports,
            self._blob_port,
            ["--location", str(self.location)],
            self.location,
            self.location / "azurite.log",
        )
        self.starts += 1

    def stop(self) -> None:
        if self._process is None:
            raise RuntimeError("Azurite is not running")
        process, self._process = self._process, None
        _stop(process)
        # Nothing answers on the ports any more: the next client call is refused.
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while listening(self.ports.table_port) or listening(self.ports.queue_port):
            if time.monotonic() > deadline:
                raise RuntimeError("Azurite still answers after it was stopped")
            time.sleep(0.05)


@contextmanager
def persistent_azurite(location: Path) -> Iterator[PersistentAzurite]:
    """Start Azurite on disk in `location`; stop it (if running) when the block ends."""
    if not AZURITE.exists():
        raise RuntimeError(f"{AZURITE} is missing: run `make setup` (npm ci) first")
    location.mkdir(parents=True, exist_ok=True)
    azurite = PersistentAzurite(location)
    azurite.start()
    try:
        yield azurite
    finally:
        if azurite.running:
            azurite.stop()
