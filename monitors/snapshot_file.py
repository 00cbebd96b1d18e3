"""Reading and writing tenant snapshot files (`greenscreen.tenant-snapshot/1`).

Loading validates against the shipped JSON Schema and then checks what a schema cannot say. A bad
file raises `SnapshotFileError` with one line naming the file and the offending JSON path; writing
goes through a temporary file and a rename, so a failed export never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import jsonschema_rs

from monitors.reports.output import new_file_mode, set_mode
from rules.tenant_collections import ALL_COLLECTIONS

if TYPE_CHECKING:
    import jsonschema

SNAPSHOT_FORMAT: Final = "greenscreen.tenant-snapshot/1"


class SnapshotFileError(Exception):
    """A snapshot file that cannot be used; the message is one line for the operator."""


# A 20,000-device tenant is well under 100 MiB; the bound only stops endless or absurd input.
MAX_SNAPSHOT_BYTES: Final = 512 * 1024 * 1024
# Graph objects nest about a dozen levels (settings catalog instances); the copying and
# validation after parsing recurse, so deeper input is refused up front.
MAX_JSON_DEPTH: Final = 100


class JsonInputError(ValueError):
    """Input file that is not one plain JSON document; the message is a short phrase."""


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file (or pipe) of at most `max_bytes`; OSError passes through."""
    with path.open("rb") as stream:
        mode = os.fstat(stream.fileno()).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise JsonInputError("not a regular file")
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonInputError(f"larger than {max_bytes // (1024 * 1024)} MiB")
    return data


def parse_json(text: str) -> Any:
    """Strict JSON: no duplicate keys, no NaN/Infinity, bounded nesting; a UTF-8 BOM is allowed.

    Raises `json.JSONDecodeError` for a syntax error (callers show its line and column) and
    `JsonInputError` for everything else.
    """
    try:
        document = json.loads(
            text.removeprefix("\ufeff"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
        )
    except (json.JSONDecodeError, JsonInputError):
        raise
    except RecursionError:
        raise JsonInputError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # an integer beyond Python's digit limit
        raise JsonInputError("a number has too many digits") from None
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        raise JsonInputError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonInputError(f"duplicate key {_short(key, 40)}")
            seen.add(key)
    return document


def _no_constant(name: str) -> Any:
    raise JsonInputError(f"{name} is not a JSON number")


def _depth_exceeds(document: Any, limit: int) -> bool:
    # Level by level: the children of a whole level are gathered in C (`chain`), and only the
    # containers among them are kept, one cheap type test per value.
    level = [document] if type(document) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > limit:
            return True
        children = chain.from_iterable(
            value.values() if type(value) is dict else value for value in level
        )
        level = [child for child in children if type(child) in _CONTAINERS]
        depth += 1
    return False


_CONTAINERS: Final = frozenset({dict, list})


@cache
def snapshot_schema() -> dict[str, Any]:
    text = resources.files("monitors").joinpath("schemas/tenant-snapshot.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    # Imported when a file is refused (to name the problem): a valid file never needs it.
    import jsonschema

    schema = snapshot_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@cache
def _compiled_validator() -> jsonschema_rs.Validator:
    # Formats are annotations in draft 2020-12, as for `jsonschema` without a format checker.
    return jsonschema_rs.validator_for(snapshot_schema(), validate_formats=False)


def _schema_accepts(document: Any) -> bool:
    """The compiled validator's answer, about a hundred times quicker than `jsonschema` on a
    large tenant. Only a yes is taken from it: a no, or any trouble converting the document
    (an integer beyond 64 bits), goes to `jsonschema`, which finds and names the problem."""
    try:
        return _compiled_validator().is_valid(document)
    except (ValueError, OverflowError, TypeError):
        return False


def load_snapshot(path: Path | str) -> dict[str, Any]:
    """Read and validate a snapshot file; raise `SnapshotFileError` naming file and JSON path."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_SNAPSHOT_BYTES).decode("utf-8")
    except JsonInputError as error:
        raise SnapshotFileError(f"{path}: {error}") from None
    except FileNotFoundError:
        raise SnapshotFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SnapshotFileError(f"{path}: is a directory, not a snapshot file") from None
    except UnicodeDecodeError as error:
        raise SnapshotFileError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise SnapshotFileError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        document = parse_json(text)
    except json.JSONDecodeError as error:
        raise SnapshotFileError(
            f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except JsonInputError as error:
        raise SnapshotFileError(f"{path}: not usable JSON ({error})") from None
    problem = first_problem(document)
    if problem is not None:
        raise SnapshotFileError(f"{path}: {problem}")
    result: dict[str, Any] = document
    return result


def first_problem(document: Any) -> str | None:
    """The first thing wrong with a snapshot document as `<json path>: <what>`, or None."""
    if not isinstance(document, dict):
        return f"$: a snapshot is a JSON object, not {_json_kind(document)}"
    if document.get("format") != SNAPSHOT_FORMAT:
        found = document.get("format")
        return f"$.format: expected {SNAPSHOT_FORMAT!r}, found {_short(found)}"
    if not _schema_accepts(document):
        errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.path)))
        if errors:
            return _describe(errors[0])
    return next(_semantic_problems(document), None)


def _describe(error: jsonschema.ValidationError) -> str:
    where = error.json_path
    if error.validator in ("enum", "pattern") and list(error.path) in (
        ["collections"],
        ["errors"],
    ):
        # propertyNames failures report the parent object; name the offending key instead.
        key = str(error.instance)
        section = error.path[0]
        what = "collection path" if section == "collections" else "error path"
        return f"$.{section}[{json.dumps(key)}]: unknown {what} {key!r}"
    if error.validator == "pattern" and list(error.path) == ["capturedAt"]:
        return f"{where}: not an ISO 8601 date-time with a time zone: {_short(error.instance)}"
    if error.validator == "type":
        expected = error.validator_value
        names = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"{where}: expected {names}, found {_json_kind(error.instance)}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {_short_message(error.message)}"


def _semantic_problems(document: Mapping[str, Any]) -> Iterator[str]:
    collections: Mapping[str, list[Mapping[str, Any]]] = document["collections"]
    errors: Mapping[str, Any] = document.get("errors", {})
    for path, items in collections.items():
        if path in errors:
            yield (f"$.errors[{json.dumps(path)}]: a collection cannot be both read and unreadable")
        seen: set[str] = set()
        for index, item in enumerate(items):
            object_id = item.get("id")
            if object_id is None:
                continue
            if object_id in seen:
                yield (f"$.collections[{json.dumps(path)}][{index}].id: duplicate id {object_id!r}")
            seen.add(object_id)


def write_snapshot(path: Path | str, document: Mapping[str, Any]) -> None:
    """Validate and write atomically: the file is either the whole new snapshot or untouched."""
    path = Path(path)
    problem = first_problem(document)
    if problem is not None:
        raise SnapshotFileError(f"{path}: refusing to write an invalid snapshot: {problem}")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise SnapshotFileError(f"{path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, ensure_ascii=False, indent=1, sort_keys=False)
            stream.write("\n")
            stream.flush()
            # mkstemp makes the file private (0600): give it the mode open() would.
            set_mode(stream.fileno(), new_file_mode())
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def empty_snapshot(tenant_id: str, captured_at: str) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "tenantId": tenant_id,
        "capturedAt": captured_at,
        "collections": {},
        "errors": {},
    }


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_message(message: str, limit: int = 160) -> str:
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


KNOWN_COLLECTIONS: Final = frozenset(ALL_COLLECTIONS)
