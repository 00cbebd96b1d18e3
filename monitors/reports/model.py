"""What every rendering of a check shows, computed once from an evaluation.

Findings are grouped by the pre-provisioning profile they were evaluated for (their scope);
findings without a scope are tenant-wide. Within a group: failing first (worst severity first),
then unknown, then pass and not applicable. A profile's verdict counts its own findings and the
tenant-wide ones (a tenant-wide blocker stops every profile), never another profile's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitors.suppressions import Suppression, first_match
from rules.applicability import tenant_targeting
from rules.checks.tenant_and_devices.com_002_cloud_management_gateway_reachable import (
    TENANT_NOTE,
    bench_endpoints,
)
from rules.device_readiness import DeviceReadiness, Readiness, readiness_of
from rules.engine import Evaluation
from rules.findings import Finding, RuleMetadata, Severity, Status
from rules.network_endpoints import Endpoint
from rules.snapshot_model import TenantSnapshot

_STATUS_ORDER = {
    Status.FAIL: 0,
    Status.UNKNOWN: 1,
    Status.MANUAL: 2,
    Status.PASS: 3,
    Status.NOT_APPLICABLE: 4,
}
TENANT_WIDE_TITLE = "Tenant-wide"


def finding_order(finding: Finding) -> tuple[int, int, str, str, str]:
    return (
        _STATUS_ORDER[finding.status],
        -finding.severity.rank,
        finding.rule_id,
        finding.subject.display_name.casefold(),
        finding.subject.id,
    )


def breaches(finding: Finding, fail_on: Severity) -> bool:
    """Failing or unknown at or above the threshold: what makes `check` exit 1."""
    return finding.status in (Status.FAIL, Status.UNKNOWN) and finding.severity.at_least(fail_on)


@dataclass(frozen=True, slots=True)
class GroupRef:
    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Section:
    """One pre-provisioning profile (or the tenant-wide findings) and its verdict."""

    # None for the tenant-wide section.
    profile_id: str | None
    title: str
    groups: tuple[GroupRef, ...]
    findings: tuple[Finding, ...]
    readiness: Readiness
    # Registered devices whose effective profile this is (empty when devices are not computed).
    devices: tuple[DeviceReadiness, ...] = ()
    # Registered devices the profile certainly targets.
    targeted_devices: int = 0

    def with_status(self, *statuses: Status) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status in statuses)

    def counts(self) -> dict[Status, int]:
        return {status: len(self.with_status(status)) for status in Status}


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    tenant_id: str
    captured_at: str
    fail_on: Severity
    readiness: Readiness
    profiles: tuple[Section, ...]
    tenant_wide: Section
    findings: tuple[Finding, ...]
    rules: Mapping[str, RuleMetadata]
    unreadable: tuple[str, ...]
    # None when per-device readiness was not asked for.
    devices: tuple[DeviceReadiness, ...] | None
    # Devices whose effective profile is none of the sections' (none, unknown, not pre-prov.).
    devices_without_profile: tuple[DeviceReadiness, ...] = ()
    # Autopilot device id -> serial number (or name), for naming devices in findings.
    device_labels: Mapping[str, str] = field(default_factory=dict)
    # What the technician's bench must reach: Microsoft's published list plus this tenant's
    # Cloud Management Gateway (rules/network_endpoints.py, COM-002).
    network: tuple[Endpoint, ...] = ()
    # (rule id, subject id) -> the suppression that silences that failing or unknown verdict.
    suppressed: Mapping[tuple[str, str], Suppression] = field(default_factory=dict)
    # Entries of the suppression file that have expired: they silence nothing.
    expired_suppressions: tuple[Suppression, ...] = ()

    @property
    def sections(self) -> tuple[Section, ...]:
        return (*self.profiles, self.tenant_wide)

    def suppression_of(self, finding: Finding) -> Suppression | None:
        """The suppression silencing a failing or unknown finding, if any."""
        if finding.status not in (Status.FAIL, Status.UNKNOWN):
            return None
        return self.suppressed.get((finding.rule_id, finding.subject.id))

    def fails_gate(self, finding: Finding) -> bool:
        """Failing or unknown at or above `--fail-on` and not suppressed: exit code 1."""
        return breaches(finding, self.fail_on) and self.suppression_of(finding) is None

    def breaching(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if self.fails_gate(f))

    def counts(self) -> dict[Status, int]:
        return {status: sum(1 for f in self.findings if f.status is status) for status in Status}

    def device_label(self, device_id: str) -> str:
        return self.device_labels.get(device_id, device_id)

    def manual(self) -> tuple[Finding, ...]:
        """What a person must check (manual items): never green, never failing."""
        return tuple(
            sorted((f for f in self.findings if f.status is Status.MANUAL), key=finding_order)
        )

    def tenant_endpoints(self) -> tuple[Endpoint, ...]:
        """The endpoints this tenant adds to Microsoft's list (its CMG)."""
        return tuple(endpoint for endpoint in self.network if endpoint.note == TENANT_NOTE)


