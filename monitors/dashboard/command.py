"""`greenscreen serve`: the readiness dashboard on loopback until Ctrl-C.

Storage: `GREENSCREEN_STORAGE_CONNECTION` (default: Azurite on its default ports), as for
`greenscreen history`. Exit codes: 0 stopped, 1 storage unreachable, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

EXIT_OK = 0
EXIT_STORAGE = 1
EXIT_BAD_INPUT = 2
DEFAULT_PORT: Final = 8765


def add_serve_command(commands: Any) -> argparse.ArgumentParser:
    """Add `serve` to the `greenscreen` subcommands (`commands` from add_subparsers); the
    server, its pages and the storage SDK are imported when `serve` runs."""
    serve: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="serve the readiness dashboard on loopback",
        description=(
            "Serve the readiness dashboard (every tenant in the store, their profiles, "
            "findings, timeline and devices) on a loopback address until Ctrl-C. Storage: "
            "GREENSCREEN_STORAGE_CONNECTION (default: Azurite on its default ports). There is "
            "no sign-in locally, so only loopback addresses are accepted. Exit codes: 0 "
            "stopped, 1 storage unreachable, 2 bad input or usage."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--azurite",
        type=Path,
        metavar="DIR",
        help=(
            "start the checkout's Azurite (make setup) on the data in DIR and serve that, e.g. "
            "the out/demo-storage that `make demo` leaves behind"
        ),
    )
    serve.set_defaults(handler=run_serve)
    return serve


@contextmanager
def _local_azurite(location: Path | None) -> Iterator[None]:
    """With `--azurite DIR`: Azurite on DIR for the block, its tables as the storage setting."""
    if location is None:
        yield
        return
    from monitors.dashboard.local_storage import azurite_on
    from monitors.store.settings import CONNECTION_SETTING

    with azurite_on(location) as connection:
        previous = os.environ.get(CONNECTION_SETTING)
        os.environ[CONNECTION_SETTING] = connection
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(CONNECTION_SETTING, None)
            else:
                os.environ[CONNECTION_SETTING] = previous


def run_serve(args: argparse.Namespace) -> int:
    from monitors.dashboard.local_storage import LocalStorageError
    from monitors.dashboard.server import NotLoopbackError, check_loopback, stop_on_sigterm

    stop_on_sigterm()
    try:
        check_loopback(args.host)  # before anything starts
        with _local_azurite(args.azurite):
            return _serve(args)
    except (LocalStorageError, NotLoopbackError) as error:
        print(f"greenscreen: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from azure.core.exceptions import AzureError

    from monitors.dashboard import dashboard_from_settings
    from monitors.dashboard.server import NotLoopbackError, check_loopback, serve_forever
    from monitors.guardrail.settings import SettingsError
    from monitors.store.settings import DEVELOPMENT_STORAGE, StoreSettingsError

    try:
        check_loopback(args.host)
        if not 0 <= args.port <= 65_535:
            raise NotLoopbackError("--port must be 0-65535")
        dashboard = dashboard_from_settings(default_connection=DEVELOPMENT_STORAGE)
    except (NotLoopbackError, SettingsError, StoreSettingsError) as error:
        print(f"greenscreen: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        tenants = dashboard.tenants()
    except AzureError as error:
        print(f"greenscreen: storage is unreachable ({type(error).__name__})", file=sys.stderr)
        return EXIT_STORAGE

    def announce(url: str) -> None:
        print(f"Greenscreen dashboard: {url} ({len(tenants)} tenants; Ctrl-C stops)", flush=True)

    try:
        serve_forever(dashboard, args.host, args.port, announce)
    except OSError as error:
        print(
            f"greenscreen: cannot listen on {args.host}:{args.port}: {error.strerror}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return EXIT_OK
