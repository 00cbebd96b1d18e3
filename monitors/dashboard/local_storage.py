"""`greenscreen serve --azurite DIR`: Azurite on a directory of its data, for as long as we serve.

A development convenience of a source checkout: the Azurite that `make setup` installs in
`node_modules/` (found from the current directory or the checkout this package lives in),
on free loopback ports, keeping its data in DIR (e.g. `out/demo-storage`, left by `make demo`).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

# Azurite's documented development account and key: a public emulator constant, not a secret.
DEV_ACCOUNT: Final = "devstoreaccount1"
DEV_KEY: Final = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
STARTUP_TIMEOUT_S: Final = 30.0


class LocalStorageError(RuntimeError):
    """Azurite cannot be started (one line)."""


def find_azurite() -> Path:
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = root / "node_modules" / ".bin" / "azurite"
        if candidate.exists():
            return candidate
    raise LocalStorageError("--azurite needs Azurite in node_modules: run `make setup` first")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on this loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def azurite_on(location: Path) -> Iterator[str]:
    """Start Azurite on `location`; yields the table connection string; stops it after."""
    if not location.is_dir():
        raise LocalStorageError(f"--azurite: {location} is not a directory of Azurite data")
    location = location.resolve()
    binary = find_azurite()
    table_port, queue_port, blob_port = free_port(), free_port(), free_port()
    with (location / "azurite.log").open("a") as log:
        process = _start(binary, location, log, table_port, queue_port, blob_port)
        try:
            yield _wait_for_tables(process, location, table_port)
        finally:
            process.terminate()  # SIGTERM: Azurite saves its databases and exits
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _start(
    binary: Path, location: Path, log: IO[str], table_port: int, queue_port: int, blob_port: int
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - the checkout's Azurite, fixed arguments
        [
            str(binary),
            "--location",
            str(location),
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
            str(queue_port),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(table_port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=location,
    )


def _wait_for_tables(process: subprocess.Popen[bytes], location: Path, table_port: int) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not listening(table_port):
        if process.poll() is not None:
            raise LocalStorageError(f"Azurite exited early; see {location / 'azurite.log'}")
        if time.monotonic() > deadline:
            raise LocalStorageError("Azurite did not start listening in time")
        time.sleep(0.05)
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{DEV_ACCOUNT};"
    )
