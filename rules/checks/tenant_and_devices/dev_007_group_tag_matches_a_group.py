"""DEV-007: every group-tagged pre-provisioning device matches a group-tag device group."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    device_subject,
    unknown_without_devices,
)
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.membership_prediction import MembershipPrediction
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotDevice, AutopilotProfile, Group

METADATA = RuleMetadata(
    id="DEV-007",
    title="Every group-tagged pre-provisioning device matches a group-tag device group",
    severity=Severity.ERROR,
    rationale=(
        "Intune's Group Tag field maps to the OrderID attribute on Microsoft Entra devices "
        "(windows-autopilot-hybrid.md, enrollment-autopilot.md): when Autopilot device groups "
        "select devices with '[OrderID]:<tag>' rules, a device whose tag is missing or "
        "misspelt is in none of them, so it gets no pre-provisioning profile and none of the "
        "payload targeted at that group."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices > the device: set Group Tag to the tag the Autopilot device group's rule "
        "expects (or fix the group's [OrderID] rule)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/autopilot/enrollment-autopilot",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

_ORDER_ID: Final = re.compile(r"\[OrderID\]:([^\"'\s)]*)", re.IGNORECASE)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA) or tuple(
        context.unknown_if_unreadable(METADATA, GROUPS, DEVICES)
    )
    if missing:
        yield from missing
        return
    profiles = context.targeting.preprovisioning_profiles() or ()
    tag_groups = _tag_groups(context, profiles)
    finding = FindingBuilder(METADATA)
    if not tag_groups:
        if profiles:
            yield finding.not_applicable(
                context.tenant_subject,
                "no Autopilot device group of a pre-provisioning profile selects devices by "
                "group tag",
            )
        return
    expected = sorted({tag for group in tag_groups for tag in _ORDER_ID.findall(_rule(group))})
    expectation = f"the group-tag groups expect {', '.join(repr(tag) for tag in expected)}"
    reached = {
        device_id
        for profile in profiles
        for device_id in context.targeting.profile_targeting(profile).device_ids
    }
    # The same for every device: looked up once.
    predictions = [context.targeting.membership(group) for group in tag_groups]
    for device in context.snapshot.autopilot_devices or ():
        if not device.entra_device_id or (
            context.snapshot.entra_device_by_device_id(device.entra_device_id) is None
        ):
            continue  # in no group at all: DEV-005 reports the missing Entra object
        yield from _verdict(context, device, tag_groups, predictions, reached, expectation, finding)


def _verdict(
    context: RuleContext,
    device: AutopilotDevice,
    tag_groups: tuple[Group, ...],
    predictions: list[MembershipPrediction],
    reached: set[str],
    expectation: str,
    finding: FindingBuilder,
) -> Iterator[Finding]:
    label = device_label(device)
    tag = device.group_tag
    tag_fact = f"group tag is '{tag}'" if tag else "the device has no group tag"
    subject = device_subject(device)
    devices = (device.id,)
    holding = [g for g, p in zip(tag_groups, predictions, strict=True) if device.id in p.members]
    if holding:
        yield finding.passed(
            subject,
            f"Autopilot device {label} is in group-tag group '{holding[0].display_name}'",
            (tag_fact, f"membership rule: {holding[0].membership_rule}"),
            devices=devices,
        )
        return
    undecided = [
        p.unknown_reason
        for p in predictions
        if p.undetermined is None or device.id in p.undetermined
    ]
    if undecided:
        yield finding.unknown(
            subject,
            f"cannot tell whether Autopilot device {label} is in a group-tag group",
            (tag_fact, *(reason for reason in undecided if reason)),
            devices=devices,
        )
        return
    if device.id in reached:
        if tag:
            yield finding.failed(
                subject,
                f"group tag '{tag}' of Autopilot device {label} matches no group-tag group: the "
                "device gets a pre-provisioning profile only through another group",
                (tag_fact, expectation),
                severity=Severity.WARNING,
                devices=devices,
            )
        return
    effective = context.targeting.effective_profile(device)
    if effective.profile is not None or effective.undecided:
        return  # meant for a profile without pre-provisioning
    yield finding.failed(
        subject,
        f"Autopilot device {label} is in no Autopilot device group: "
        + (f"its group tag '{tag}' matches no group rule" if tag else "it has no group tag"),
        (tag_fact, expectation, "no pre-provisioning profile targets the device"),
        devices=devices,
    )


def _rule(group: Group) -> str:
    return group.membership_rule or ""


def _tag_groups(context: RuleContext, profiles: tuple[AutopilotProfile, ...]) -> tuple[Group, ...]:
    groups: dict[str, Group] = {}
    for profile in profiles:
        for group_id in context.targeting.profile_targeting(profile).ap_device_group_ids:
            group = context.snapshot.group(group_id)
            if group is not None and group.is_dynamic and _ORDER_ID.search(_rule(group)):
                groups[group.id] = group
    return tuple(groups[group_id] for group_id in sorted(groups))
