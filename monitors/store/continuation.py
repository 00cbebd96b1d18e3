"""Continuation tokens for newest-first pages: which month partition, after which row key.

The token is opaque to callers (base64url JSON) and fully validated on the way back in: it
names a month inside the queried range and a row key made only of key-safe characters. It is
then used as a query *parameter*, never as filter text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

# Items per page of a listing (history, changes, runs): the default and the most one page holds.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1_000
MAX_TOKEN_LENGTH = 512
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,512}={0,2}$")
_MONTH = re.compile(r"^\d{6}$")
_ROW_KEY = re.compile(r"^[A-Za-z0-9|~._@-]{0,300}$")


class InvalidQueryError(ValueError):
    """A query the store cannot answer as asked (bad range, page size or continuation)."""


class InvalidContinuationError(InvalidQueryError):
    """A continuation token this store did not hand out (or one for another query range)."""


def encode_continuation(month: str, row_key: str) -> str:
    raw = json.dumps({"m": month, "r": row_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continuation(token: str, months: list[str]) -> tuple[str, str]:
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        raise InvalidContinuationError("continuation is not a token this service issued")
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidContinuationError("continuation is not a token this service issued") from None
    if not isinstance(document, dict) or set(document) != {"m", "r"}:
        raise InvalidContinuationError("continuation is not a token this service issued")
    month, row_key = document["m"], document["r"]
    if not (isinstance(month, str) and _MONTH.fullmatch(month)):
        raise InvalidContinuationError("continuation is not a token this service issued")
    if not (isinstance(row_key, str) and _ROW_KEY.fullmatch(row_key)):
        raise InvalidContinuationError("continuation is not a token this service issued")
    if month not in months:
        raise InvalidContinuationError("continuation does not belong to this time range")
    return month, row_key
