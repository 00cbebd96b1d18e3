"""PRF-013: no Windows Autopilot device preparation policy deploys devices meant to be
pre-provisioned.

A device preparation policy is a settings catalog policy (`deviceManagement/configurationPolicies`)
whose `templateReference.templateFamily` is `enrollmentConfiguration` and whose `technologies`
is `enrollment`. It is assigned to the groups of users who deploy, and names a device security
group that devices join during the deployment. Device preparation has no pre-provisioned mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rules.applicability import name_devices
from rules.assignments import TargetKind
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    DEVICES,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import SettingsCatalogPolicy

METADATA = RuleMetadata(
    id="PRF-013",
    title="No Windows Autopilot device preparation policy deploys devices meant to be "
    "pre-provisioned",
    severity=Severity.WARNING,
    rationale=(
        "Windows Autopilot device preparation supports the user-driven scenario only: the "
        "pre-provisioned scenario is not supported, and a device runs either device "
        "preparation or Windows Autopilot, with Autopilot profiles taking precedence for "
        "registered devices (Compare Windows Autopilot device preparation and Windows "
        "Autopilot). Devices that reach a deployment through a device preparation policy (its "
        "user groups, its device security group) cannot be pre-provisioned."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Device preparation "
        "policies: keep the devices to pre-provision out of the policy's groups, register them "
        "as Windows Autopilot devices and target them with a deployment profile that allows "
        "pre-provisioning."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/device-preparation/compare",
        "https://learn.microsoft.com/autopilot/device-preparation/overview",
        "https://learn.microsoft.com/graph/api/resources/intune-deviceconfigv2-devicemanagementconfigurationpolicy",
    ),
    graph_reads=(SETTINGS_CATALOG_POLICIES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=(
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

DEVICE_PREPARATION_FAMILY: Final = "enrollmentconfiguration"
ENROLLMENT_TECHNOLOGY: Final = "enrollment"
# Setting definitions that carry the device security group (simple string or collection).
_DEVICE_GROUP_SETTINGS: Final = (
    "enrollment_autopilot_dpp_devicegroup",
    "enrollment_autopilot_dpp_devicesecuritygroupids",
)


def is_device_preparation(policy: SettingsCatalogPolicy) -> bool:
    """A device preparation policy, by its template family or, failing that, its technology."""
    if policy.template_family:
        return policy.template_family.casefold() == DEVICE_PREPARATION_FAMILY
    technologies = {t.strip().casefold() for t in (policy.technologies or "").split(",")}
    return ENROLLMENT_TECHNOLOGY in technologies


def device_group_ids(policy: SettingsCatalogPolicy) -> tuple[str, ...] | None:
    """The device security group(s) the policy names; None when its settings were not read."""
    if policy.settings is None:
        return None
    found: list[str] = []
    for setting in policy.settings:
        instance = setting.get("settingInstance")
        if not isinstance(instance, Mapping):
            continue
        definition = str(instance.get("settingDefinitionId") or "").casefold()
        if definition in _DEVICE_GROUP_SETTINGS:
            found.extend(_string_values(instance))
    return tuple(dict.fromkeys(found))


def _string_values(instance: Mapping[str, Any]) -> list[str]:
    values: list[str] = []
    simple = instance.get("simpleSettingValue")
    if isinstance(simple, Mapping) and isinstance(simple.get("value"), str):
        values.append(simple["value"])
    collection = instance.get("simpleSettingCollectionValue")
    if isinstance(collection, tuple | list):
        values.extend(
            item["value"]
            for item in collection
            if isinstance(item, Mapping) and isinstance(item.get("value"), str)
        )
    return [value for value in values if value]


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, SETTINGS_CATALOG_POLICIES))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    policies = [
        p for p in context.snapshot.settings_catalog_policies or () if is_device_preparation(p)
    ]
    if not policies:
        yield finding.passed(
            context.tenant_subject,
            "the tenant has no Windows Autopilot device preparation policy",
            ("no configuration policy of template family enrollmentConfiguration",),
        )
        return
    for policy in policies:
        yield _check(context, finding, policy)


def _check(context: RuleContext, finding: FindingBuilder, policy: SettingsCatalogPolicy) -> Finding:
    subject = Subject("configurationPolicy", policy.id, policy.display_name)
    name = f"'{policy.display_name}'"
    if policy.assignments is None:
        return finding.unknown(
            subject,
            f"cannot tell whom device preparation policy {name} deploys: its assignments could "
            "not be read",
            (f"assignments of {name} could not be read",),
        )
    assigned = tuple(
        a.group_id
        for a in policy.assignments
        if a.target_kind is TargetKind.GROUP_INCLUDE and a.group_id
    )
    everyone = any(
        a.target_kind in (TargetKind.ALL_LICENSED_USERS, TargetKind.ALL_DEVICES)
        for a in policy.assignments
    )
    if not assigned and not everyone:
        return finding.passed(
            subject,
            f"device preparation policy {name} is not assigned: it deploys no device",
            (f"{name} has no include assignment",),
        )
    device_groups = device_group_ids(policy)
    reasons = [
        "Windows Autopilot device preparation does not support pre-provisioned deployment",
        *(f"assigned to {_group_label(context, group_id)}" for group_id in assigned),
    ]
    if everyone:
        reasons.append("assigned to all users or all devices")
    if device_groups is None:
        reasons.append(f"the settings of {name} could not be read: its device group is not known")
    else:
        reasons.extend(
            f"device security group {_group_label(context, group_id)}" for group_id in device_groups
        )
    devices = _registered_devices_in(context, (*assigned, *(device_groups or ())))
    if devices:
        reasons.append(
            f"{name} reaches "
            + name_devices(
                context.snapshot,
                devices,
                len(context.snapshot.autopilot_devices or ()),
                whole="the tenant's",
            )
            + " registered as Autopilot devices: their Autopilot profile takes precedence"
        )
    groups = tuple(dict.fromkeys((*assigned, *(device_groups or ()))))
    return finding.failed(
        subject,
        f"device preparation policy {name} deploys devices of "
        + (", ".join(_group_label(context, g) for g in groups) or "all users")
        + " without pre-provisioning: device preparation has no pre-provisioned mode",
        reasons,
        devices=devices,
        related=tuple(Subject("group", g, _group_name(context, g)) for g in groups),
    )


def _group_name(context: RuleContext, group_id: str) -> str:
    group = context.snapshot.group(group_id)
    return group.display_name if group is not None else group_id


def _group_label(context: RuleContext, group_id: str) -> str:
    group = context.snapshot.group(group_id)
    return f"'{group.display_name}'" if group is not None else f"group {group_id}"


def _registered_devices_in(context: RuleContext, group_ids: tuple[str, ...]) -> frozenset[str]:
    """Registered Autopilot devices the groups certainly hold (user groups hold none)."""
    held: set[str] = set()
    for group_id in dict.fromkeys(group_ids):
        group = context.snapshot.group(group_id)
        if group is not None:
            held |= context.targeting.membership(group).members
    return frozenset(held)