def build_report(
    evaluation: Evaluation,
    snapshot: TenantSnapshot,
    fail_on: Severity,
    devices: Sequence[DeviceReadiness] | None = None,
    suppressions: Sequence[Suppression] = (),
    now: datetime | None = None,
) -> ReadinessReport:
    moment = now or datetime.now(UTC)
    suppressed = suppressed_verdicts(
        evaluation.findings, suppressions, evaluation.tenant_id, moment
    )

    def counted(findings: Iterable[Finding]) -> list[tuple[Status, Severity]]:
        # A suppressed verdict is shown, never counted against --fail-on.
        return [
            (f.status, f.severity)
            for f in findings
            if f.status not in (Status.FAIL, Status.UNKNOWN)
            or (f.rule_id, f.subject.id) not in suppressed
        ]

    tenant_wide = tuple(
        sorted((f for f in evaluation.findings if f.scope is None), key=finding_order)
    )
    tenant_verdicts = counted(tenant_wide)
    by_profile: dict[str, list[Finding]] = {}
    for finding in evaluation.findings:
        if finding.scope is not None:
            by_profile.setdefault(finding.scope.profile_id, []).append(finding)

    sections: list[Section] = []
    placed: set[str] = set()
    for profile_id, title, groups, targeted in _profiles_to_show(snapshot, evaluation.findings):
        scoped = tuple(sorted(by_profile.get(profile_id, ()), key=finding_order))
        verdicts = [*tenant_verdicts, *counted(scoped)]
        own_devices = tuple(d for d in devices or () if d.profile_id == profile_id)
        placed.add(profile_id)
        sections.append(
            Section(
                profile_id=profile_id,
                title=title,
                groups=groups,
                findings=scoped,
                readiness=readiness_of(verdicts, fail_on),
                devices=_worst_first(own_devices),
                targeted_devices=targeted,
            )
        )
    tenant_section = Section(
        profile_id=None,
        title=TENANT_WIDE_TITLE,
        groups=(),
        findings=tenant_wide,
        readiness=readiness_of(tenant_verdicts, fail_on),
    )
    # Every finding counts, including those scoped to profiles without pre-provisioning: the
    # overall verdict is GREEN exactly when `check` exits 0.
    overall = readiness_of(counted(evaluation.findings), fail_on)
    labels = {
        device.id: device.serial_number or device.display_name or device.id
        for device in snapshot.autopilot_devices or ()
    }
    return ReadinessReport(
        tenant_id=evaluation.tenant_id,
        captured_at=evaluation.captured_at,
        fail_on=fail_on,
        readiness=overall,
        profiles=tuple(sections),
        tenant_wide=tenant_section,
        findings=evaluation.findings,
        rules={metadata.id: metadata for metadata in evaluation.rules},
        unreadable=evaluation.unreadable,
        devices=tuple(devices) if devices is not None else None,
        devices_without_profile=_worst_first(
            tuple(d for d in devices or () if d.profile_id not in placed)
        ),
        device_labels=labels,
        network=bench_endpoints(snapshot),
        suppressed=suppressed,
        expired_suppressions=tuple(s for s in suppressions if s.expired(moment)),
    )


def suppressed_verdicts(
    findings: Iterable[Finding],
    suppressions: Sequence[Suppression],
    tenant_id: str,
    now: datetime,
) -> dict[tuple[str, str], Suppression]:
    """(rule id, subject id) of each failing or unknown finding an active entry silences."""
    if not suppressions:
        return {}
    silenced: dict[tuple[str, str], Suppression] = {}
    for finding in findings:
        key = (finding.rule_id, finding.subject.id)
        if finding.status not in (Status.FAIL, Status.UNKNOWN) or key in silenced:
            continue
        match = first_match(suppressions, finding.rule_id, finding.subject.id, tenant_id, now)
        if match is not None:
            silenced[key] = match
    return silenced


def _profiles_to_show(
    snapshot: TenantSnapshot, findings: Iterable[Finding]
) -> list[tuple[str, str, tuple[GroupRef, ...], int]]:
    """Every pre-provisioning profile (oldest first), then any other profile a finding names."""
    targeting = tenant_targeting(snapshot)
    shown: list[tuple[str, str, tuple[GroupRef, ...], int]] = []
    seen: set[str] = set()
    profiles = sorted(
        targeting.preprovisioning_profiles() or (),
        key=lambda p: (p.created is None, p.created.isoformat() if p.created else "", p.id),
    )
    for profile in profiles:
        profile_targeting = targeting.profile_targeting(profile)
        groups = tuple(
            GroupRef(group_id, group.display_name if group else group_id)
            for group_id in sorted(profile_targeting.ap_device_group_ids)
            for group in (snapshot.group(group_id),)
        )
        shown.append((profile.id, profile.display_name, groups, len(profile_targeting.device_ids)))
        seen.add(profile.id)
    for finding in findings:
        scope = finding.scope
        if scope is None or scope.profile_id in seen:
            continue
        groups = tuple(
            GroupRef(group_id, name)
            for group_id, name in zip(scope.group_ids, scope.group_names, strict=False)
        )
        shown.append((scope.profile_id, scope.profile_name, groups, 0))
        seen.add(scope.profile_id)
    return shown


_READINESS_ORDER = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}


def _worst_first(devices: tuple[DeviceReadiness, ...]) -> tuple[DeviceReadiness, ...]:
    return tuple(
        sorted(devices, key=lambda d: (_READINESS_ORDER[d.readiness], d.serial_number or ""))
    )
