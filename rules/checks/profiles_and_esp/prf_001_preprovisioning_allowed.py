"""PRF-001: the Autopilot profile that pre-provisioning devices receive allows pre-provisioning."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotProfile

METADATA = RuleMetadata(
    id="PRF-001",
    title="The profile pre-provisioning devices receive has Allow pre-provisioned deployment on",
    severity=Severity.BLOCKER,
    rationale=(
        "With 'Allow pre-provisioned deployment' set to No the technician can still press the "
        "Windows key five times, but Intune enforces the setting and pre-provisioning fails with "
        "0x80180005 (Windows Autopilot profiles documentation). A device targeted by several "
        "profiles receives the oldest one, so an older profile without pre-provisioning defeats "
        "a newer one that allows it."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Out-of-box experience (OOBE): set 'Allow pre-provisioned "
        "deployment' to Yes, or remove the older profile's assignment to these devices."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/profiles",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_PROFILES, AUTOPILOT_DEVICES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, AUTOPILOT_PROFILES))
    if missing:
        yield from missing
        return
    profiles = context.snapshot.autopilot_profiles or ()
    allowing = context.targeting.preprovisioning_profiles() or ()
    if not allowing:
        yield from _no_profile_allows_preprovisioning(context, profiles)
        return
    for profile in allowing:
        yield from _check_devices_of(context, profile)


def _no_profile_allows_preprovisioning(
    context: RuleContext, profiles: tuple[AutopilotProfile, ...]
) -> Iterator[Finding]:
    for profile in profiles:
        targeting = context.targeting.profile_targeting(profile)
        yield FindingBuilder(METADATA, scope=context.profile_scope(profile)).failed(
            profile_subject(profile),
            f"profile '{profile.display_name}' does not allow pre-provisioned deployment and no "
            "other profile does: pre-provisioning fails with 0x80180005",
            (
                "preprovisioningAllowed is not true (nor the deprecated enableWhiteGlove)",
                "no Autopilot profile in the tenant allows pre-provisioning",
                *targeting.reasons,
            ),
            devices=targeting.device_ids,
        )


def _check_devices_of(context: RuleContext, profile: AutopilotProfile) -> Iterator[Finding]:
    finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
    subject = profile_subject(profile)
    targeting = context.targeting.profile_targeting(profile)
    if targeting.unknown_reason is not None:
        yield _without_devices(context, profile, targeting.unknown_reason, targeting.reasons)
        return
    # Devices this profile targets that get another profile without pre-provisioning, by winner.
    lost_to: dict[str, tuple[AutopilotProfile, list[str], list[str]]] = {}
    undecided: list[str] = []
    undecided_reasons: list[str] = []
    for device_id in sorted(targeting.device_ids):
        device = context.snapshot.autopilot_device(device_id)
        if device is None:
            continue
        effective = context.targeting.effective_profile(device)
        winner = effective.profile
        if winner is None:
            undecided.append(device_id)
            undecided_reasons.extend(effective.reasons)
        elif not winner.preprovisioning_allowed:
            _, devices, reasons = lost_to.setdefault(winner.id, (winner, [], []))
            devices.append(device_id)
            reasons.extend(r for r in effective.reasons if r not in reasons)
    for winner, devices, reasons in lost_to.values():
        yield finding.failed(
            profile_subject(winner),
            f"{len(devices)} device(s) of profile '{profile.display_name}' receive the older "
            f"profile '{winner.display_name}', which does not allow pre-provisioning",
            (
                f"profile '{winner.display_name}' does not allow pre-provisioned deployment",
                *reasons,
            ),
            devices=devices,
            related=(subject,),
        )
    if undecided:
        yield finding.unknown(
            subject,
            f"cannot tell which profile {len(undecided)} device(s) of '{profile.display_name}' "
            "receive",
            tuple(dict.fromkeys(undecided_reasons)),
            devices=undecided,
        )
    if not lost_to and not undecided:
        yield finding.passed(
            subject,
            f"profile '{profile.display_name}' allows pre-provisioning and is the profile its "
            f"{len(targeting.device_ids)} registered device(s) receive",
            ("preprovisioningAllowed is true", *targeting.reasons),
            devices=targeting.device_ids,
        )


def _without_devices(
    context: RuleContext, profile: AutopilotProfile, unknown: str, reasons: tuple[str, ...]
) -> Finding:
    """The verdict when the profile's devices are not known: decided by the profiles alone.

    A device gets the oldest profile targeting it (profiles.md). When no profile that forbids
    pre-provisioning could be older than this one, whichever devices it holds receive a profile
    that allows it; otherwise the answer depends on the devices.
    """
    finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
    subject = profile_subject(profile)
    rivals = [
        other
        for other in context.snapshot.autopilot_profiles or ()
        if not other.preprovisioning_allowed and _may_be_older(other, profile)
    ]
    if not rivals:
        return finding.passed(
            subject,
            f"profile '{profile.display_name}' allows pre-provisioning and no older profile "
            "forbids it, so whichever devices it holds receive a profile that allows it",
            ("preprovisioningAllowed is true", *reasons),
        )
    return finding.unknown(
        subject,
        f"cannot tell whether devices of profile '{profile.display_name}' receive the older "
        f"profile '{rivals[0].display_name}', which does not allow pre-provisioning: {unknown}",
        reasons,
        related=tuple(profile_subject(rival) for rival in rivals),
    )


def _may_be_older(candidate: AutopilotProfile, profile: AutopilotProfile) -> bool:
    if candidate.created is None or profile.created is None:
        return True
    return candidate.created < profile.created
