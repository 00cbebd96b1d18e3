"""Entra ID dynamic membership rules: parse, render and evaluate against device facts.

The grammar follows Microsoft's "Manage rules for dynamic membership groups" page: `property
operator value` expressions joined by -and / -or / -not, parentheses, -any / -all over
multi-valued properties with `_` for the item, operators with or without the leading hyphen,
double-quoted strings where a backtick escapes a quote, single-quoted strings where a quote is
doubled, `true` / `false` / `null`, numbers, and `[...]` lists for -in / -notIn.

Entra treats operators, property names and string comparisons case-insensitively, and so does
this module. Anything it cannot read with certainty becomes `UnsupportedRule` with a reason:
`parse_membership_rule` never raises.

Evaluation is three-valued: a fact the evaluator does not have makes the answer `Unknown` (with
the reason) unless the rest of the expression decides it (`False -and Unknown` is `False`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Final

# Entra rejects rule bodies longer than this; longer text was never a stored rule.
MAX_RULE_LENGTH: Final = 3072
# Deeper nesting than this is not a rule anyone wrote; refusing it keeps recursion bounded.
MAX_NESTING: Final = 64

DEVICE: Final = "device"
USER: Final = "user"


class SubjectKind(Enum):
    DEVICE = "device"
    USER = "user"
    MIXED = "mixed"


class ComparisonOperator(Enum):
    EQ = "-eq"
    NE = "-ne"
    STARTS_WITH = "-startsWith"
    NOT_STARTS_WITH = "-notStartsWith"
    ENDS_WITH = "-endsWith"
    NOT_ENDS_WITH = "-notEndsWith"
    CONTAINS = "-contains"
    NOT_CONTAINS = "-notContains"
    MATCH = "-match"
    NOT_MATCH = "-notMatch"
    IN = "-in"
    NOT_IN = "-notIn"

    @property
    def is_negative(self) -> bool:
        return self in _NEGATIONS

    @property
    def positive(self) -> ComparisonOperator:
        return _NEGATIONS.get(self, self)


_NEGATIONS: Final[dict[ComparisonOperator, ComparisonOperator]] = {
    ComparisonOperator.NE: ComparisonOperator.EQ,
    ComparisonOperator.NOT_STARTS_WITH: ComparisonOperator.STARTS_WITH,
    ComparisonOperator.NOT_ENDS_WITH: ComparisonOperator.ENDS_WITH,
    ComparisonOperator.NOT_CONTAINS: ComparisonOperator.CONTAINS,
    ComparisonOperator.NOT_MATCH: ComparisonOperator.MATCH,
    ComparisonOperator.NOT_IN: ComparisonOperator.IN,
}


class Quantifier(Enum):
    ANY = "-any"
    ALL = "-all"


# --- values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str


@dataclass(frozen=True, slots=True)
class BooleanValue:
    value: bool


@dataclass(frozen=True, slots=True)
class NumberValue:
    value: int


@dataclass(frozen=True, slots=True)
class NullValue:
    pass


ScalarValue = StringValue | BooleanValue | NumberValue


@dataclass(frozen=True, slots=True)
class ListValue:
    items: tuple[ScalarValue, ...]


Value = ScalarValue | NullValue | ListValue


# --- operands and expressions ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Property:
    """`device.deviceOSType`, `user.department`: the object kind and the property name."""

    subject: str
    name: str


@dataclass(frozen=True, slots=True)
class CollectionItem:
    """`_`: the current item inside an -any / -all condition."""


@dataclass(frozen=True, slots=True)
class ItemProperty:
    """`assignedPlan.servicePlanId`: a property of the current item of an object collection."""

    variable: str
    name: str


Operand = Property | CollectionItem | ItemProperty


@dataclass(frozen=True, slots=True)
class Comparison:
    operand: Operand
    operator: ComparisonOperator
    value: Value


@dataclass(frozen=True, slots=True)
class CollectionCondition:
    property: Property
    quantifier: Quantifier
    condition: Expression


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expression


@dataclass(frozen=True, slots=True)
class And:
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class Or:
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class DirectReports:
    """`Direct Reports for "<manager object id>"`: a user rule that stands alone."""

    manager_id: str


Expression = Comparison | CollectionCondition | Not | And | Or | DirectReports


@dataclass(frozen=True, slots=True)
class ParsedRule:
    expression: Expression
    subject_kind: SubjectKind
    # The text as stored on the group; two parses of differently spaced text compare equal.
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class UnsupportedRule:
    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """The evaluator could not decide; `reason` says which fact or construct was missing."""

    reason: str


# A device's facts, keyed by the lower-case property name the rule uses (`devicephysicalids`).
# Multi-valued properties are tuples; a property absent from the mapping is not known.
FactValue = str | bool | int | tuple[str, ...] | None
DeviceFacts = Mapping[str, FactValue]

# Canonical spelling of the device properties Entra documents, for rendering and reasons.
DEVICE_PROPERTIES: Final[tuple[str, ...]] = (
    "accountEnabled",
    "deviceCategory",
    "deviceId",
    "deviceManagementAppId",
    "deviceManufacturer",
    "deviceModel",
    "deviceOSType",
    "deviceOSVersion",
    "deviceOwnership",
    "devicePhysicalIds",
    "deviceTrustType",
    "displayName",
    "enrollmentProfileName",
    *(f"extensionAttribute{number}" for number in range(1, 16)),
    "isRooted",
    "managementType",
    "memberOf",
    "objectId",
    "profileType",
    "systemLabels",
)
_CANONICAL_DEVICE_PROPERTIES: Final = {name.casefold(): name for name in DEVICE_PROPERTIES}


# --- lexer ---------------------------------------------------------------------------------------


class _RuleSyntaxError(Exception):
    pass


class _TokenKind(Enum):
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    STRING = "string"
    NUMBER = "number"
    WORD = "word"
    # An operator written with its hyphen (`-eq`); the text is the lower-case name.
    DASHED = "dashed word"
    END = "end of rule"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    text: str
    position: int


_PUNCTUATION: Final = {
    "(": _TokenKind.LPAREN,
    ")": _TokenKind.RPAREN,
    "[": _TokenKind.LBRACKET,
    "]": _TokenKind.RBRACKET,
    ",": _TokenKind.COMMA,
}
# Microsoft's own examples print `–eq` and `–and` with an en dash; rules pasted from them carry it.
_HYPHENS: Final = "-\u2013\u2014"
_WORD_PATTERN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER_PATTERN: Final = re.compile(r"[0-9]+")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, index))
            index += 1
        elif char == '"':
            value, index = _double_quoted(text, index)
            tokens.append(_Token(_TokenKind.STRING, value, index))
        elif char == "'":
            value, index = _single_quoted(text, index)
            tokens.append(_Token(_TokenKind.STRING, value, index))
        elif char == "`":
            value, index = _backtick_escaped(text, index)
            tokens.append(_Token(_TokenKind.STRING, value, index))
        elif (
            char in _HYPHENS
            and index + 1 < len(text)
            and text[index + 1].isascii()
            and (text[index + 1].isalpha())
        ):
            word = _WORD_PATTERN.match(text, index + 1)
            assert word is not None  # an ASCII letter always starts a word
            tokens.append(_Token(_TokenKind.DASHED, word.group().casefold(), index))
            index = word.end()
        elif (number := _NUMBER_PATTERN.match(text, index)) is not None:
            tokens.append(_Token(_TokenKind.NUMBER, number.group(), index))
            index = number.end()
        elif (word := _WORD_PATTERN.match(text, index)) is not None:
            tokens.append(_Token(_TokenKind.WORD, word.group(), index))
            index = word.end()
        else:
            raise _RuleSyntaxError(f"unexpected character {char!r} at position {index}")
    tokens.append(_Token(_TokenKind.END, "", len(text)))
    return tokens


def _double_quoted(text: str, start: int) -> tuple[str, int]:
    # Entra escapes a double quote inside a string with a backtick (`"); a backslash is literal,
    # which matters for -match patterns such as "^PC\d+".
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "`" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise _RuleSyntaxError(f"string starting at position {start} is not closed")


def _backtick_escaped(text: str, start: int) -> tuple[str, int]:
    # Microsoft's page gives user.department -eq `"Sales`" for the value "Sales" in quotes: an
    # unquoted value made of escaped characters, running to the next space or bracket.
    chars: list[str] = []
    index = start
    while index < len(text) and not text[index].isspace() and text[index] not in _PUNCTUATION:
        if text[index] == "`":
            if index + 1 >= len(text):
                raise _RuleSyntaxError(f"backtick at position {index} escapes nothing")
            chars.append(text[index + 1])
            index += 2
        elif text[index] in "\"'":
            raise _RuleSyntaxError(f"unescaped quote at position {index}")
        else:
            chars.append(text[index])
            index += 1
    return "".join(chars), index


def _single_quoted(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "'" and text.startswith("''", index):
            chars.append("'")
            index += 2
        elif char == "'":
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise _RuleSyntaxError(f"string starting at position {start} is not closed")


# --- parser --------------------------------------------------------------------------------------

_COMPARISON_OPERATORS: Final = {op.value[1:].casefold(): op for op in ComparisonOperator}
_QUANTIFIERS: Final = {q.value[1:].casefold(): q for q in Quantifier}
# Operators Entra knows that this evaluator does not: date arithmetic and the memberOf preview.
_UNSUPPORTED_OPERATORS: Final = frozenset({"le", "ge", "lt", "gt", "plus", "minus", "memberof"})
_DIRECT_REPORTS: Final = re.compile(r'\s*direct\s+reports\s+for\s+"([^"]*)"\s*', re.IGNORECASE)


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._index = 0
        self._depth = 0

    def parse(self) -> Expression:
        expression = self._or(in_collection=False)
        token = self._peek()
        if token.kind is not _TokenKind.END:
            raise _RuleSyntaxError(
                f"unexpected {token.text or token.kind.value!r} at position {token.position}"
            )
        return expression

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _TokenKind.END:
            self._index += 1
        return token

    def _operator_name(self, token: _Token) -> str | None:
        """The lower-case operator a token spells, with or without its hyphen."""
        if token.kind is _TokenKind.DASHED:
            return token.text
        if token.kind is _TokenKind.WORD and "." not in token.text:
            return token.text.casefold()
        return None

    def _at_operator(self, *names: str) -> bool:
        return self._operator_name(self._peek()) in names

    def _descend(self) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise _RuleSyntaxError(f"nested deeper than {MAX_NESTING} levels")

    def _or(self, *, in_collection: bool) -> Expression:
        left = self._and(in_collection=in_collection)
        while self._at_operator("or"):
            self._advance()
            left = Or(left, self._and(in_collection=in_collection))
        return left

    def _and(self, *, in_collection: bool) -> Expression:
        left = self._not(in_collection=in_collection)
        while self._at_operator("and"):
            self._advance()
            left = And(left, self._not(in_collection=in_collection))
        return left

    def _not(self, *, in_collection: bool) -> Expression:
        if self._at_operator("not"):
            self._advance()
            self._descend()
            operand = self._not(in_collection=in_collection)
            self._depth -= 1
            return Not(operand)
        return self._primary(in_collection=in_collection)

    def _primary(self, *, in_collection: bool) -> Expression:
        token = self._peek()
        if token.kind is _TokenKind.LPAREN:
            self._advance()
            self._descend()
            expression = self._or(in_collection=in_collection)
            self._depth -= 1
            closing = self._advance()
            if closing.kind is not _TokenKind.RPAREN:
                raise _RuleSyntaxError(f"expected ')' at position {closing.position}")
            return expression
        operand = self._operand(in_collection=in_collection)
        operator_token = self._advance()
        name = self._operator_name(operator_token)
        if name is None:
            raise _RuleSyntaxError(f"expected an operator at position {operator_token.position}")
        if name in _QUANTIFIERS:
            return self._collection_condition(operand, _QUANTIFIERS[name], in_collection)
        if name in _COMPARISON_OPERATORS:
            operator = _COMPARISON_OPERATORS[name]
            return Comparison(operand, operator, self._value(operator))
        if name in _UNSUPPORTED_OPERATORS:
            raise _RuleSyntaxError(f"operator -{name} is not supported by this evaluator")
        raise _RuleSyntaxError(f"unknown operator {operator_token.text!r}")

    def _collection_condition(
        self, operand: Operand, quantifier: Quantifier, in_collection: bool
    ) -> CollectionCondition:
        if in_collection or not isinstance(operand, Property):
            raise _RuleSyntaxError(f"{quantifier.value} needs a device or user property before it")
        self._descend()
        # Entra gives -any / -all the lowest precedence, so everything after the operator is the
        # condition. A condition that mentions another property is therefore ambiguous.
        condition = self._or(in_collection=True)
        self._depth -= 1
        return CollectionCondition(operand, quantifier, condition)

    def _operand(self, *, in_collection: bool) -> Operand:
        token = self._advance()
        if token.kind is not _TokenKind.WORD:
            raise _RuleSyntaxError(
                f"expected a property at position {token.position}, found "
                f"{token.text or token.kind.value!r}"
            )
        if token.text == "_":
            if not in_collection:
                raise _RuleSyntaxError("'_' is only meaningful inside -any / -all")
            return CollectionItem()
        subject, dot, name = token.text.partition(".")
        if not dot or "." in name:
            raise _RuleSyntaxError(f"{token.text!r} is not an object.property name")
        subject_key = subject.casefold()
        if subject_key in (DEVICE, USER):
            if in_collection:
                raise _RuleSyntaxError(
                    f"the -any / -all condition mentions {token.text!r}; Entra applies -any / "
                    "-all last, so the rule is ambiguous without parentheses"
                )
            if subject_key == DEVICE:
                name = _CANONICAL_DEVICE_PROPERTIES.get(name.casefold(), name)
            return Property(subject_key, name)
        if in_collection:
            return ItemProperty(subject, name)
        raise _RuleSyntaxError(f"{subject!r} is neither device nor user")

    def _value(self, operator: ComparisonOperator) -> Value:
        if operator in (ComparisonOperator.IN, ComparisonOperator.NOT_IN):
            if self._peek().kind is not _TokenKind.LBRACKET:
                raise _RuleSyntaxError(f"{operator.value} needs a [list] of values")
            return self._list()
        token = self._peek()
        if token.kind is _TokenKind.LBRACKET:
            raise _RuleSyntaxError(f"{operator.value} compares with one value; use -in for a list")
        if token.kind is _TokenKind.WORD and token.text.casefold() == "null":
            self._advance()
            if operator not in (ComparisonOperator.EQ, ComparisonOperator.NE):
                raise _RuleSyntaxError("null can only be compared with -eq or -ne")
            return NullValue()
        value = self._scalar()
        if operator.positive is ComparisonOperator.MATCH:
            if not isinstance(value, StringValue):
                raise _RuleSyntaxError(f"{operator.value} needs a quoted regular expression")
            _compile_pattern(value.text)
        return value

    def _list(self) -> ListValue:
        self._advance()
        items: list[ScalarValue] = []
        if self._peek().kind is _TokenKind.RBRACKET:
            self._advance()
            return ListValue(())
        while True:
            items.append(self._scalar())
            separator = self._advance()
            if separator.kind is _TokenKind.RBRACKET:
                return ListValue(tuple(items))
            if separator.kind is not _TokenKind.COMMA:
                raise _RuleSyntaxError(f"expected ',' or ']' at position {separator.position}")

    def _scalar(self) -> ScalarValue:
        token = self._advance()
        if token.kind is _TokenKind.STRING:
            return StringValue(token.text)
        if token.kind is _TokenKind.NUMBER:
            return NumberValue(int(token.text))
        if token.kind is _TokenKind.WORD and token.text.casefold() in ("true", "false"):
            return BooleanValue(token.text.casefold() == "true")
        raise _RuleSyntaxError(
            f"expected a value at position {token.position}, found "
            f"{token.text or token.kind.value!r}"
        )


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    # Entra runs .NET regular expressions; a pattern Python cannot compile (named groups written
    # `(?<name>...)`, for one) is reported rather than approximated.
    try:
        return re.compile(pattern, re.IGNORECASE)
    except (re.error, OverflowError, RecursionError) as error:
        raise _RuleSyntaxError(
            f"regular expression {pattern!r} is not understood: {error}"
        ) from None


def parse_membership_rule(text: str | None) -> ParsedRule | UnsupportedRule:
    """Parse a group's `membershipRule`. Never raises: unreadable text is `UnsupportedRule`.

    The answer is immutable and a function of the text alone; the group kind and the membership
    prediction both ask for every dynamic group, so answers are remembered.
    """
    return _parse_membership_rule(text)


@lru_cache(maxsize=16384)
def _parse_membership_rule(text: str | None) -> ParsedRule | UnsupportedRule:
    if text is None or not text.strip():
        return UnsupportedRule("the group has no membership rule", text or "")
    if len(text) > MAX_RULE_LENGTH:
        return UnsupportedRule(
            f"the rule is longer than Entra's {MAX_RULE_LENGTH}-character limit", text
        )
    direct_reports = _DIRECT_REPORTS.fullmatch(text)
    if direct_reports is not None:
        return ParsedRule(DirectReports(direct_reports.group(1)), SubjectKind.USER, text)
    try:
        expression = _Parser(text).parse()
    except _RuleSyntaxError as error:
        return UnsupportedRule(str(error), text)
    return ParsedRule(expression, subject_kind_of(expression), text)


def subject_kind_of(expression: Expression) -> SubjectKind:
    subjects = {prop.subject for prop in _properties(expression)}
    if isinstance(expression, DirectReports):
        subjects.add(USER)
    if subjects == {DEVICE}:
        return SubjectKind.DEVICE
    if subjects == {USER}:
        return SubjectKind.USER
    return SubjectKind.MIXED


def _properties(expression: Expression) -> Iterator[Property]:
    match expression:
        case Comparison(operand=Property() as prop):
            yield prop
        case CollectionCondition(property=prop, condition=condition):
            yield prop
            yield from _properties(condition)
        case Not(operand=operand):
            yield from _properties(operand)
        case And(left=left, right=right) | Or(left=left, right=right):
            yield from _properties(left)
            yield from _properties(right)
        case _:
            return


# --- rendering -----------------------------------------------------------------------------------


def render_rule(rule: ParsedRule | Expression) -> str:
    """Canonical rule text: hyphenated operators, canonical property names, every compound
    operand in parentheses. `parse_membership_rule(render_rule(x))` gives `x` back."""
    expression = rule.expression if isinstance(rule, ParsedRule) else rule
    return _render(expression)


def _render(expression: Expression) -> str:
    match expression:
        case Comparison(operand=operand, operator=operator, value=value):
            return f"{_render_operand(operand)} {operator.value} {_render_value(value)}"
        case CollectionCondition(property=prop, quantifier=quantifier, condition=condition):
            return f"{_render_operand(prop)} {quantifier.value} ({_render(condition)})"
        case Not(operand=operand):
            return f"-not ({_render(operand)})"
        case And(left=left, right=right):
            return f"{_render_child(left)} -and {_render_child(right)}"
        case Or(left=left, right=right):
            return f"{_render_child(left)} -or {_render_child(right)}"
        case DirectReports(manager_id=manager_id):
            return f'Direct Reports for "{manager_id}"'


def _render_child(expression: Expression) -> str:
    if isinstance(expression, Comparison):
        return _render(expression)
    return f"({_render(expression)})"


def _render_operand(operand: Operand) -> str:
    match operand:
        case Property(subject=subject, name=name):
            return f"{subject}.{name}"
        case CollectionItem():
            return "_"
        case ItemProperty(variable=variable, name=name):
            return f"{variable}.{name}"


def _render_value(value: Value) -> str:
    match value:
        case StringValue(text=text):
            escaped = text.replace("`", "``").replace('"', '`"')
            return f'"{escaped}"'
        case BooleanValue(value=flag):
            return "true" if flag else "false"
        case NumberValue(value=number):
            return str(number)
        case NullValue():
            return "null"
        case ListValue(items=items):
            return "[" + ", ".join(_render_value(item) for item in items) + "]"


# --- evaluation ----------------------------------------------------------------------------------

Truth = bool | Unknown


@dataclass(frozen=True, slots=True)
class PhysicalIdBound:
    """Case-folded `devicePhysicalIds` values and prefixes of which a matching device has one.

    `exact`: carrying one is not only necessary but sufficient (the rule is nothing more than
    `-any _ -eq "..."` / `-any (_ -startsWith "...")`, possibly `-or`-ed), so the members can be
    read off an index without evaluating the rule at all.
    """

    values: frozenset[str]
    prefixes: frozenset[str]
    exact: bool

    def union(self, other: PhysicalIdBound) -> PhysicalIdBound:
        return PhysicalIdBound(
            self.values | other.values, self.prefixes | other.prefixes, self.exact and other.exact
        )


def physical_id_bound(rule: ParsedRule | Expression) -> PhysicalIdBound | None:
    """A necessary condition on `devicePhysicalIds`, read off the rule's shape, or None.

    A tenant with thousands of tag groups and devices cannot afford every rule against every
    device: a prediction evaluates only the devices an index says can match.
    """
    expression = rule.expression if isinstance(rule, ParsedRule) else rule
    match expression:
        case CollectionCondition(
            property=Property(subject=subject, name=name),
            quantifier=Quantifier.ANY,
            condition=condition,
        ) if subject == DEVICE and name.casefold() == "devicephysicalids":
            return _item_bound(condition)
        case And(left=left, right=right):
            bounds = [b for b in (physical_id_bound(left), physical_id_bound(right)) if b]
            if not bounds:
                return None
            # Either side is necessary; exact values narrow more than prefixes.
            chosen = min(bounds, key=lambda bound: (len(bound.prefixes), len(bound.values)))
            return PhysicalIdBound(chosen.values, chosen.prefixes, exact=False)
        case Or(left=left, right=right):
            left_bound, right_bound = physical_id_bound(left), physical_id_bound(right)
            if left_bound is None or right_bound is None:
                return None
            return left_bound.union(right_bound)
        case _:
            return None


def _item_bound(condition: Expression) -> PhysicalIdBound | None:
    match condition:
        case Comparison(
            operand=CollectionItem(), operator=ComparisonOperator.EQ, value=StringValue(text=text)
        ):
            return PhysicalIdBound(frozenset({text.casefold()}), frozenset(), exact=True)
        case Comparison(
            operand=CollectionItem(),
            operator=ComparisonOperator.STARTS_WITH,
            value=StringValue(text=text),
        ):
            return PhysicalIdBound(frozenset(), frozenset({text.casefold()}), exact=True)
        case Or(left=left, right=right):
            left_bound, right_bound = _item_bound(left), _item_bound(right)
            if left_bound is None or right_bound is None:
                return None
            return left_bound.union(right_bound)
        case And(left=left, right=right):
            bounds = [b for b in (_item_bound(left), _item_bound(right)) if b]
            if not bounds:
                return None
            chosen = bounds[0]
            return PhysicalIdBound(chosen.values, chosen.prefixes, exact=False)
        case _:
            return None


def evaluate(rule: ParsedRule | Expression, facts: DeviceFacts) -> Truth:
    """Whether a device with these facts satisfies the rule, or `Unknown` with the reason."""
    expression = rule.expression if isinstance(rule, ParsedRule) else rule
    return _evaluate(expression, facts, item=None)


def _evaluate(expression: Expression, facts: DeviceFacts, item: str | None) -> Truth:
    match expression:
        case Comparison(operand=operand, operator=operator, value=value):
            subject = _operand_value(operand, facts, item)
            if isinstance(subject, Unknown):
                return subject
            return _compare(subject, operator, value)
        case CollectionCondition(property=prop, quantifier=quantifier, condition=condition):
            return _quantify(prop, quantifier, condition, facts)
        case Not(operand=operand):
            result = _evaluate(operand, facts, item)
            return result if isinstance(result, Unknown) else not result
        case And(left=left, right=right):
            return _all_of((left, right), facts, item)
        case Or(left=left, right=right):
            return _any_of((left, right), facts, item)
        case DirectReports():
            return Unknown("a Direct Reports rule selects users, not devices")


def _all_of(expressions: tuple[Expression, ...], facts: DeviceFacts, item: str | None) -> Truth:
    unknown: Unknown | None = None
    for expression in expressions:
        result = _evaluate(expression, facts, item)
        if result is False:
            return False
        if isinstance(result, Unknown) and unknown is None:
            unknown = result
    return unknown if unknown is not None else True


def _any_of(expressions: tuple[Expression, ...], facts: DeviceFacts, item: str | None) -> Truth:
    unknown: Unknown | None = None
    for expression in expressions:
        result = _evaluate(expression, facts, item)
        if result is True:
            return True
        if isinstance(result, Unknown) and unknown is None:
            unknown = result
    return unknown if unknown is not None else False


def _operand_value(operand: Operand, facts: DeviceFacts, item: str | None) -> FactValue | Unknown:
    match operand:
        case CollectionItem():
            return item
        case ItemProperty(variable=variable, name=name):
            return Unknown(f"{variable}.{name} is a property of an object collection, not known")
        case Property(subject=subject, name=name):
            if subject != DEVICE:
                return Unknown(f"{subject}.{name} is a {subject} property, not a device fact")
            key = name.casefold()
            if key not in facts:
                return Unknown(f"device.{name} is not known for this device")
            return facts[key]


def _quantify(
    prop: Property, quantifier: Quantifier, condition: Expression, facts: DeviceFacts
) -> Truth:
    values = _operand_value(prop, facts, None)
    if isinstance(values, Unknown):
        return values
    if values is None:
        values = ()
    if not isinstance(values, tuple):
        return Unknown(
            f"device.{prop.name} is not multi-valued, so {quantifier.value} cannot apply"
        )
    results = (_evaluate(condition, facts, item) for item in values)
    decisive = quantifier is Quantifier.ANY
    unknown: Unknown | None = None
    for result in results:
        if result is decisive:
            return decisive
        if isinstance(result, Unknown) and unknown is None:
            unknown = result
    return unknown if unknown is not None else not decisive


def _compare(subject: FactValue, operator: ComparisonOperator, value: Value) -> Truth:
    if isinstance(value, NullValue):
        is_null = subject is None or subject in ("", ())
        return is_null if operator is ComparisonOperator.EQ else not is_null
    if isinstance(subject, tuple):
        # A string operator straight on a multi-valued property (the older Autopilot rule
        # `device.devicePhysicalIds -contains "[ZTDId]"`) holds when some item matches;
        # a negated operator holds when no item matches.
        matched = any(_matches(item, operator.positive, value) for item in subject)
    elif subject is None:
        matched = False
    else:
        matched = _matches(subject, operator.positive, value)
    return not matched if operator.is_negative else matched


def _matches(subject: str | bool | int, operator: ComparisonOperator, value: Value) -> bool:
    text = _comparable(subject)
    if isinstance(value, ListValue):
        return any(text == _comparable_value(item) for item in value.items)
    if isinstance(value, NullValue):
        return False
    expected = _comparable_value(value)
    if operator is ComparisonOperator.EQ:
        return text == expected
    if operator is ComparisonOperator.STARTS_WITH:
        return text.startswith(expected)
    if operator is ComparisonOperator.ENDS_WITH:
        return text.endswith(expected)
    if operator is ComparisonOperator.CONTAINS:
        return expected in text
    if operator is ComparisonOperator.MATCH and isinstance(value, StringValue):
        # The pattern compiled at parse time; `re` caches compiled patterns across devices.
        return re.search(value.text, _as_text(subject), re.IGNORECASE) is not None
    return False


def _as_text(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _comparable(value: str | bool | int) -> str:
    return _as_text(value).casefold()


def _comparable_value(value: ScalarValue) -> str:
    match value:
        case StringValue(text=text):
            return text.casefold()
        case BooleanValue(value=flag):
            return "true" if flag else "false"
        case NumberValue(value=number):
            return str(number)
