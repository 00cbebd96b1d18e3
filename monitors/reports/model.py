"""What every rendering of a check shows, computed once from an evaluation.

Findings are grouped by the pre-provisioning profile they were evaluated for (their scope);
findings without a scope are tenant-wide. Within a group: failing first (worst severity first),
then unknown, then pass and not applicable. A pre-provisioning profile's verdict counts its own
findings and the tenant-wide ones (a tenant-wide blocker stops every profile), never another
profile's. A profile that does not allow pre-provisioning (shown because a rule judged it) is not
used for pre-provisioning: its verdict is its own findings' alone, and with none failing or
unknown it is not judged at all. A RED verdict always names the failing findings behind it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitors.reports.profile_verdict import NOT_USED as NOT_USED  # the renderings' name
from monitors.reports.profile_verdict import (
    TENANT_WIDE,
    not_preprovisioning,
    profile_readiness,
    profile_red_by,
    red_by_rules,
    verdict_note,
    worst_by_rule,
)
from monitors.reports.profile_verdict import judged as _judged
from monitors.suppressions import Suppression, first_match
from rules.applicability import tenant_targeting
from rules.checks.tenant_and_devices.com_002_cloud_management_gateway_reachable import (
    TENANT_NOTE,
    bench_endpoints,
)
from rules.device_readiness import (
    DeviceBlocker,
    DeviceBlockers,
    DeviceReadiness,
    Readiness,
    readiness_of,
)
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
# A finding names at most this many of its devices in a bounded report; the count is always
# there, and every device is listed once, in per-device readiness.
DEVICE_SAMPLE = 10
# Findings shown per rule and profile in a bounded report (terminal, markdown, html); `--all`
# shows every one.
FINDINGS_PER_GROUP = 20
NOT_GREEN = (Status.FAIL, Status.UNKNOWN)
QUIET = (Status.PASS, Status.NOT_APPLICABLE)


_NEGATIVE_RANK = {severity: -severity.rank for severity in Severity}


def finding_order(finding: Finding) -> tuple[int, int, str, str, str]:
    return (
        _STATUS_ORDER[finding.status],
        _NEGATIVE_RANK[finding.severity],
        finding.rule_id,
        finding.subject.display_name.casefold(),
        finding.subject.id,
    )


def breaches(finding: Finding, fail_on: Severity) -> bool:
    """Failing or unknown at or above the threshold: what makes `check` exit 1."""
    return finding.status in (Status.FAIL, Status.UNKNOWN) and finding.severity.at_least(fail_on)


def distinct_devices(findings: Iterable[Finding]) -> int:
    """How many distinct devices the findings name (findings of one profile share one tuple)."""
    seen: set[int] = set()
    devices: set[str] = set()
    for finding in findings:
        shared = finding.devices
        if not shared or id(shared) in seen:
            continue
        seen.add(id(shared))
        devices.update(shared)
    return len(devices)


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """The failing and unknown findings of one rule (in one section, or across the tenant)."""

    rule_id: str
    findings: tuple[Finding, ...]  # report order: failing first, worst severity first
    devices: int  # distinct devices the findings name
    profiles: int  # distinct scopes the findings were evaluated for (tenant-wide counts one)

    @property
    def worst(self) -> Finding:
        return self.findings[0]


def rule_groups(findings: Iterable[Finding]) -> tuple[RuleGroup, ...]:
    """Not-green findings grouped per rule, the rule of the worst finding first."""
    grouped: dict[str, list[Finding]] = {}
    for finding in sorted((f for f in findings if f.status in NOT_GREEN), key=finding_order):
        grouped.setdefault(finding.rule_id, []).append(finding)
    return tuple(
        RuleGroup(
            rule_id=rule_id,
            findings=tuple(members),
            devices=distinct_devices(members),
            profiles=len({f.scope.profile_id if f.scope else None for f in members}),
        )
        for rule_id, members in grouped.items()
    )


def quiet_counts(findings: Iterable[Finding]) -> list[tuple[str, str | None, Status, int]]:
    """(rule id, scope profile id, pass or not applicable, count): what passes is a count."""
    counted = Counter(
        (f.rule_id, f.scope.profile_id if f.scope else None, f.status)
        for f in findings
        if f.status in QUIET
    )
    return [
        (rule_id, scope, status, count)
        for (rule_id, scope, status), count in sorted(
            counted.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2].value)
        )
    ]


class BlockerCounter:
    """How often each name (`name` of a blocker) occurs among a device's blockers, the names
    in the order the blockers first give them (report order).

    The blockers devices share (`DeviceBlockers.shared`, thousands for every device of a large
    profile) are counted once per shared tuple, not once per device.
    """

    def __init__(self, name: Callable[[DeviceBlocker], str]) -> None:
        self._name = name
        # id of a shared tuple -> (the tuple, kept so its id stays its own; name -> (count,
        # index of its first blocker))
        self._shared: dict[int, tuple[tuple[DeviceBlocker, ...], dict[str, tuple[int, int]]]] = {}

    def __call__(self, blockers: Sequence[DeviceBlocker]) -> dict[str, int]:
        name = self._name
        if not isinstance(blockers, DeviceBlockers):
            return dict(Counter(name(blocker) for blocker in blockers))
        shared = blockers.shared
        entry = self._shared.get(id(shared))
        if entry is None or entry[0] is not shared:
            firsts: dict[str, tuple[int, int]] = {}
            for index, blocker in enumerate(shared):
                key = name(blocker)
                count, first = firsts.get(key, (0, index))
                firsts[key] = (count + 1, first)
            entry = (shared, firsts)
            self._shared[id(shared)] = entry
        if not blockers.own:
            return {key: count for key, (count, _) in entry[1].items()}
        # (position among the shared blockers, 0 before / 1 at that shared blocker) orders the
        # names as the merged blockers give them.
        counts: dict[str, int] = {}
        order: dict[str, tuple[int, int]] = {}
        for key, (count, first) in entry[1].items():
            counts[key] = count
            order[key] = (first, 1)
        for blocker, position in zip(blockers.own, blockers.own_positions(), strict=True):
            key = name(blocker)
            counts[key] = counts.get(key, 0) + 1
            order[key] = min(order.get(key, (position, 0)), (position, 0))
        return {key: counts[key] for key in sorted(counts, key=order.__getitem__)}


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
    # False for a profile that does not allow pre-provisioning: its verdict is its own.
    preprovisioning: bool = True
    # When RED: the failing rules that make it so, worst first ("PRF-011 (tenant-wide)").
    red_by: tuple[str, ...] = ()

    @property
    def judged(self) -> bool:
        """False for a profile not used for pre-provisioning with nothing failing or unknown."""
        return _judged(self.readiness, self.preprovisioning)

    def verdict_note(self, limit: int = 3) -> str:
        """What the verdict rests on, when the counts alone do not say it ('' otherwise)."""
        return verdict_note(self.readiness, self.preprovisioning, self.red_by, limit)

    def with_status(self, *statuses: Status) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status in statuses)

    def counts(self) -> dict[Status, int]:
        counted = Counter(f.status for f in self.findings)
        return {status: counted.get(status, 0) for status in Status}

    def rule_groups(self) -> tuple[RuleGroup, ...]:
        return rule_groups(self.findings)

    def passed_by_rule(self) -> dict[str, int]:
        return dict(
            sorted(Counter(f.rule_id for f in self.findings if f.status is Status.PASS).items())
        )


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
        counted = Counter(f.status for f in self.findings)
        return {status: counted.get(status, 0) for status in Status}

    def rule_groups(self) -> tuple[RuleGroup, ...]:
        """Every failing or unknown finding of the tenant, grouped per rule, worst first."""
        return rule_groups(self.findings)

    def device_sample(self, device_ids: Sequence[str], limit: int = DEVICE_SAMPLE) -> str:
        """'N: a, b, c and M more': a bounded naming of a finding's devices."""
        named = [self.device_label(device_id) for device_id in device_ids[:limit]]
        more = len(device_ids) - len(named)
        return f"{len(device_ids)}: " + ", ".join(named) + (f" and {more} more" if more else "")

    def shown_findings(
        self, findings: Sequence[Finding], everything: bool = False
    ) -> tuple[Finding, ...]:
        """A rule group's findings as a bounded report lists them: the first FINDINGS_PER_GROUP,
        then up to as many suppressed ones besides, so a suppressed verdict stays visible however
        many others the rule has; `everything` (`--all`): every one."""
        if everything:
            return tuple(findings)
        shown = tuple(findings[:FINDINGS_PER_GROUP])
        room = FINDINGS_PER_GROUP - sum(1 for f in shown if self.suppression_of(f) is not None)
        extra: list[Finding] = []
        for finding in findings[FINDINGS_PER_GROUP:]:
            if len(extra) >= room:
                break
            if self.suppression_of(finding) is not None:
                extra.append(finding)
        return (*shown, *extra)

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
    tenant_wide_findings: list[Finding] = []
    by_profile: dict[str, list[Finding]] = {}
    for finding in evaluation.findings:
        if finding.scope is None:
            tenant_wide_findings.append(finding)
        else:
            by_profile.setdefault(finding.scope.profile_id, []).append(finding)
    tenant_wide = _in_report_order(tenant_wide_findings)
    tenant_readiness = _own_readiness(tenant_wide, fail_on, suppressed)
    devices_by_profile: dict[str | None, list[DeviceReadiness]] = {}
    for device in devices or ():
        devices_by_profile.setdefault(device.profile_id, []).append(device)

    tenant_red_by = _red_by(tenant_wide, fail_on, suppressed, TENANT_WIDE)
    sections: list[Section] = []
    placed: set[str] = set()
    for shown in _profiles_to_show(snapshot, evaluation.findings):
        profile_id, title, groups, targeted, preprovisioning = shown
        scoped = _in_report_order(by_profile.get(profile_id, ()))
        own = _own_readiness(scoped, fail_on, suppressed)
        own_red_by = _red_by(scoped, fail_on, suppressed)
        placed.add(profile_id)
        # A pre-provisioning profile's verdict counts its own findings and the tenant-wide ones;
        # a profile not used for pre-provisioning is judged by its own alone.
        readiness = profile_readiness(own, tenant_readiness, preprovisioning)
        red_by = profile_red_by(readiness, own_red_by, tenant_red_by, preprovisioning)
        sections.append(
            Section(
                profile_id=profile_id,
                title=title,
                groups=groups,
                findings=scoped,
                readiness=readiness,
                devices=_worst_first(tuple(devices_by_profile.get(profile_id, ()))),
                targeted_devices=targeted,
                preprovisioning=preprovisioning,
                red_by=red_by,
            )
        )
    tenant_section = Section(
        profile_id=None,
        title=TENANT_WIDE_TITLE,
        groups=(),
        findings=tenant_wide,
        readiness=tenant_readiness,
        red_by=_red_by(tenant_wide, fail_on, suppressed)
        if tenant_readiness is Readiness.RED
        else (),
    )
    # Every finding counts, including those scoped to profiles without pre-provisioning: the
    # overall verdict is GREEN exactly when `check` exits 0. A suppressed verdict is shown, never
    # counted against --fail-on.
    overall = _own_readiness(evaluation.findings, fail_on, suppressed)
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


