"""Bucket entities: the verdict records of one (rule, scope) packed by a hash prefix.

A state entity is either a *bucket* (`b|rule|scope|prefix`, every record of the (rule, scope)
whose subject hashes to `prefix`, JSON split over `Data0..N`, with the previous content in
`Prev0..N`) or a row of the previous layout (`s|rule|scope|subjectType|subjectId`, one record),
which is still read and is migrated into buckets by the next writer of its rule.

Pure: no I/O. docs/storage.md, "Buckets", has the layout and why.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from monitors.store.diff import is_counted
from monitors.store.keys import (
    BUCKET_ROW_PREFIX,
    SEPARATOR,
    digest,
    key_part,
    state_row_key,
)
from monitors.store.records import VerdictRecord

# Records per bucket: a (rule, scope) gets the smallest prefix length that keeps its buckets at
# most 2 * TARGET_RECORDS records on average (so 8-128 at the default), keeps that length while
# it averages between one record per bucket and 2 * TARGET_RECORDS, and only then gets a new
# one: a layout is stable across evaluations and changes only when the number of records moves
# by 2-16x. Lengths go in hex characters (16x steps), so the fresh choice takes the top of the
# range: at 16x per step the bottom would leave most buckets nearly empty.
TARGET_RECORDS = 64
MAX_PREFIX = 4
# Characters of one bucket's records (JSON); the previous content doubles it. A (rule, scope)
# whose largest bucket would exceed this gets a longer prefix (entity limit: 1 MiB UTF-16).
MAX_BUCKET_CHARS = 200_000
PART_CHARS = 30_000  # per property (Table Storage: 32 K UTF-16 characters)
MAX_PARTS = 60


@dataclass(frozen=True, slots=True)
class Item:
    """One record as a state entity holds it, with the run that last changed its status."""

    record: VerdictRecord
    tseq: int = 0  # the sequence number whose write was a status change of this record
    tfrom: str = ""  # the status it changed from


Content = dict[str, Item]  # record key (the previous layout's row key) -> item


def record_key(record: VerdictRecord) -> str:
    return state_row_key(record.rule_id, record.scope_id, record.subject_type, record.subject_id)


def group_of_record(record: VerdictRecord) -> tuple[str, str]:
    return key_part(record.rule_id), key_part(record.scope_id)


def group_of_key(row_key: str) -> tuple[str, str]:
    """(rule, scope) key parts of a bucket or a row of the previous layout."""
    parts = row_key[2:].split(SEPARATOR)
    return parts[0], parts[1] if len(parts) > 1 else ""


def is_bucket(row_key: str) -> bool:
    return row_key.startswith(BUCKET_ROW_PREFIX)


def prefix_length(row_key: str) -> int:
    return len(row_key[2:].split(SEPARATOR)[2])


def bucket_key(record: VerdictRecord, length: int) -> str:
    rule, scope = group_of_record(record)
    prefix = _subject_digest(record.subject_type, record.subject_id)[:length]
    return SEPARATOR.join((BUCKET_ROW_PREFIX + rule, scope, prefix))


# A pure function of two short strings, asked again for the same subjects at every write of a
# rule (a write sizes every bucket of the rules it evaluated, at each prefix length): cached,
# bounded (a few MiB at most).
@functools.lru_cache(maxsize=1 << 16)
def _subject_digest(subject_type: str, subject_id: str) -> str:
    return digest(subject_type, subject_id, length=MAX_PREFIX)


def choose_length(items: Iterable[Item], current: int | None, target: int = TARGET_RECORDS) -> int:
    """The prefix length of a (rule, scope) holding `items` (stable: see TARGET_RECORDS)."""
    listed = list(items)
    count = len(listed)
    most = 2 * target
    if current is not None and (current == 0 or count >= 16**current):
        length = current if count <= most * 16**current else _fresh(count, most)
    else:
        length = _fresh(count, most)
    while length < MAX_PREFIX and _largest(listed, length) > MAX_BUCKET_CHARS:
        length += 1
    return length


def _fresh(count: int, most: int) -> int:
    length = 0
    while length < MAX_PREFIX and count > most * 16**length:
        length += 1
    return length


def _largest(items: list[Item], length: int) -> int:
    sizes: dict[str, int] = {}
    for item in items:
        key = bucket_key(item.record, length)
        sizes[key] = sizes.get(key, 0) + len(_item_text(item))
    return max(sizes.values(), default=0)


def loud(content: Mapping[str, Item]) -> bool:
    """Holds a record that reads as something (not only tombstones)."""
    return any(not is_counted(item.record) for item in content.values())


def same(left: Mapping[str, Item], right: Mapping[str, Item]) -> bool:
    return left.keys() == right.keys() and all(
        left[key].record == right[key].record for key in left
    )


def _item_json(item: Item) -> dict[str, Any]:
    document = item.record.as_columns()
    if item.tseq:
        document["TSeq"] = item.tseq
        document["TFrom"] = item.tfrom
    return document


def _item_text(item: Item) -> str:
    return json.dumps(_item_json(item), ensure_ascii=False, separators=(",", ":"))


def content_text(content: Mapping[str, Item]) -> str:
    ordered = [content[key] for key in sorted(content)]
    return json.dumps(
        [_item_json(item) for item in ordered], ensure_ascii=False, separators=(",", ":")
    )


def parse_content(text: str) -> Content:
    content: Content = {}
    for document in json.loads(text or "[]"):
        record = VerdictRecord.from_columns(document)
        content[record_key(record)] = Item(
            record, int(document.get("TSeq", 0)), str(document.get("TFrom", ""))
        )
    return content


def split_columns(
    name: str, data: str | bytes, *, part: int = PART_CHARS, max_parts: int = MAX_PARTS
) -> dict[str, Any]:
    """`data` over `{name}0..N` properties of at most `part` characters (or bytes) each."""
    parts = [data[i : i + part] for i in range(0, len(data), part)] or [data[:0]]
    if len(parts) > max_parts:
        raise ValueError(f"a state bucket's {name} of {len(data)} characters is too large")
    columns: dict[str, Any] = {f"{name}Parts": len(parts)}
    columns.update({f"{name}{index}": chunk for index, chunk in enumerate(parts)})
    return columns


def joined(entity: Mapping[str, Any], name: str) -> str:
    parts = int(entity.get(f"{name}Parts", 0) or 0)
    return "".join(str(entity.get(f"{name}{index}", "")) for index in range(parts))


def joined_bytes(entity: Mapping[str, Any], name: str) -> bytes:
    """The binary value `split_columns` spread over `{name}0..N`."""
    parts = int(entity.get(f"{name}Parts", 0) or 0)
    return b"".join(bytes(entity.get(f"{name}{index}") or b"") for index in range(parts))


def bucket_content(entity: Mapping[str, Any], committed: int) -> Content:
    """The visible content of a bucket: its own when its Seq is committed, else its Prev."""
    if int(entity.get("Seq", 0)) <= committed:
        return parse_content(joined(entity, "Data"))
    return parse_content(joined(entity, "Prev"))


def row_content(entity: Mapping[str, Any], committed: int) -> Content:
    """The visible content of a row of the previous layout (one record or none)."""
    if int(entity.get("Seq", 0)) <= committed:
        if not entity.get("Exists", True):
            return {}
        record = VerdictRecord.from_columns(entity)
        tseq = int(entity.get("TSeq", 0) or 0)
        return {str(entity["RowKey"]): Item(record, tseq, str(entity.get("TFrom", "") or ""))}
    previous = json.loads(entity.get("Prev") or "null")
    if not previous:
        return {}
    return {str(entity["RowKey"]): Item(VerdictRecord.from_columns(previous))}


def visible_content(entity: Mapping[str, Any], committed: int) -> Content:
    if is_bucket(str(entity["RowKey"])):
        return bucket_content(entity, committed)
    return row_content(entity, committed)


def previous_content(entity: Mapping[str, Any]) -> Content:
    """What an entity read as before its last write (a repair puts this back)."""
    return visible_content(entity, committed=-1)
