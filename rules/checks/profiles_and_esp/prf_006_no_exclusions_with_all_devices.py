"""PRF-006: no Autopilot profile combines an All devices assignment with exclusions."""

from __future__ import annotations

from collections.abc import Iterator

from rules.assignments import TargetKind
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES, GROUPS
from rules.tenant_objects import AutopilotProfile

METADATA = RuleMetadata(
    id="PRF-006",
    title="No Autopilot profile combines an All devices assignment with excluded groups",
    severity=Severity.ERROR,
    rationale=(
        "When the assignment All Devices is used, exclusions aren't supported, and fixing it "
        "might require uploading device hashes again (Windows Autopilot profiles "
        "documentation): excluded devices can still receive the profile, or fail to get the one "
        "meant for them."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Assignments: assign the profile to device groups instead of "
        "All devices, or remove the excluded groups."
    ),
    references=("https://learn.microsoft.com/autopilot/profiles",),
    graph_reads=(AUTOPILOT_PROFILES, GROUPS),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    for profile in context.snapshot.autopilot_profiles or ():
        yield _check(context, profile)


def _check(context: RuleContext, profile: AutopilotProfile) -> Finding:
    finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
    subject = profile_subject(profile)
    if profile.assignments is None:
        return finding.unknown(
            subject, f"assignments of profile '{profile.display_name}' could not be read"
        )
    all_devices = any(a.target_kind is TargetKind.ALL_DEVICES for a in profile.assignments)
    excluded = [
        a.group_id
        for a in profile.assignments
        if a.target_kind is TargetKind.GROUP_EXCLUDE and a.group_id
    ]
    targeting = context.targeting.profile_targeting(profile)
    if all_devices and excluded:
        names = [_group_name(context, group_id) for group_id in excluded]
        return finding.failed(
            subject,
            f"profile '{profile.display_name}' is assigned to All devices and excludes "
            f"{', '.join(names)}: exclusions are not supported with All devices",
            (
                "assigned to All devices",
                *(f"excludes group '{name}'" for name in names),
            ),
            devices=targeting.device_ids,
        )
    reason = (
        "assigned to All devices without exclusions"
        if all_devices
        else "not assigned to All devices"
    )
    return finding.passed(
        subject,
        f"profile '{profile.display_name}' does not combine All devices with exclusions",
        (reason,),
        devices=targeting.device_ids,
    )


def _group_name(context: RuleContext, group_id: str) -> str:
    group = context.snapshot.group(group_id)
    return group.display_name if group else group_id
