"""Writing a rendered report: to a file atomically, or to a stream."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class ReportOutputError(Exception):
    """The report cannot be written where asked; the message is one line for the operator."""


def check_writable_destination(path: Path) -> None:
    """Refuse a destination that cannot work before any work is done."""
    if path.is_dir():
        raise ReportOutputError(f"{path}: is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ReportOutputError(f"{path}: directory {directory} does not exist")


def write_text_atomically(path: Path, text: str) -> None:
    """The file is either the whole new report or left as it was: never half-written."""
    write_chunks_atomically(path, (text,))


def write_chunks_atomically(path: Path, chunks: Iterable[str]) -> None:
    """`write_text_atomically` for a report written as it is produced (a large tenant's)."""
    check_writable_destination(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ReportOutputError(f"{path}: cannot be written ({error.strerror})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ReportOutputError(f"{path}: cannot be written ({error.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
