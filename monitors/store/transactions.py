"""Entity group transactions: operations of one partition cut into submittable chunks.

Table Storage takes at most 100 operations per transaction, all in one partition, and a
payload of at most 4 MiB. Writers that put a guard operation of their own in front of every
chunk (an ETag-checked update of a head or layout entity) ask for 99.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

TRANSACTION_LIMIT: Final = 100  # operations per table transaction (one partition)


def operation_bytes(operation: tuple[Any, ...]) -> int:
    """Approximate payload bytes of one operation: UTF-8 strings, base64 binary, names."""
    size = 0
    for name, value in operation[1].items():
        if isinstance(value, bytes | bytearray):
            size += (len(value) + 2) // 3 * 4
        else:
            size += len(str(value).encode())
        size += len(name)
    return size


def transaction_chunks(
    operations: Iterable[tuple[Any, ...]], *, limit: int, budget: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Consecutive chunks of at most `limit` operations and `budget` bytes of data each.

    An operation larger than the budget goes alone in its chunk.
    """
    chunk: list[tuple[Any, ...]] = []
    size = 0
    for operation in operations:
        cost = operation_bytes(operation)
        if chunk and (len(chunk) == limit or size + cost > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(operation)
        size += cost
    if chunk:
        yield chunk
