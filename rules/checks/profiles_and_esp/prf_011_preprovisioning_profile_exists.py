"""PRF-011: the tenant has an assigned Autopilot profile that allows pre-provisioning."""

from __future__ import annotations

from collections.abc import Iterator

from rules.assignments import TargetKind
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES
from rules.tenant_objects import AutopilotProfile

METADATA = RuleMetadata(
    id="PRF-011",
    title="The tenant has an assigned Autopilot profile that allows pre-provisioning",
    severity=Severity.BLOCKER,
    rationale=(
        "Without an Autopilot profile the device gets none (events 815/809) and it is important "
        "that a profile exists so that a blank profile isn't cached (Windows Autopilot "
        "troubleshooting FAQ); a profile that does not allow pre-provisioning fails the "
        "technician flow with 0x80180005 (Windows Autopilot profiles documentation), and an "
        "unassigned profile reaches no device."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "Create profile > Windows PC: set 'Allow pre-provisioned deployment' to Yes and assign "
        "it to the Autopilot device group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/autopilot/profiles",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    tenant = context.tenant_subject
    profiles = context.snapshot.autopilot_profiles or ()
    if not profiles:
        yield finding.failed(
            tenant,
            "the tenant has no Autopilot deployment profile: devices cannot be pre-provisioned",
            ("windowsAutopilotDeploymentProfiles is empty",),
        )
        return
    allowing = context.targeting.preprovisioning_profiles() or ()
    if not allowing:
        only_all_devices = all(_assigned_to_all_devices(profile) for profile in profiles)
        yield finding.failed(
            tenant,
            "no Autopilot profile allows pre-provisioning"
            + (" (only profiles assigned to All devices exist)" if only_all_devices else ""),
            tuple(f"profile '{p.display_name}' does not allow pre-provisioning" for p in profiles),
        )
        return
    unread = [p for p in allowing if p.assignments is None]
    assigned = [p for p in allowing if p.assignments and _has_include(p)]
    if assigned:
        names = ", ".join(f"'{p.display_name}'" for p in assigned)
        yield finding.passed(
            tenant,
            f"{len(assigned)} assigned profile(s) allow pre-provisioning: {names}",
            related=tuple(profile_subject(p) for p in assigned),
        )
    elif unread:
        yield finding.unknown(
            tenant,
            "cannot tell whether any pre-provisioning profile is assigned",
            tuple(f"assignments of profile '{p.display_name}' could not be read" for p in unread),
            related=tuple(profile_subject(p) for p in unread),
        )
    else:
        yield finding.failed(
            tenant,
            "no profile that allows pre-provisioning is assigned to any device or group",
            tuple(f"profile '{p.display_name}' has no include assignment" for p in allowing),
            related=tuple(profile_subject(p) for p in allowing),
        )


def _has_include(profile: AutopilotProfile) -> bool:
    return any(
        a.target_kind in (TargetKind.GROUP_INCLUDE, TargetKind.ALL_DEVICES)
        for a in profile.assignments or ()
    )


def _assigned_to_all_devices(profile: AutopilotProfile) -> bool:
    return any(a.target_kind is TargetKind.ALL_DEVICES for a in profile.assignments or ())
