"""`$filter`: a small OData expression parser and the forms each collection accepts.

Graph supports a different subset of `$filter` per service and property; the simulator accepts
only the forms Greenscreen relies on (listed per collection in `FilterProfile`s) and answers
anything else with 400, as Graph does for unsupported clauses. Parsing is generic so that a
clause Graph rejects for *semantic* reasons gets Graph's "unsupported query" answer rather than
a syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from tests.graphsim.clock import parse_timestamp
from tests.graphsim.exchange import GraphError

# --- syntax ----------------------------------------------------------------------------------

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_@][A-Za-z0-9_.@]*)
      | (?P<punct>[(),:/])
    )""",
    re.VERBOSE,
)
COMPARISON_OPERATORS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class Comparison:
    member: str
    operator: str
    value: Any
    value_kind: str  # "string" | "datetime" | "number" | "boolean" | "null"


@dataclass(frozen=True)
class InList:
    member: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class IsOf:
    type_name: str


@dataclass(frozen=True)
class StartsWith:
    member: str
    prefix: str


@dataclass(frozen=True)
class Contains:
    member: str
    text: str


@dataclass(frozen=True)
class AnyStartsWith:
    """`collection/any(v:startswith(v,'prefix'))`."""

    member: str
    prefix: str


@dataclass(frozen=True)
class Junction:
    operator: str  # "and" | "or"
    items: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Negation:
    item: FilterNode


FilterNode = (
    Comparison | InList | IsOf | StartsWith | Contains | AnyStartsWith | Junction | Negation
)


