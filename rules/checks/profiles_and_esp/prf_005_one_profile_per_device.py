"""PRF-005: each pre-provisioning device is targeted by one Autopilot profile only."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotProfile

METADATA = RuleMetadata(
    id="PRF-005",
    title="Each pre-provisioning device is targeted by one Autopilot profile only",
    severity=Severity.WARNING,
    rationale=(
        "If a group is assigned to multiple Autopilot profiles, the device receives the oldest "
        "created profile (Windows Autopilot profiles documentation). Overlapping assignments "
        "make the profile a device gets depend on creation dates; when the oldest one does not "
        "allow pre-provisioning, the technician flow fails (PRF-001)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "each profile > Properties > Assignments: make the device groups of the profiles "
        "disjoint (exclude the other profiles' groups where they overlap)."
    ),
    references=("https://learn.microsoft.com/autopilot/profiles",),
    graph_reads=(AUTOPILOT_PROFILES, AUTOPILOT_DEVICES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, AUTOPILOT_DEVICES):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Iterator[Finding]:
    profile = item.profile
    # Conflicts grouped by the set of profiles involved: one finding per winning profile.
    conflicts: dict[tuple[str, ...], tuple[AutopilotProfile, list[AutopilotProfile], list[str]]]
    conflicts = {}
    undecided: list[str] = []
    undecided_reasons: list[str] = []
    for device_id in sorted(item.devices):
        device = context.snapshot.autopilot_device(device_id)
        if device is None:
            continue
        effective = context.targeting.effective_profile(device)
        if effective.profile is None:
            undecided.append(device_id)
            undecided_reasons.extend(effective.reasons)
            continue
        if not effective.competing:
            continue
        involved = (effective.profile, *effective.competing)
        key = tuple(sorted(p.id for p in involved))
        conflicts.setdefault(key, (effective.profile, list(effective.competing), []))[2].append(
            device_id
        )
    for winner, losers, devices in conflicts.values():
        blocked = not winner.preprovisioning_allowed
        names = ", ".join(f"'{p.display_name}'" for p in losers)
        yield item.finding.failed(
            profile_subject(winner),
            f"{len(devices)} device(s) are targeted by profile '{winner.display_name}' and by "
            f"{names}; the oldest, '{winner.display_name}', wins"
            + (" and does not allow pre-provisioning" if blocked else ""),
            (
                *(f"profile '{p.display_name}' created {_created(p)}" for p in (winner, *losers)),
                "a device targeted by several profiles receives the oldest created one",
            ),
            severity=Severity.BLOCKER if blocked else Severity.WARNING,
            devices=devices,
            related=tuple(profile_subject(p) for p in losers),
        )
    if undecided:
        yield item.finding.unknown(
            item.subject,
            f"cannot tell whether {len(undecided)} device(s) of '{profile.display_name}' are "
            "also targeted by another profile",
            tuple(dict.fromkeys(undecided_reasons)),
            devices=undecided,
        )
    if not conflicts and not undecided:
        yield item.finding.passed(
            item.subject,
            f"no other profile targets the {len(item.devices)} registered device(s) of "
            f"'{profile.display_name}'",
            item.targeting.reasons,
            devices=item.devices,
        )


def _created(profile: AutopilotProfile) -> str:
    return profile.created.isoformat() if profile.created else "at an unknown date"
