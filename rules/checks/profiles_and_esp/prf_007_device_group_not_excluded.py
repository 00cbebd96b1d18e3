"""PRF-007: no pre-provisioning profile excludes the device groups it is meant for."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import Group

METADATA = RuleMetadata(
    id="PRF-007",
    title="No pre-provisioning profile excludes the device groups it is meant for",
    severity=Severity.BLOCKER,
    rationale=(
        "Accidentally adding the desired device groups under Excluded groups prevents devices "
        "from receiving the Autopilot profile (Windows Autopilot tutorial, profile assignment "
        "steps). A group that is both included and excluded, or an exclusion that leaves the "
        "profile's devices without any profile, is that mistake; an exclusion whose devices get "
        "another profile is the intended way to split devices between profiles."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Assignments: remove the device group from Excluded groups."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/tutorial/pre-provisioning/azure-ad-join-autopilot-profile",
        "https://learn.microsoft.com/autopilot/profiles",
    ),
    graph_reads=(AUTOPILOT_PROFILES, AUTOPILOT_DEVICES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
    inference=True,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, GROUPS, AUTOPILOT_DEVICES):
        if isinstance(item, ProfileUnderCheck):
            yield from _check(context, item)
        else:
            yield item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Iterator[Finding]:
    profile = item.profile
    targeting = item.targeting
    if not targeting.excluded_group_ids:
        yield item.finding.passed(
            item.subject,
            f"profile '{profile.display_name}' excludes no group",
            targeting.reasons,
            devices=item.devices,
        )
        return
    would_be_targeted = _devices_without_exclusions(context, item)
    for group_id in dict.fromkeys(targeting.excluded_group_ids):
        group = context.snapshot.group(group_id)
        if group is None:
            # A deleted group excludes nobody; GRP-006 reports the dangling reference.
            continue
        yield _check_exclusion(context, item, group, would_be_targeted)


def _devices_without_exclusions(context: RuleContext, item: ProfileUnderCheck) -> frozenset[str]:
    if item.targeting.all_devices:
        return frozenset(device.id for device in context.snapshot.autopilot_devices or ())
    held: set[str] = set()
    for group_id in item.targeting.included_group_ids:
        group = context.snapshot.group(group_id)
        if group is not None:
            held |= context.targeting.membership(group).members
    return frozenset(held)


def _check_exclusion(
    context: RuleContext,
    item: ProfileUnderCheck,
    group: Group,
    would_be_targeted: frozenset[str],
) -> Finding:
    profile = item.profile
    subject = Subject("group", group.id, group.display_name)
    related = (profile_subject(profile),)
    if group.id in item.targeting.included_group_ids:
        return item.finding.failed(
            subject,
            f"group '{group.display_name}' is both assigned to and excluded from profile "
            f"'{profile.display_name}': its devices never receive the profile",
            (
                f"'{group.display_name}' is an included and an excluded group of the profile",
                "exclusion wins over inclusion",
            ),
            devices=context.targeting.membership(group).members,
            related=related,
        )
    prediction = context.targeting.membership(group)
    if prediction.unknown_reason is not None:
        return item.finding.unknown(
            subject,
            f"cannot tell which devices the excluded group '{group.display_name}' holds",
            prediction.reasons,
            related=related,
        )
    excluded = prediction.members & would_be_targeted
    stranded: list[str] = []
    elsewhere: set[str] = set()
    undecided: list[str] = []
    for device_id in sorted(excluded):
        device = context.snapshot.autopilot_device(device_id)
        if device is None:
            continue
        effective = context.targeting.effective_profile(device)
        if effective.profile is not None:
            elsewhere.add(effective.profile.display_name)
        elif effective.undecided:
            undecided.append(device_id)
        else:
            stranded.append(device_id)
    reasons = (
        f"profile '{profile.display_name}' excludes '{group.display_name}'",
        f"the exclusion removes {len(excluded)} registered device(s) the profile would target",
    )
    if stranded:
        return item.finding.failed(
            subject,
            f"excluding '{group.display_name}' from profile '{profile.display_name}' leaves "
            f"{len(stranded)} device(s) without any Autopilot profile",
            (*reasons, "no other profile targets these devices"),
            devices=stranded,
            related=related,
        )
    if undecided:
        return item.finding.unknown(
            subject,
            f"cannot tell whether the {len(undecided)} device(s) excluded via "
            f"'{group.display_name}' receive another profile",
            reasons,
            devices=undecided,
            related=related,
        )
    if not excluded:
        return item.finding.passed(
            subject,
            f"the excluded group '{group.display_name}' holds none of the registered devices "
            f"profile '{profile.display_name}' would otherwise target",
            reasons,
            related=related,
        )
    other = ", ".join(f"'{name}'" for name in sorted(elsewhere))
    return item.finding.passed(
        subject,
        f"the devices excluded via '{group.display_name}' receive another profile"
        + (f" ({other})" if other else ""),
        reasons,
        related=related,
    )
