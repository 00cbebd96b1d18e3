"""GRP-003: every pre-provisioning device is a member of its profile's Autopilot device group."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    iter_scoped,
    unknown_without_devices,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS

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
        "or mistyped, a group tag changed) loses the profile at the next sync and gets none "
        "of the payload assigned to the group. Membership is predicted with the same "
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
        profile = meant.profile
        label = device_label(device)
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
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} is in an Autopilot device group of '{name}'",
                (where,),
                devices=devices,
            )
            continue
        possible = targeting.possible_device_ids
        if not meant.certain or possible is None or device.id in possible:
            yield finding.unknown(
                meant.subject,
                f"cannot tell whether Autopilot device {label} is in an Autopilot device group "
                f"of '{name}'",
                (
                    *targeting.reasons,
                    *((targeting.unknown_reason,) if targeting.unknown_reason else ()),
                ),
                devices=devices,
            )
            continue
        groups = [
            f"'{group.display_name}'"
            for group_id in sorted(targeting.ap_device_group_ids)
            for group in (context.snapshot.group(group_id),)
            if group is not None
        ]
        yield finding.failed(
            meant.subject,
            f"Autopilot device {label} has profile '{name}' assigned but is in none of its "
            "Autopilot device groups: it loses the profile and the group's payload",
            (
                f"the profile's Autopilot device groups: {', '.join(groups) or 'none'}",
                *targeting.reasons,
            ),
            devices=devices,
        )


def _holding_groups(context: RuleContext, group_ids: frozenset[str], device_id: str) -> list[str]:
    names = []
    for group_id in sorted(group_ids):
        group = context.snapshot.group(group_id)
        if group is not None and device_id in context.targeting.membership(group).members:
            names.append(f"'{group.display_name}'")
    return names
