"""OData system query options: `$select`, `$expand`, `$top`, `$count`, `$orderby`, tokens.

`$filter` is parsed in `odata_filter`; this module only carries its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tests.graphsim.exchange import bad_request
from tests.graphsim.paging import top_from_text

# Option names as Graph accepts them: case-insensitive, and on v1.0 also without the `$`.
KNOWN_OPTIONS: Final = frozenset(
    {"select", "expand", "filter", "top", "skiptoken", "deltatoken", "count", "orderby", "search"}
)


@dataclass(frozen=True)
class ExpandItem:
    name: str
    select: tuple[str, ...] | None = None
    expand: tuple[ExpandItem, ...] = ()


@dataclass(frozen=True)
class ODataQuery:
    select: tuple[str, ...] | None = None
    expand: tuple[ExpandItem, ...] = ()
    filter: str | None = None
    top: int | None = None
    skiptoken: str | None = None
    deltatoken: str | None = None
    count: bool = False
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    search: str | None = None
    # The options as received (names normalised), to carry over into `@odata.nextLink`.
    carried: tuple[tuple[str, str], ...] = ()


def parse_query(pairs: list[tuple[str, str]]) -> ODataQuery:
    options: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.lstrip("$").lower()
        if name not in KNOWN_OPTIONS:
            if raw_name.startswith("$"):
                raise bad_request(f"Query option '{raw_name}' is not supported.")
            continue  # Graph ignores parameters that are not query options
        if name in options:
            raise bad_request(f"Query option '${name}' was specified more than once.")
        options[name] = value
    return ODataQuery(
        select=parse_select(options["select"]) if "select" in options else None,
        expand=parse_expand(options["expand"]) if "expand" in options else (),
        filter=options.get("filter"),
        top=top_from_text(options["top"]) if "top" in options else None,
        skiptoken=options.get("skiptoken"),
        deltatoken=options.get("deltatoken"),
        count=_parse_count(options["count"]) if "count" in options else False,
        orderby=parse_orderby(options["orderby"]) if "orderby" in options else (),
        search=options.get("search"),
        carried=tuple(
            (f"${name}", value)
            for name, value in options.items()
            if name not in {"skiptoken", "deltatoken"}
        ),
    )


def _parse_count(value: str) -> bool:
    if value.lower() not in {"true", "false"}:
        raise bad_request(f"Invalid value '{value}' for $count query option.")
    return value.lower() == "true"


def parse_select(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise bad_request(f"Syntax error in $select: '{text}'.")
    # A type-cast select ("microsoft.graph.win32LobApp/installExperience") names the property
    # after the slash.
    return tuple(name.rsplit("/", 1)[-1] for name in names)


def parse_orderby(text: str) -> tuple[tuple[str, bool], ...]:
    clauses = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in {"asc", "desc"}):
            raise bad_request(f"Syntax error in $orderby: '{text}'.")
        clauses.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(clauses)


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses; unbalanced parentheses are a 400."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise bad_request(f"Unbalanced parentheses in '{text}'.")
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise bad_request(f"Unbalanced parentheses in '{text}'.")
    parts.append("".join(current))
    return parts


def parse_expand(text: str) -> tuple[ExpandItem, ...]:
    items = []
    for part in split_top_level(text, ","):
        part = part.strip()
        if not part:
            raise bad_request(f"Syntax error in $expand: '{text}'.")
        if part == "*":
            raise bad_request("Expanding '*' is not supported.")
        name, _, rest = part.partition("(")
        name = name.strip()
        if not name.replace(".", "").replace("_", "").isalnum():
            raise bad_request(f"Syntax error in $expand: '{part}'.")
        select: tuple[str, ...] | None = None
        nested: tuple[ExpandItem, ...] = ()
        if rest:
            if not rest.endswith(")"):
                raise bad_request(f"Syntax error in $expand: '{part}'.")
            for option in split_top_level(rest[:-1], ";"):
                option_name, equals, value = option.partition("=")
                key = option_name.strip().lstrip("$").lower()
                if not equals or key not in {"select", "expand"}:
                    raise bad_request(
                        f"Query option '{option_name.strip()}' is not allowed inside $expand."
                    )
                if key == "select":
                    select = parse_select(value)
                else:
                    nested = parse_expand(value)
        items.append(ExpandItem(name=name, select=select, expand=nested))
    return tuple(items)
