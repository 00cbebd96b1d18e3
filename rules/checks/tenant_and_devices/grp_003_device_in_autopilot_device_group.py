"""GRP-003: every pre-provisioning device is a member of its profile's Autopilot device group."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    device_subject,
    iter_scoped,
    unknown_without_devices,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotDevice, AutopilotProfile, ObjectReference

METADATA = RuleMetadata(
    id="GRP-003",
    title="Every pre-provisioning device is a member of its profile's Autopilot device group",
    severity=Severity.ERROR,
    rationale=(
        "Profiles, the ESP and device payload are assigned to groups: 'An ESP is assigned to "
        "a device group and not directly to individual devices' "
        "(tutorial/includes/configure-and-assign-esp.md), and a profile reaches a device only "
        "through its group (profiles.md). A device that has a pre-provisioning profile "
        "assigned but is no longer in any of that profile's groups (a membership rule edited "
        "or mistyped, a group tag changed) loses the profile at the next sync (or moves to "
        "another profile its groups now select) and gets none of the payload assigned to the "
        "group. Membership is predicted with the same "
        "evaluator GRP-001 and the applicability engine use."
    ),
    remediation=(
        "Microsoft Entra admin center > Groups > All groups > the Autopilot device group > "
        "Dynamic membership rules: make the rule select the device again (Validate Rules shows "
        "whether it does), or add the device object to the assigned group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/profiles",
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/azure-ad-join-device-group",
        "https://learn.microsoft.com/entra/identity/users/groups-dynamic-membership",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        assigned = _assigned_preprovisioning_profile(context, device)
        if assigned is not None and assigned.id != meant.profile.id:
            # The device has one profile and its groups now give it another: judge it against
            # the profile it has, scoped there.
            finding = FindingBuilder(
                METADATA, scope=context.profile_scope(assigned), extra_reasons=meant.reasons
            )
        profile = assigned or meant.profile
        yield _verdict(context, device, profile, meant.certain or assigned is not None, finding)


def _assigned_preprovisioning_profile(
    context: RuleContext, device: AutopilotDevice
) -> AutopilotProfile | None:
    reference = device.deployment_profile
    if not isinstance(reference, ObjectReference):
        return None
    profile = context.snapshot.autopilot_profile(reference.id)
    return profile if profile is not None and profile.preprovisioning_allowed else None


def _verdict(
    context: RuleContext,
    device: AutopilotDevice,
    profile: AutopilotProfile,
    certain: bool,
    finding: FindingBuilder,
) -> Finding:
    label = device_label(device)
    subject = device_subject(device)
    devices = (device.id,)
    targeting = context.targeting.profile_targeting(profile)
    name = profile.display_name
    if device.id in targeting.device_ids:
        holding = _holding_groups(context, targeting.ap_device_group_ids, device.id)
        where = (
            "the profile is assigned to All devices"
            if targeting.all_devices and not holding
            else f"member of {', '.join(holding)}"
        )
        return finding.passed(
            subject,
            f"Autopilot device {label} is in an Autopilot device group of '{name}'",
            (where,),
            devices=devices,
        )
    possible = targeting.possible_device_ids
    if not certain or possible is None or device.id in possible:
        unknown_reason = (targeting.unknown_reason,) if targeting.unknown_reason else ()
        return finding.unknown(
            subject,
            f"cannot tell whether Autopilot device {label} is in an Autopilot device group "
            f"of '{name}'",
            (*targeting.reasons, *unknown_reason),
            devices=devices,
        )
    groups = [
        f"'{group.display_name}'"
        for group_id in sorted(targeting.ap_device_group_ids)
        for group in (context.snapshot.group(group_id),)
        if group is not None
    ]
    effective = context.targeting.effective_profile(device)
    if effective.profile is not None:
        moves = f"Autopilot will give it '{effective.profile.display_name}' instead"
    elif effective.undecided:
        moves = "which profile Autopilot gives it instead cannot be told"
    else:
        moves = "no profile targets it any more"
    return finding.failed(
        subject,
        f"Autopilot device {label} has profile '{name}' but is in none of its Autopilot "
        f"device groups: {moves}, and the group's payload misses it",
        (
            f"the profile's Autopilot device groups: {', '.join(groups) or 'none'}",
            *effective.reasons,
        ),
        devices=devices,
        related=(profile_subject(profile),),
    )


def _holding_groups(context: RuleContext, group_ids: frozenset[str], device_id: str) -> list[str]:
    return [name for name, members in _named_members(context, group_ids) if device_id in members]


# The groups' names and members, in group id order: asked for every device of a profile.
_NamedMembers = tuple[tuple[str, frozenset[str]], ...]


def _named_members(context: RuleContext, group_ids: frozenset[str]) -> _NamedMembers:
    cache = context.snapshot.derived_view(_new_named_members_cache)
    named = cache.get(group_ids)
    if named is None:
        named = tuple(
            (f"'{group.display_name}'", context.targeting.membership(group).members)
            for group_id in sorted(group_ids)
            if (group := context.snapshot.group(group_id)) is not None
        )
        cache[group_ids] = named
    return named


def _new_named_members_cache(snapshot: TenantSnapshot) -> dict[frozenset[str], _NamedMembers]:
    return {}
