"""Typed reads of values out of Graph JSON objects, tolerant of nulls and odd types.

Graph omits properties, returns explicit nulls, and some tenants carry values of an unexpected
type (a number where a string is documented). None of that is a reason to stop evaluating a
tenant, so every reader here answers `None` (or an empty tuple) instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any


class SnapshotModelError(ValueError):
    """The snapshot document is structurally impossible (not merely missing optional data)."""


# What `json.load` makes of JSON scalars: kept as they are, with no further checks.
_SCALARS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def freeze_json(value: Any) -> Any:
    """A read-only copy of a JSON value: objects become mapping proxies, arrays tuples.

    Called for every object of a tenant (a hundred thousand on a large one), so the types
    `json.load` produces are told apart by exact type first; any other mapping or sequence
    takes the general path.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return MappingProxyType(
            {
                key: item if type(item) in _SCALARS else freeze_json(item)
                for key, item in value.items()
            }
        )
    if kind is list or kind is tuple:
        return tuple(item if type(item) in _SCALARS else freeze_json(item) for item in value)
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze_json(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(item) for item in value)
    return value


def optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def text_or_empty(obj: Mapping[str, Any], key: str) -> str:
    return optional_str(obj, key) or ""


def optional_bool(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    return value if isinstance(value, bool) else None


def optional_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    # bool is an int subclass in Python; a JSON true is not a priority or a quota.
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def optional_mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else None


def string_tuple(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def parse_graph_datetime(text: str | None) -> datetime | None:
    """An aware datetime from Graph's ISO 8601 text; naive values are UTC; garbage is None.

    Graph writes up to seven fractional digits (`2017-01-01T00:02:43.5775965-08:00`); Python 3.11
    accepts and truncates them.
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def optional_datetime(obj: Mapping[str, Any], key: str) -> datetime | None:
    return parse_graph_datetime(optional_str(obj, key))


def normalized_odata_type(value: object) -> str | None:
    """`#microsoft.graph.x` whether Graph wrote it with or without the leading `#`.

    Some documented v1.0 payloads carry `microsoft.graph.allLicensedUsersAssignmentTarget`
    without the hash while beta payloads carry it; both name the same type.
    """
    if not isinstance(value, str) or not value:
        return None
    return "#" + value.removeprefix("#")


def odata_type_of(obj: Mapping[str, Any]) -> str | None:
    return normalized_odata_type(obj.get("@odata.type"))


def same_odata_type(actual: str | None, expected: str) -> bool:
    return actual is not None and actual.casefold() == expected.casefold()


def required_mapping(value: object, where: str) -> Mapping[str, Any]:
    if type(value) is dict:  # what `json.load` makes; skips the abstract-class check
        return value
    if not isinstance(value, Mapping):
        raise SnapshotModelError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def required_list(value: object, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise SnapshotModelError(f"{where} must be a JSON array, not {type(value).__name__}")
    return value


def required_id(obj: Mapping[str, Any], where: str) -> str:
    value = obj.get("id")
    if not isinstance(value, str) or not value:
        raise SnapshotModelError(f"{where} has no string 'id'")
    return value
