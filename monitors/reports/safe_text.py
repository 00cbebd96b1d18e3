"""Tenant text made inert for each place it is shown: a terminal, a CSV cell, a Teams card.

Whoever names an object in the tenant chooses its display name; a name is data, never an
instruction to the terminal, the spreadsheet or the chat client that shows it.

- `printable`: control characters (C0, DEL, C1 with ESC and CSI), bidirectional overrides and
  isolates, line and paragraph separators and lone surrogates each become one `?`. One
  character for one, so `rich` styles laid over a string keep their places.
- `csv_cell`: `printable`, then a leading `=`, `+`, `-`, `@`, tab or carriage return is
  quoted with `'` so no spreadsheet reads the cell as a formula (OWASP CSV injection).
- `card_text`: `printable` on one line, then every character Adaptive Card Markdown (and
  Teams' autolinking of `<…>` and its `{{DATE()}}` functions) gives meaning to is
  backslash-escaped, so neither a link nor emphasis nor a heading can be smuggled in. Brackets
  *and* parentheses are escaped: a client that ignores backslash escapes still never sees `](`.
"""

from __future__ import annotations

import re
from typing import Final

# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates and marks; the Unicode line
# and paragraph separators; zero-width joiners are harmless and kept. Lone surrogates last.
_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
# `json.dumps` already escapes C0 inside strings; its own indentation uses \n, left alone.
_UNSAFE_IN_JSON: Final = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
# Markdown emphasis, code, links and images, autolinks, strike-through, tables, headings, and
# the `{{DATE(…)}}` functions Teams expands in card text.
_CARD_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]()#!|~<>])")


def printable(text: str) -> str:
    """Every unsafe character as one `?` (length preserved)."""
    return _UNSAFE.sub("?", text)


def one_line(text: str) -> str:
    """`printable`, with line breaks and tabs first turned into spaces and runs collapsed."""
    return printable(" ".join(text.split()))


def csv_cell(value: str) -> str:
    cleaned = printable(value)
    return "'" + cleaned if cleaned.startswith(_FORMULA_START) else cleaned


def card_text(text: str, limit: int = 300) -> str:
    """Tenant text for a TextBlock or a fact value: inert Markdown on one line, at most
    `limit` characters before escaping (a card must stay under Teams' ~28 KB)."""
    flat = one_line(text)
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _CARD_SPECIAL.sub(r"\\\1", flat)


def plain_text(text: str) -> str:
    """Tenant text where no Markdown is rendered (button titles, JSON data): no controls."""
    return one_line(text)


def inert_json(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with every unsafe character
    spelled as a `\\uXXXX` escape: the same JSON value, nothing a terminal acts on. JSON's
    own syntax is ASCII, so such a character can only be inside a string."""
    if text.isascii() and "\x7f" not in text:
        return text  # DEL is the only unsafe character in ASCII; both tests run in C
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
