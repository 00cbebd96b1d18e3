"""What one alert says: a transition, and the facts around it that an admin acts on.

The store keeps a transition's verdict record, not the devices at risk or the other objects a
finding named, so the evaluation that produced the transition hands those over here (see
`Alert.for_transition`). Change events come from the store's causes (`cause_event_ids`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from monitors.attestation import attested_basis
from monitors.store.records import ChangeEvent, StoredStatus, Transition
from rules import tenant_collections as tc
from rules.findings import Finding, Severity

# A digest of one tenant's alerts lists at most this many lines; the rest is "and N more".
MAX_DIGEST_LINES = 25


class AlertKind(StrEnum):
    NEW_FAILURE = "new_failure"
    RESOLVED = "resolved"
    BLIND = "unknown"  # the monitor cannot see: the verdict is UNKNOWN, never green


class BlindCause(StrEnum):
    """Why data could not be read, as far as the verdict's reasons say."""

    PERMISSION = "permission"
    THROTTLING = "throttling"
    OUTAGE = "outage"
    MISSING_DATA = "missing data"
    RULE_ERROR = "rule error"
    ATTESTATION = "attestation lapsed"  # an attested value expired or the policy changed
    OTHER = "other"


# Checked in order: a 403 that mentions a timeout is still a permission problem to fix first.
_BLIND_PATTERNS: tuple[tuple[BlindCause, re.Pattern[str]], ...] = (
    (BlindCause.RULE_ERROR, re.compile(r"rule raised|could not be evaluated: \w+Error", re.I)),
    (BlindCause.ATTESTATION, re.compile(r"attestation no longer holds|attest it again", re.I)),
    (
        BlindCause.PERMISSION,
        re.compile(r"\((401|403)\b|forbidden|permission|unauthori[sz]ed|delegated", re.I),
    ),
    (BlindCause.THROTTLING, re.compile(r"\(429\b|throttl|too many requests", re.I)),
    (
        BlindCause.OUTAGE,
        re.compile(r"\(5\d\d\b|unavailable|timed out|timeout|outage|bad gateway", re.I),
    ),
    (BlindCause.MISSING_DATA, re.compile(r"not in the snapshot", re.I)),
)

_RESOLVED_TARGETS = (StoredStatus.PASS, StoredStatus.RESOLVED, StoredStatus.NOT_APPLICABLE)
_ALERTING_ORIGINS = (StoredStatus.FAIL, StoredStatus.UNKNOWN)


def alert_kind(transition: Transition) -> AlertKind | None:
    """The alert a transition deserves; None for quiet ones (a new subject that passes)."""
    if transition.to_status is StoredStatus.FAIL:
        return AlertKind.NEW_FAILURE
    if transition.to_status is StoredStatus.UNKNOWN:
        return AlertKind.BLIND
    if transition.to_status in _RESOLVED_TARGETS and transition.from_status in _ALERTING_ORIGINS:
        return AlertKind.RESOLVED
    return None


def blind_cause(message: str, reasons: Iterable[str]) -> BlindCause:
    text = "\n".join((message, *reasons))
    for cause, pattern in _BLIND_PATTERNS:
        if pattern.search(text):
            return cause
    return BlindCause.OTHER


@dataclass(frozen=True, slots=True)
class InvolvedObject:
    type: str
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Alert:
    """One transition worth telling an admin about, with everything the card shows."""

    kind: AlertKind
    transition: Transition
    tenant_name: str = ""  # e.g. the tenant's primary domain; the id is shown when empty
    devices_at_risk: int | None = None  # registered Autopilot devices; None: not known
    involved: tuple[InvolvedObject, ...] = ()
    causes: tuple[ChangeEvent, ...] = ()

    @classmethod
    def for_transition(
        cls,
        transition: Transition,
        *,
        finding: Finding | None = None,
        causes: Iterable[ChangeEvent] = (),
        tenant_name: str = "",
    ) -> Alert | None:
        """The alert for `transition`, or None when it is a quiet one.

        `finding` is the evaluation's finding for the same (rule, scope, subject), when there is
        one: it carries the devices and the related objects the store does not keep.
        """
        kind = alert_kind(transition)
        if kind is None:
            return None
        wanted = set(transition.cause_event_ids)
        return cls(
            kind=kind,
            transition=transition,
            tenant_name=tenant_name,
            devices_at_risk=len(finding.devices) if finding is not None else None,
            involved=tuple(
                InvolvedObject(subject.type, subject.id, subject.display_name)
                for subject in (finding.related if finding is not None else ())
            ),
            causes=tuple(
                sorted(
                    (event for event in causes if event.event_id in wanted),
                    key=lambda event: event.at,
                )
            ),
        )

    @property
    def tenant_id(self) -> str:
        return self.transition.tenant_id

    @property
    def severity(self) -> Severity:
        try:
            return Severity(self.transition.record.severity)
        except ValueError:  # a severity this code does not know: treat it as the worst
            return Severity.BLOCKER

    @property
    def blind_cause(self) -> BlindCause | None:
        if self.kind is not AlertKind.BLIND:
            return None
        record = self.transition.record
        return blind_cause(record.message, record.reasons)

    @property
    def key(self) -> str:
        """Stable identity of this alert: the same transition always gives the same key."""
        record = self.transition.record
        return alert_key(
            self.tenant_id,
            self.transition.run_id,
            str(self.transition.seq),
            record.rule_id,
            record.scope_id,
            record.subject_type,
            record.subject_id,
            self.transition.to_status.value,
        )


