"""DEV-003: no pre-provisioning device is blocked from its next Autopilot enrollment."""

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
    id="DEV-003",
    title="No pre-provisioning device is blocked from its next Autopilot enrollment",
    severity=Severity.ERROR,
    rationale=(
        "A device can't automatically re-enroll through Windows Autopilot after an initial "
        "deployment with pre-provisioning mode; the record must be unblocked or deleted "
        "(pre-provision.md). A blocked device fails with 0x80180014 until an admin selects "
        "Unblock device (Windows Autopilot troubleshooting FAQ); Graph shows it as "
        "userlessEnrollmentStatus 'blocked' (beta windowsAutopilotDeviceIdentity, action "
        "allowNextEnrollment)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices > select the device > Unblock device (or delete and re-import the record)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/graph/api/intune-enrollment-windowsautopilotdeviceidentity-allownextenrollment?view=graph-rest-beta",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

BLOCKED = "blocked"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        label = device_label(device)
        userless = device.raw.get("userlessEnrollmentStatus")
        state = device.enrollment_state
        reasons = (
            f"userlessEnrollmentStatus is '{userless}'",
            f"enrollmentState is '{state}'",
        )
        if BLOCKED in (userless, state):
            yield finding.failed(
                meant.subject,
                f"Autopilot device {label} is blocked from enrolling again: unblock it before "
                "pre-provisioning it",
                reasons,
                devices=(device.id,),
            )
        elif not isinstance(userless, str):
            yield finding.unknown(
                meant.subject,
                f"cannot tell whether Autopilot device {label} is blocked: "
                "userlessEnrollmentStatus is not in the snapshot",
                reasons,
                devices=(device.id,),
            )
        else:
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} is not blocked from enrolling",
                reasons,
                devices=(device.id,),
            )
