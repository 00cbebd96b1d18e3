"""Running the Azurite storage emulator for tests and the demo.

Azurite is started from node_modules directly (not through npx) so the PID held here is the
server itself; it runs in memory on free loopback ports and is stopped by that PID.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def running_azurite(workdir: Path | None = None) -> Iterator[Azurite]:
    """Start Azurite in memory on free ports; stop it when the block ends."""
    if not AZURITE.exists():
        raise RuntimeError(f"{AZURITE} is missing: run `make setup` (npm ci) first")
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        yield from _run(Path(scratch))


def _run(scratch: Path) -> Iterator[Azurite]:
    ports = Azurite(table_port=_free_port(), queue_port=_free_port())
    log = scratch / "azurite.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - a fixed local binary with fixed arguments
            [
                str(AZURITE),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(_free_port()),
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
            cwd=scratch,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not (
            _accepts_connections(ports.table_port) and _accepts_connections(ports.queue_port)
        ):
            if process.poll() is not None:
                raise RuntimeError(f"Azurite exited early: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("Azurite did not start listening in time")
            time.sleep(0.05)
        yield ports
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
