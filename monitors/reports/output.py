"""Writing a rendered report: to a file atomically, or to a stream."""

from __future__ import annotations

import os
import stat
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


def write_text_atomically(path: Path, text: str) -> int:
    """The file is either the whole new report or left as it was: never half-written.
    Returns the number of bytes written."""
    return write_chunks_atomically(path, (text,))


def write_chunks_atomically(path: Path, chunks: Iterable[str]) -> int:
    """`write_text_atomically` for a report written as it is produced (a large tenant's).

    The temporary file `mkstemp` makes is private (0600); before it replaces the destination it
    gets the mode a plain `open()` would give (0666 less the umask, so 0644 under the usual 022),
    or the mode of the file it replaces. Returns the number of bytes written.
    """
    check_writable_destination(path)
    directory = path.parent if str(path.parent) else Path(".")
    mode = _mode_for(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ReportOutputError(f"{path}: cannot be written ({error.strerror})") from None
    try:
        size = 0
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                data = chunk.encode("utf-8")
                stream.write(data)
                size += len(data)
            stream.flush()
            set_mode(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise ReportOutputError(f"{path}: cannot be written ({error.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return size


def set_mode(descriptor: int, mode: int) -> None:
    """chmod an open file where the platform can (not on Windows, whose files carry ACLs)."""
    fchmod = getattr(os, "fchmod", None)
    if fchmod is not None:
        fchmod(descriptor, mode)


def new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0666 less the process umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:  # no such file yet
        return new_file_mode()


def describe_written(path: Path, report_format: str, size: int) -> str:
    """The line `--out` prints on stderr: where, what and how big."""
    return f"wrote {path} ({report_format}, {_size(size)})"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
