"""What a readiness rule says: metadata beside the rule, findings that carry data, not markup.

The JSON shape of a finding is the findings contract of docs/architecture.md (`ruleId`, `status`,
`severity`, `subject`, `scope`, `message`, `remediation`, `reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from rules.fast_init import fast_init


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    # A catalog entry tenant data cannot decide: a person must check it (rules/manual.py).
    # Never green, never a failure: it neither stops `check` nor alerts, and is counted apart.
    MANUAL = "manual"


class Severity(StrEnum):
    BLOCKER = "blocker"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: compare severities with this, never alphabetically."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.BLOCKER: 3}


class RuleKind(StrEnum):
    RULE = "rule"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class RuleMetadata:
    """Everything an admin or a pipeline needs to know about a rule, validated by a test."""

    id: str  # catalog id, e.g. "PRF-001"
    title: str  # the compliant state, e.g. "Pre-provisioning is allowed on the profile"
    severity: Severity  # severity of a failure unless the rule says otherwise per finding
    rationale: str  # why it breaks pre-provisioning, with the Microsoft doc it comes from
    remediation: str  # what to click: the Intune admin center path
    references: tuple[str, ...]  # Microsoft documentation the rule follows
    graph_reads: tuple[str, ...]  # snapshot collections the rule reads
    permissions: tuple[str, ...]  # least-privilege Graph permissions those reads need
    version: int = 1  # bump when the logic changes, so verdicts are not diffed across semantics
    inference: bool = False  # derived from documented behaviour rather than stated by Microsoft
    # What a person must check, step by step, where tenant data cannot decide (rules/manual.py).
    # Non-empty for a manual item; a rule may also carry it for the part it cannot decide.
    manual_steps: tuple[str, ...] = ()
    # RULE: decided from tenant data; MANUAL: an item a person checks (its findings are MANUAL).
    kind: RuleKind = RuleKind.RULE


@fast_init
@dataclass(frozen=True, slots=True)
class Subject:
    """The object a finding is about."""

    type: str  # e.g. "mobileApp", "autopilotProfile", "group", "tenant"
    id: str
    display_name: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "displayName": self.display_name}


@fast_init
@dataclass(frozen=True, slots=True)
class Scope:
    """The pre-provisioning profile (and its Autopilot device groups) a verdict was made for."""

    profile_id: str
    profile_name: str
    group_ids: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": {"id": self.profile_id, "displayName": self.profile_name},
            "groups": [
                {"id": group_id, "displayName": name}
                for group_id, name in zip(self.group_ids, self.group_names, strict=False)
            ],
        }


@fast_init
@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    status: Status
    severity: Severity
    subject: Subject
    message: str
    reasons: tuple[str, ...] = ()
    scope: Scope | None = None
    # Registered Autopilot device ids the verdict concerns (at risk, for a failure).
    devices: tuple[str, ...] = ()
    # Other objects involved (the ESP listing a blocking app, the group an app targets...).
    related: tuple[Subject, ...] = ()
    remediation: str = ""
    # Set by the engine when the rule itself raised: the verdict is UNKNOWN for that reason.
    rule_error: bool = False

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "ruleId": self.rule_id,
            "status": self.status.value,
            "severity": self.severity.value,
            "subject": self.subject.as_json(),
            "scope": self.scope.as_json() if self.scope else None,
            "message": self.message,
            "remediation": self.remediation,
            "reasons": list(self.reasons),
            "devices": list(self.devices),
            "related": [subject.as_json() for subject in self.related],
        }
        if self.rule_error:
            document["ruleError"] = True
        return document


TENANT_SUBJECT_TYPE = "tenant"


@lru_cache(maxsize=512)
def _sorted_ids(devices: frozenset[str]) -> tuple[str, ...]:
    """Findings of one profile share its device set: sort it once, share the tuple."""
    return tuple(sorted(devices))


# A rule passes the same tuple of a profile's devices to every finding of that profile: remember
# its sorted form by identity (the entry keeps the tuple alive, so its id stays its own) instead
# of building a frozenset of thousands of ids for each finding.
_SORTED_TUPLES: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_SORTED_TUPLES_MAX = 4096


# The same for the frozensets a profile's findings share, by identity first: the content-keyed
# cache above keeps the first equal set it saw as its key, so once an earlier evaluation's set is
# the key (a long-lived process evaluates again and again), every lookup with the new, equal set
# would compare thousands of ids; by identity that comparison happens once per set.
_SORTED_SETS: dict[int, tuple[frozenset[str], tuple[str, ...]]] = {}


def _sorted_set(devices: frozenset[str]) -> tuple[str, ...]:
    known = _SORTED_SETS.get(id(devices))
    if known is not None and known[0] is devices:
        return known[1]
    result = _sorted_ids(devices)
    if len(_SORTED_SETS) >= _SORTED_TUPLES_MAX:
        _SORTED_SETS.clear()
    _SORTED_SETS[id(devices)] = (devices, result)
    return result


def _device_ids(devices: tuple[str, ...] | list[str] | frozenset[str]) -> tuple[str, ...]:
    """Sorted, without duplicates; one device (every per-device rule) needs neither."""
    if isinstance(devices, tuple):
        if len(devices) <= 1:
            return tuple(devices)
    elif isinstance(devices, frozenset):
        return _sorted_set(devices)
    elif len(devices) <= 1:
        return tuple(devices)
    else:
        return _sorted_ids(frozenset(devices))
    known = _SORTED_TUPLES.get(id(devices))
    if known is not None and known[0] is devices:
        return known[1]
    result = _sorted_ids(frozenset(devices))
    if len(_SORTED_TUPLES) >= _SORTED_TUPLES_MAX:
        _SORTED_TUPLES.clear()
    _SORTED_TUPLES[id(devices)] = (devices, result)
    return result


@dataclass(frozen=True, slots=True)
class FindingBuilder:
    """Shorthand used inside a rule module: fills rule id, default severity and remediation."""

    metadata: RuleMetadata
    scope: Scope | None = None
    extra_reasons: tuple[str, ...] = field(default=())

    def _make(
        self,
        status: Status,
        subject: Subject,
        message: str,
        reasons: tuple[str, ...] | list[str],
        severity: Severity | None,
        devices: tuple[str, ...] | list[str] | frozenset[str],
        related: tuple[Subject, ...] | list[Subject],
        scope: Scope | None,
    ) -> Finding:
        metadata = self.metadata
        extra = self.extra_reasons
        # Positional, in field order: this runs for every finding of a large tenant.
        return Finding(
            metadata.id,
            status,
            severity or metadata.severity,
            subject,
            message,
            extra + tuple(reasons) if extra else tuple(reasons),
            scope if scope is not None else self.scope,
            _device_ids(devices),
            tuple(related),
            metadata.remediation,
        )

    def passed(
        self,
        subject: Subject,
        message: str,
        reasons: tuple[str, ...] | list[str] = (),
        *,
        devices: tuple[str, ...] | list[str] | frozenset[str] = (),
        related: tuple[Subject, ...] | list[Subject] = (),
        scope: Scope | None = None,
    ) -> Finding:
        return self._make(Status.PASS, subject, message, reasons, None, devices, related, scope)

    def failed(
        self,
        subject: Subject,
        message: str,
        reasons: tuple[str, ...] | list[str] = (),
        *,
        severity: Severity | None = None,
        devices: tuple[str, ...] | list[str] | frozenset[str] = (),
        related: tuple[Subject, ...] | list[Subject] = (),
        scope: Scope | None = None,
    ) -> Finding:
        return self._make(Status.FAIL, subject, message, reasons, severity, devices, related, scope)

    def unknown(
        self,
        subject: Subject,
        message: str,
        reasons: tuple[str, ...] | list[str] = (),
        *,
        devices: tuple[str, ...] | list[str] | frozenset[str] = (),
        related: tuple[Subject, ...] | list[Subject] = (),
        scope: Scope | None = None,
    ) -> Finding:
        """Data that could not be read or reasoned about: never a pass. `message` says why."""
        return self._make(Status.UNKNOWN, subject, message, reasons, None, devices, related, scope)

    def manual(
        self,
        subject: Subject,
        message: str,
        steps: tuple[str, ...] | list[str] = (),
        *,
        devices: tuple[str, ...] | list[str] | frozenset[str] = (),
        related: tuple[Subject, ...] | list[Subject] = (),
        scope: Scope | None = None,
    ) -> Finding:
        """What tenant data cannot decide: `steps` (default: the metadata's) say what to check."""
        checks = tuple(steps) or self.metadata.manual_steps
        return self._make(Status.MANUAL, subject, message, checks, None, devices, related, scope)

    def not_applicable(
        self,
        subject: Subject,
        message: str,
        reasons: tuple[str, ...] | list[str] = (),
        *,
        scope: Scope | None = None,
    ) -> Finding:
        return self._make(
            Status.NOT_APPLICABLE, subject, message, reasons, Severity.INFO, (), (), scope
        )