# Which application permission reads each snapshot collection (docs/permissions.md); a test
# checks that every rule reading a collection declares it.
COLLECTION_PERMISSIONS: Final = {
    tc.AUTOPILOT_PROFILES: "DeviceManagementServiceConfig.Read.All",
    tc.AUTOPILOT_DEVICES: "DeviceManagementServiceConfig.Read.All",
    tc.ENROLLMENT_CONFIGURATIONS: "DeviceManagementServiceConfig.Read.All",
    tc.DOMAIN_JOIN_CONNECTORS: "DeviceManagementServiceConfig.Read.All",
    tc.DEVICE_CONFIGURATIONS: "DeviceManagementConfiguration.Read.All",
    tc.SETTINGS_CATALOG_POLICIES: "DeviceManagementConfiguration.Read.All",
    tc.COMPLIANCE_POLICIES: "DeviceManagementConfiguration.Read.All",
    tc.ASSIGNMENT_FILTERS: "DeviceManagementConfiguration.Read.All",
    tc.PLATFORM_SCRIPTS: "DeviceManagementManagedDevices.Read.All",
    tc.MOBILE_APPS: "DeviceManagementApps.Read.All",
    tc.GROUPS: "GroupMember.Read.All",
    tc.DEVICES: "Device.Read.All",
    tc.MDM_POLICIES: "Policy.Read.All (delegated)",
    tc.DEVICE_REGISTRATION_POLICY: "Policy.Read.DeviceConfiguration",
    tc.CONDITIONAL_ACCESS_POLICIES: "Policy.Read.All",
}

# `RuleContext.unreadable` writes "<path> could not be read (<status> <message>)".
_UNREADABLE = re.compile(r"^(?P<path>[A-Za-z/]+) could not be read \((?P<detail>.*)\)$", re.S)


@dataclass(frozen=True, slots=True)
class UnreadableCollection:
    """A collection a blind verdict could not read, and what Graph answered."""

    path: str
    status: int | None  # the HTTP status, None when the collection was simply not read
    problem: str  # e.g. "403 Forbidden", "not in the snapshot"


def unreadable_collection(alert: Alert) -> UnreadableCollection | None:
    """The first known collection the blind verdict's reasons say could not be read.

    None when the verdict is blind because an attestation lapsed: that card asks for a new
    attestation, it is not one more verdict of an unreadable collection."""
    if alert.blind_cause is BlindCause.ATTESTATION:
        return None
    for reason in alert.transition.record.reasons:
        match = _UNREADABLE.match(reason.strip())
        if match is None or match["path"] not in COLLECTION_PERMISSIONS:
            continue
        detail = " ".join(match["detail"].split())[:120]
        status_text = detail.split(" ", 1)[0]
        status = int(status_text) if status_text.isdigit() and len(status_text) == 3 else None
        # Keyed by the status, not the message: one outage, one card.
        problem = detail if status is None else f"HTTP {status}"
        return UnreadableCollection(match["path"], status, problem)
    return None


def collection_permission(path: str) -> str | None:
    return COLLECTION_PERMISSIONS.get(path)


def attestation_basis(reasons: Iterable[str]) -> str | None:
    """What an operator attested (value, who, when, expiry) when the verdict rests on it."""
    return attested_basis(reasons)


def alert_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]