def _in_report_order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Not green first in `finding_order`; then what passes, by rule in the order rules said it
    (the many passing verdicts are counted, not read one by one: no per-subject sort key)."""
    loud: list[Finding] = []
    quiet: list[Finding] = []
    for finding in findings:
        (quiet if finding.status in QUIET else loud).append(finding)
    loud.sort(key=finding_order)
    quiet.sort(key=_quiet_order)
    return (*loud, *quiet)


def _quiet_order(finding: Finding) -> tuple[int, str]:
    return _STATUS_ORDER[finding.status], finding.rule_id


def _own_readiness(
    findings: Iterable[Finding],
    fail_on: Severity,
    suppressed: Mapping[tuple[str, str], Suppression],
) -> Readiness:
    """`readiness_of` over the not-green findings (the only ones that can count); a suppressed
    verdict is shown, never counted against --fail-on."""
    return readiness_of(
        (
            (f.status, f.severity)
            for f in findings
            if f.status in NOT_GREEN and (f.rule_id, f.subject.id) not in suppressed
        ),
        fail_on,
    )


def _red_by(
    findings: Iterable[Finding],
    fail_on: Severity,
    suppressed: Mapping[tuple[str, str], Suppression],
    suffix: str = "",
) -> tuple[str, ...]:
    """The rules failing at or above `fail_on` (not suppressed), once each, in report order."""
    return red_by_rules(
        worst_by_rule(
            (finding.rule_id, finding.severity)
            for finding in findings
            if finding.status is Status.FAIL
            and finding.severity.at_least(fail_on)
            and (finding.rule_id, finding.subject.id) not in suppressed
        ),
        suffix,
    )


def _profiles_to_show(
    snapshot: TenantSnapshot, findings: Iterable[Finding]
) -> list[tuple[str, str, tuple[GroupRef, ...], int, bool]]:
    """Every pre-provisioning profile (oldest first), then any other profile a finding names
    (flagged when the snapshot says it does not allow pre-provisioning)."""
    targeting = tenant_targeting(snapshot)
    shown: list[tuple[str, str, tuple[GroupRef, ...], int, bool]] = []
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
        shown.append(
            (profile.id, profile.display_name, groups, len(profile_targeting.device_ids), True)
        )
        seen.add(profile.id)
    not_used = not_preprovisioning(snapshot)
    for finding in findings:
        scope = finding.scope
        if scope is None or scope.profile_id in seen:
            continue
        groups = tuple(
            GroupRef(group_id, name)
            for group_id, name in zip(scope.group_ids, scope.group_names, strict=False)
        )
        preprovisioning = scope.profile_id not in not_used
        shown.append((scope.profile_id, scope.profile_name, groups, 0, preprovisioning))
        seen.add(scope.profile_id)
    return shown


_READINESS_ORDER = {Readiness.RED: 0, Readiness.UNKNOWN: 1, Readiness.GREEN: 2}


def _worst_first(devices: tuple[DeviceReadiness, ...]) -> tuple[DeviceReadiness, ...]:
    return tuple(
        sorted(devices, key=lambda d: (_READINESS_ORDER[d.readiness], d.serial_number or ""))
    )
