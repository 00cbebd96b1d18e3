"""Suppressions: one model for the CI gate (`greenscreen check --suppressions FILE`) and alerts
(`GREENSCREEN_ALERT_SUPPRESSIONS`).

An entry silences one rule for one subject (or every subject, `*`) of one tenant (or every
tenant, `*`) until it expires. Reason, owner and expiry are required: there are no anonymous or
permanent suppressions. An expired entry silences nothing; whoever reads it says so.

Document format (a JSON list, the same in the file and in the app setting):

    [{"rule": "APP-009", "subject": "<object id or *>", "tenant": "<tenant id or *>",
      "reason": "...", "owner": "...", "expires": "2026-12-31T00:00:00Z"}]

What a suppression does depends on its reader: `check` shows a suppressed finding as suppressed,
with its reason, and does not count it against `--fail-on`; alert delivery stores the transition
and sends no alert.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from monitors.store.keys import format_time, parse_time

ANY: Final = "*"
# A suppression file is a short hand-written list; anything bigger is not one.
MAX_FILE_BYTES: Final = 1024 * 1024
_KEYS: Final = frozenset({"rule", "subject", "tenant", "reason", "owner", "expires"})


class SuppressionError(ValueError):
    """A suppression list is malformed; the message names the entry and the field, one line."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """Silence one rule (for one subject or all) until `expires`."""

    rule_id: str
    subject_id: str  # "*": every subject of the rule
    reason: str
    owner: str
    expires: datetime
    tenant_id: str = ANY

    def expired(self, now: datetime) -> bool:
        return now >= self.expires

    def applies(self, rule_id: str, subject_id: str, tenant_id: str, now: datetime) -> bool:
        """Whether this entry silences (rule, subject) of the tenant at `now`."""
        return (
            not self.expired(now)
            and self.rule_id == rule_id
            and self.subject_id in (ANY, subject_id)
            and self.tenant_id in (ANY, tenant_id)
        )

    def label(self) -> str:
        """`RULE subject` for messages: what the entry names, never its reason."""
        subject = "every subject" if self.subject_id == ANY else self.subject_id
        return f"{self.rule_id} {subject}"

    def as_json(self) -> dict[str, str]:
        return {
            "rule": self.rule_id,
            "subject": self.subject_id,
            "tenant": self.tenant_id,
            "reason": self.reason,
            "owner": self.owner,
            "expires": format_time(self.expires),
        }


def first_match(
    suppressions: Iterable[Suppression],
    rule_id: str,
    subject_id: str,
    tenant_id: str,
    now: datetime,
) -> Suppression | None:
    for suppression in suppressions:
        if suppression.applies(rule_id, subject_id, tenant_id, now):
            return suppression
    return None


def parse_suppressions(
    document: Any, where: str, *, known_rules: Collection[str] | None = None
) -> tuple[Suppression, ...]:
    """Entries of a parsed JSON document; `where` names the source in error messages."""
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise SuppressionError(f"{where} must be a JSON list of objects")
    return tuple(
        _entry(item, f"{where}[{index}]", known_rules) for index, item in enumerate(document)
    )


def parse_suppressions_text(
    text: str, where: str, *, known_rules: Collection[str] | None = None
) -> tuple[Suppression, ...]:
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError:
        raise SuppressionError(f"{where} is not valid JSON") from None
    except _DuplicateKey as duplicate:
        raise SuppressionError(f"{where}: key {duplicate.key!r} appears twice") from None
    return parse_suppressions(document, where, known_rules=known_rules)


def load_suppression_file(
    path: Path, *, known_rules: Collection[str] | None = None
) -> tuple[Suppression, ...]:
    """Read a suppression file strictly: a regular file, UTF-8, at most 1 MiB."""
    where = str(path)
    try:
        if not path.is_file():
            raise SuppressionError(
                f"{where}: is a directory" if path.is_dir() else f"{where}: no such file"
            )
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SuppressionError(f"{where}: larger than 1 MiB; not a suppression file")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise SuppressionError(f"{where}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise SuppressionError(f"{where}: is not UTF-8 text") from None
    return parse_suppressions_text(text, where, known_rules=known_rules)


def _entry(item: Mapping[str, Any], where: str, known_rules: Collection[str] | None) -> Suppression:
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise SuppressionError(f"{where}: unknown field {unknown[0]!r}")
    rule_id = _required(item, "rule", where)
    if known_rules is not None and rule_id not in known_rules:
        raise SuppressionError(f"{where}: rule {rule_id!r} is not in the catalog")
    expires_text = _required(item, "expires", where)
    try:
        expires = parse_time(expires_text)
    except ValueError:
        raise SuppressionError(f"{where}: expires must be an ISO 8601 time") from None
    return Suppression(
        rule_id=rule_id,
        subject_id=_optional(item, "subject", where),
        reason=_required(item, "reason", where),
        owner=_required(item, "owner", where),
        expires=expires,
        tenant_id=_optional(item, "tenant", where),
    )


def _required(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SuppressionError(f"{where}: {key} is required")
    return value.strip()


def _optional(item: Mapping[str, Any], key: str, where: str) -> str:
    if key not in item:
        return ANY
    value = item[key]
    if not isinstance(value, str) or not value.strip():
        raise SuppressionError(f"{where}: {key} must be an id or '*'")
    return value.strip()


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document