class FilterSyntaxError(Exception):
    pass


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FilterSyntaxError(f"unexpected character at position {position}")
        kind = match.lastgroup or "punct"
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._position = 0

    def parse(self) -> FilterNode:
        node = self._or()
        if self._position != len(self._tokens):
            raise FilterSyntaxError(f"unexpected '{self._tokens[self._position].text}'")
        return node

    def _peek(self, offset: int = 0) -> Token | None:
        index = self._position + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def _next(self) -> Token:
        token = self._peek()
        if token is None:
            raise FilterSyntaxError("unexpected end of expression")
        self._position += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.text != text:
            raise FilterSyntaxError(f"expected '{text}', found '{token.text}'")

    def _peek_text(self, offset: int = 0) -> str | None:
        token = self._peek(offset)
        return token.text if token else None

    def _is_word(self, text: str, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token is not None and token.kind == "word" and token.text.lower() == text

    def _or(self) -> FilterNode:
        items = [self._and()]
        while self._is_word("or"):
            self._next()
            items.append(self._and())
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def _and(self) -> FilterNode:
        items = [self._primary()]
        while self._is_word("and"):
            self._next()
            items.append(self._primary())
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def _primary(self) -> FilterNode:
        token = self._peek()
        if token is None:
            raise FilterSyntaxError("unexpected end of expression")
        if token.text == "(":
            self._next()
            node = self._or()
            self._expect(")")
            return node
        if self._is_word("not"):
            self._next()
            return Negation(self._primary())
        if self._is_word("isof") and self._peek_text(1) == "(":
            self._next()
            self._expect("(")
            type_name = self._string()
            self._expect(")")
            return IsOf(type_name)
        if self._is_word("contains") and self._peek_text(1) == "(":
            self._next()
            self._expect("(")
            member = self._member()
            self._expect(",")
            text = self._string()
            self._expect(")")
            return Contains(member, text)
        if self._is_word("startswith") and self._peek_text(1) == "(":
            self._next()
            self._expect("(")
            member = self._member()
            self._expect(",")
            prefix = self._string()
            self._expect(")")
            return StartsWith(member, prefix)
        member = self._member()
        if self._peek_text() == "/":
            return self._lambda(member)
        if self._is_word("in"):
            self._next()
            return InList(member, self._literal_list())
        operator = self._next()
        if operator.kind != "word" or operator.text.lower() not in COMPARISON_OPERATORS:
            raise FilterSyntaxError(f"expected a comparison operator after '{member}'")
        value, kind = self._literal()
        return Comparison(member, operator.text.lower(), value, kind)

    def _member(self) -> str:
        token = self._next()
        if token.kind != "word":
            raise FilterSyntaxError(f"expected a property name, found '{token.text}'")
        parts = [token.text]
        while self._peek_text() == "/" and not (self._is_word("any", 1) or self._is_word("all", 1)):
            self._next()
            part = self._next()
            if part.kind != "word":
                raise FilterSyntaxError(f"expected a property name after '/', found '{part.text}'")
            parts.append(part.text)
        return "/".join(parts)

    def _lambda(self, member: str) -> FilterNode:
        self._expect("/")
        operator = self._next()
        if operator.text.lower() != "any":
            raise FilterSyntaxError(f"lambda operator '{operator.text}' is not supported")
        self._expect("(")
        variable = self._next()
        if variable.kind != "word":
            raise FilterSyntaxError("expected a lambda variable")
        self._expect(":")
        function = self._next()
        if function.text.lower() != "startswith":
            raise FilterSyntaxError(f"function '{function.text}' is not supported in a lambda")
        self._expect("(")
        if self._next().text != variable.text:
            raise FilterSyntaxError("startswith must test the lambda variable")
        self._expect(",")
        prefix = self._string()
        self._expect(")")
        self._expect(")")
        return AnyStartsWith(member, prefix)

    def _string(self) -> str:
        token = self._next()
        if token.kind != "string":
            raise FilterSyntaxError(f"expected a quoted string, found '{token.text}'")
        return token.text[1:-1].replace("''", "'")

    def _literal(self) -> tuple[Any, str]:
        token = self._next()
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'"), "string"
        if token.kind == "datetime":
            try:
                return parse_timestamp(token.text), "datetime"
            except ValueError as error:
                raise FilterSyntaxError(f"invalid date-time '{token.text}'") from error
        if token.kind == "number":
            return float(token.text), "number"
        if token.kind == "word" and token.text.lower() in {"true", "false"}:
            return token.text.lower() == "true", "boolean"
        if token.kind == "word" and token.text.lower() == "null":
            return None, "null"
        following = self._peek()
        if (
            token.kind == "word"
            and token.text.startswith("microsoft.graph.")
            and following is not None
            and following.kind == "string"
        ):
            # An enum literal: microsoft.graph.managedAppAvailability'lineOfBusiness'.
            self._next()
            return following.text[1:-1].replace("''", "'"), "string"
        raise FilterSyntaxError(f"expected a literal, found '{token.text}'")

    def _literal_list(self) -> tuple[Any, ...]:
        self._expect("(")
        values = [self._literal()[0]]
        while self._peek_text() == ",":
            self._next()
            values.append(self._literal()[0])
        self._expect(")")
        return tuple(values)


def parse_filter(text: str) -> FilterNode:
    tokens = tokenize(text)
    if not tokens:
        raise FilterSyntaxError("empty expression")
    return _Parser(tokens).parse()


# --- what each collection accepts -------------------------------------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class FilterProfile:
    """The `$filter` forms one collection accepts; anything else is a 400."""

    directory: bool  # Entra ID answers with Request_UnsupportedQuery; Intune with BadRequest
    equality: frozenset[str] = frozenset({"id", "displayName"})
    id_in_max: int = 0  # `id in (...)`: 0 = not supported
    isof: bool = False
    physical_ids: bool = False  # `physicalIds/any(p:startswith(p,'...'))`, an advanced query
    datetime_ranges: frozenset[str] = frozenset()
    id_or_max: int = 0  # `id eq 'a' or id eq 'b'` (delta only): 0 = not supported
    case_insensitive: bool = field(default=False)
    contains: frozenset[str] = frozenset()  # `contains(member,'text')`, case-insensitive
    startswith: frozenset[str] = frozenset()  # `startswith(member,'text')`, case-insensitive
    booleans: frozenset[str] = frozenset()  # `member eq true|false`
    nullable: frozenset[str] = frozenset()  # `member eq null` (besides string equality)
    boolean_logic: bool = False  # any `or` / `not` of supported clauses


INTUNE_PROFILE: Final = FilterProfile(directory=False, isof=True)
GROUPS_PROFILE: Final = FilterProfile(directory=True, id_in_max=15, case_insensitive=True)
DEVICES_PROFILE: Final = FilterProfile(
    directory=True, id_in_max=15, physical_ids=True, case_insensitive=True
)
GENERIC_PROFILE: Final = FilterProfile(directory=True, case_insensitive=True)
INTUNE_AUDIT_PROFILE: Final = FilterProfile(
    directory=False,
    equality=frozenset({"id", "category", "activityOperationType"}),
    datetime_ranges=frozenset({"activityDateTime"}),
)
DIRECTORY_AUDIT_PROFILE: Final = FilterProfile(
    directory=True,
    equality=frozenset({"id", "category", "activityDisplayName"}),
    datetime_ranges=frozenset({"activityDateTime"}),
)
# The Autopilot device list: `contains` on serialNumber and friends (WindowsAutopilotIntune's
# Get-AutopilotDevice -serial), `eq` on serialNumber and the Entra device id (public tooling).
AUTOPILOT_DEVICES_PROFILE: Final = FilterProfile(
    directory=False,
    isof=True,
    equality=frozenset({"id", "displayName", "serialNumber", "azureActiveDirectoryDeviceId"}),
    contains=frozenset({"serialNumber", "displayName", "groupTag", "model", "manufacturer"}),
)
# Apps: the Intune admin center's own filter, sent by public tooling every day:
# `(microsoft.graph.managedApp/appAvailability eq null or ... eq 'lineOfBusiness' or
# isAssigned eq true)`, combined with `isof(...)` and type-cast properties; searches by
# `contains(displayName|publisher|notes,'...')` and `startswith(displayName,'...')`.
MOBILE_APPS_PROFILE: Final = FilterProfile(
    directory=False,
    isof=True,
    equality=frozenset({"id", "displayName", "appAvailability"}),
    contains=frozenset({"displayName", "publisher", "notes"}),
    startswith=frozenset({"displayName"}),
    booleans=frozenset({"isAssigned", "isFeatured", "isSystemApp"}),
    nullable=frozenset({"appAvailability"}),
    boolean_logic=True,
)
DELTA_PROFILE: Final = FilterProfile(
    directory=True, equality=frozenset({"id"}), id_or_max=50, case_insensitive=True
)


def compile_filter(text: str, profile: FilterProfile, *, advanced_query: bool) -> Predicate:
    """Parse `text` and check it against `profile`; raise GraphError (400) if Graph would."""
    try:
        node = parse_filter(text)
    except FilterSyntaxError as error:
        raise GraphError(
            400,
            "Request_BadRequest" if profile.directory else "BadRequest",
            f"Invalid filter clause: {error}.",
        ) from error
    return _Compiler(profile, advanced_query).compile(node)


class _Compiler:
    def __init__(self, profile: FilterProfile, advanced_query: bool) -> None:
        self._profile = profile
        self._advanced_query = advanced_query

    def unsupported(self, message: str = "Unsupported query.") -> GraphError:
        code = "Request_UnsupportedQuery" if self._profile.directory else "BadRequest"
        return GraphError(400, code, message)

    def compile(self, node: FilterNode) -> Predicate:
        if isinstance(node, Junction):
            return self._junction(node)
        if isinstance(node, Comparison):
            return self._comparison(node)
        if isinstance(node, InList):
            return self._in_list(node)
        if isinstance(node, IsOf) and self._profile.isof:
            wanted = "#" + node.type_name.lstrip("#").lower()
            return lambda o: str(o.get("@odata.type", "")).lower() == wanted
        if isinstance(node, AnyStartsWith) and self._profile.physical_ids:
            return self._physical_ids(node)
        if isinstance(node, StartsWith) and node.member in self._profile.startswith:
            start = node.prefix.casefold()
            return lambda o: str(o.get(node.member) or "").casefold().startswith(start)
        if isinstance(node, Contains) and node.member in self._profile.contains:
            folded = node.text.casefold()
            return lambda o: folded in str(o.get(node.member) or "").casefold()
        if isinstance(node, Negation) and self._profile.boolean_logic:
            inner = self.compile(node.item)
            return lambda o: not inner(o)
        raise self.unsupported()

    def _junction(self, node: Junction) -> Predicate:
        if node.operator == "or" and self._profile.boolean_logic:
            options = [self.compile(item) for item in node.items]
            return lambda o: any(option(o) for option in options)
        if node.operator == "or":
            return self._id_disjunction(node)
        parts = [self.compile(item) for item in node.items]
        return lambda o: all(part(o) for part in parts)

    def _id_disjunction(self, node: Junction) -> Predicate:
        # Directory delta queries take several ids as `id eq 'a' or id eq 'b'`, at most 50.
        if not self._profile.id_or_max:
            raise self.unsupported()
        ids = []
        for item in node.items:
            if not (
                isinstance(item, Comparison)
                and item.member == "id"
                and item.operator == "eq"
                and item.value_kind == "string"
            ):
                raise self.unsupported()
            ids.append(str(item.value).lower())
        if len(ids) > self._profile.id_or_max:
            raise self.unsupported(
                "Too many child clauses specified in search filter expression containing 'OR' "
                f"operators: {len(ids)}. Max allowed: {self._profile.id_or_max}."
            )
        wanted = frozenset(ids)
        return lambda o: str(o.get("id", "")).lower() in wanted

    def _comparison(self, node: Comparison) -> Predicate:
        # A type-cast property (`microsoft.graph.managedApp/appAvailability`) is the property of
        # objects of that type; the others do not carry it (it reads as null).
        name = node.member.rsplit("/", 1)[-1] if node.member.startswith("microsoft.graph.") else ""
        if name and node.operator == "eq":
            if name in self._profile.booleans and node.value_kind == "boolean":
                return lambda o: o.get(name) is node.value
            if name in self._profile.nullable and node.value_kind == "null":
                return lambda o: o.get(name) is None
            if name in self._profile.equality and node.value_kind == "string":
                return lambda o: o.get(name) == node.value
            raise self.unsupported()
        if node.operator == "eq" and node.member in self._profile.booleans:
            if node.value_kind != "boolean":
                raise self.unsupported()
            return lambda o: o.get(node.member) is node.value
        if node.operator == "eq" and node.value_kind == "null":
            if node.member not in self._profile.nullable:
                raise self.unsupported()
            return lambda o: o.get(node.member) is None
        if node.member in self._profile.datetime_ranges:
            if node.value_kind != "datetime" or node.operator not in {"gt", "ge", "lt", "le"}:
                raise self.unsupported()
            return _datetime_comparison(node.member, node.operator, node.value)
        if node.member not in self._profile.equality or node.operator != "eq":
            raise self.unsupported()
        if node.value_kind != "string":
            raise self.unsupported()
        wanted = str(node.value)
        if self._profile.case_insensitive:
            folded = wanted.casefold()
            return lambda o: str(o.get(node.member, "")).casefold() == folded
        return lambda o: o.get(node.member) == wanted

    def _in_list(self, node: InList) -> Predicate:
        if node.member != "id" or not self._profile.id_in_max:
            raise self.unsupported()
        if len(node.values) > self._profile.id_in_max:
            raise self.unsupported(
                "Too many child clauses specified in search filter expression containing 'OR' "
                f"operators: {len(node.values)}. Max allowed: {self._profile.id_in_max}."
            )
        wanted = frozenset(str(v).lower() for v in node.values)
        return lambda o: str(o.get("id", "")).lower() in wanted

    def _physical_ids(self, node: AnyStartsWith) -> Predicate:
        if node.member != "physicalIds":
            raise self.unsupported()
        if not self._advanced_query:
            # An advanced query: Entra ID wants `ConsistencyLevel: eventual` and `$count=true`.
            raise self.unsupported(
                "Unsupported or invalid query filter clause specified for property "
                "'physicalIds' of resource 'Device'."
            )
        prefix = node.prefix.casefold()  # Entra ID matches physicalIds case-insensitively
        return lambda o: any(
            isinstance(value, str) and value.casefold().startswith(prefix)
            for value in o.get("physicalIds") or ()
        )


def _datetime_comparison(member: str, operator: str, bound: datetime) -> Predicate:
    def matches(obj: Mapping[str, Any]) -> bool:
        raw = obj.get(member)
        if not isinstance(raw, str):
            return False
        try:
            value = parse_timestamp(raw)
        except ValueError:
            return False
        if operator == "gt":
            return value > bound
        if operator == "ge":
            return value >= bound
        if operator == "lt":
            return value < bound
        return value <= bound

    return matches
