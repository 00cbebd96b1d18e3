"""DEV-001: every pre-provisioning device has a pre-provisioning profile assigned and in sync."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Certainty
from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    device_subject,
    iter_scoped,
    unknown_without_devices,
)
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS
from rules.tenant_objects import AutopilotDevice, NotRead, ObjectReference

METADATA = RuleMetadata(
    id="DEV-001",
    title="Every pre-provisioning device has a pre-provisioning profile assigned and in sync",
    severity=Severity.ERROR,
    rationale=(
        "Before deploying a device, the profile status must go from Unassigned to Assigning to "
        "Assigned, with Date assigned populated (Windows Autopilot profiles documentation); "
        "a device that starts pre-provisioning without it gets no profile or the wrong one "
        "(Windows Autopilot troubleshooting FAQ, events 807/809/815). The assigned profile must "
        "allow pre-provisioning, or the technician flow cannot start (pre-provision.md)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices: check Profile status and Date assigned; if it stays unassigned, check the "
        "device's group membership and the profile's assignments, then Sync."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/profiles",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

IN_SYNC = "assignedInSync"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    checked: set[str] = set()
    for meant, finding in iter_scoped(context, METADATA):
        checked.add(meant.device.id)
        yield _verdict(context, meant.device, finding)
    yield from _devices_without_any_profile(context, checked)


def _verdict(context: RuleContext, device: AutopilotDevice, finding: FindingBuilder) -> Finding:
    label = device_label(device)
    subject = device_subject(device)
    problems: list[str] = []
    doubts: list[str] = []
    facts: list[str] = []
    status = device.profile_assignment_status
    if status is None:
        doubts.append("deploymentProfileAssignmentStatus is not in the snapshot")
    elif status != IN_SYNC:
        problems.append(f"profile assignment status is '{status}', not '{IN_SYNC}'")
    else:
        facts.append(f"profile assignment status is '{IN_SYNC}'")
    if device.profile_assigned is None:
        problems.append("deploymentProfileAssignedDateTime (Date assigned) is empty")
    else:
        facts.append(f"profile assigned on {device.profile_assigned.date().isoformat()}")
    assigned = device.deployment_profile
    if isinstance(assigned, NotRead):
        doubts.append("the device's deploymentProfile could not be read")
    elif assigned is None:
        problems.append("no deployment profile is assigned")
    else:
        _check_assigned_profile(context, device, assigned, problems, doubts, facts)
    devices = (device.id,)
    if problems:
        return finding.failed(
            subject,
            f"Autopilot device {label} is not ready: {problems[0]}",
            (*problems, *doubts, *facts),
            devices=devices,
        )
    if doubts:
        return finding.unknown(
            subject,
            f"cannot tell whether Autopilot device {label} has its profile: {doubts[0]}",
            (*doubts, *facts),
            devices=devices,
        )
    return finding.passed(
        subject,
        f"Autopilot device {label} has its pre-provisioning profile assigned and in sync",
        facts,
        devices=devices,
    )


def _check_assigned_profile(
    context: RuleContext,
    device: AutopilotDevice,
    assigned: ObjectReference,
    problems: list[str],
    doubts: list[str],
    facts: list[str],
) -> None:
    profile = context.snapshot.autopilot_profile(assigned.id)
    name = assigned.display_name or assigned.id
    if profile is None:
        problems.append(f"the assigned profile '{name}' is not among the tenant's profiles")
    elif not profile.preprovisioning_allowed:
        problems.append(f"the assigned profile '{name}' does not allow pre-provisioning")
    else:
        facts.append(f"assigned profile '{name}' allows pre-provisioning")
    intended = device.intended_deployment_profile
    if isinstance(intended, ObjectReference) and intended.id != assigned.id:
        intended_name = intended.display_name or intended.id
        problems.append(
            f"Intune intends profile '{intended_name}' but the device still has '{name}'"
        )
    elif isinstance(intended, NotRead):
        # Graph serves no bulk read of the intended profile (the device list refuses the expand,
        # the navigation has no route): the status says whether the assignment is in sync, and
        # group targeting, when certain, names the profile Intune will assign.
        effective = context.targeting.effective_profile(device)
        target = effective.profile
        if (
            target is not None
            and effective.certainty is Certainty.CERTAIN
            and not effective.undecided
            and target.id != assigned.id
        ):
            problems.append(
                f"group targeting gives profile '{target.display_name}' but the device still "
                f"has '{name}'"
            )


def _devices_without_any_profile(context: RuleContext, checked: set[str]) -> Iterator[Finding]:
    """Registrations no profile targets at all: they cannot be pre-provisioned."""
    if not context.targeting.preprovisioning_profiles():
        return
    finding = FindingBuilder(METADATA)
    for device in context.snapshot.autopilot_devices or ():
        if device.id in checked or device.deployment_profile is not None:
            continue
        effective = context.targeting.effective_profile(device)
        if effective.profile is not None or effective.undecided:
            continue
        yield finding.failed(
            device_subject(device),
            f"Autopilot device {device_label(device)} has no deployment profile and no profile "
            "targets it",
            ("no deployment profile is assigned", *effective.reasons),
            devices=(device.id,),
        )
