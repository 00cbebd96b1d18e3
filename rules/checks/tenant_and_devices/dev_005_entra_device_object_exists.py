"""DEV-005: every pre-provisioning device's Entra device object exists."""

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
    id="DEV-005",
    title="Every pre-provisioning device's Entra device object exists",
    severity=Severity.BLOCKER,
    rationale=(
        "A Microsoft Entra device is created upon import and acts as Windows Autopilot's "
        "anchor; deleting it might lead to Microsoft Entra join errors (Windows Autopilot "
        "troubleshooting FAQ), and pre-provisioning fails with 0x801C03F3 when the object was "
        "deleted (Windows Autopilot known issues). Without it the device is also in no group, "
        "so it gets neither its profile nor its device-targeted payload."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices: delete the registration and import the hardware hash again, so Autopilot "
        "creates a new Microsoft Entra device object."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/autopilot/known-issues",
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
    unreadable = context.unreadable(DEVICES)
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        label = device_label(device)
        devices = (device.id,)
        if not device.entra_device_id:
            yield finding.failed(
                meant.subject,
                f"Autopilot device {label} has no Microsoft Entra device object",
                ("azureAdDeviceId is empty",),
                devices=devices,
            )
            continue
        reason = f"azureAdDeviceId is {device.entra_device_id}"
        if unreadable:
            yield finding.unknown(
                meant.subject,
                f"cannot tell whether the Entra device object of {label} exists: Entra devices "
                "could not be read",
                (reason, *unreadable),
                devices=devices,
            )
            continue
        entra = context.snapshot.entra_device_by_device_id(device.entra_device_id)
        if entra is None:
            yield finding.failed(
                meant.subject,
                f"the Microsoft Entra device object of Autopilot device {label} is missing "
                "(deleted?)",
                (reason, "no Entra device carries that deviceId"),
                devices=devices,
            )
        else:
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} has its Microsoft Entra device object "
                f"'{entra.display_name}'",
                (reason, f"Entra device object {entra.id} carries that deviceId"),
                devices=devices,
            )
