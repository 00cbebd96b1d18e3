"""DEV-006: no pre-provisioning device is anchored to a Microsoft Entra registered object."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.preprovisioning_devices import (
    device_label,
    iter_scoped,
    unknown_without_devices,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS

METADATA = RuleMetadata(
    id="DEV-006",
    title="No pre-provisioning device is a Microsoft Entra registered (workplace joined) device",
    severity=Severity.WARNING,
    rationale=(
        "Microsoft Entra registered ('workplace joined') devices shouldn't be registered as "
        "Windows Autopilot devices: they must first be removed from Intune and Microsoft Entra "
        "ID (registration-overview.md). When the registered object is not deleted before the "
        "device joins, its join type shows Microsoft Entra registered instead of joined "
        "(troubleshoot-device-enrollment.md). The Autopilot registration's Entra object "
        "(azureAdDeviceId) reports trustType 'Workplace' for a registered device."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices: deregister the device, delete its Microsoft Entra registered object "
        "(Microsoft Entra admin center > Devices > All devices), then import the hardware hash "
        "again."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshoot-device-enrollment",
        "https://learn.microsoft.com/autopilot/registration-overview",
        "https://learn.microsoft.com/graph/api/resources/device",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

WORKPLACE: Final = "workplace"


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
            continue  # no Entra object at all is DEV-005's failure
        if unreadable:
            yield finding.unknown(
                meant.subject,
                f"cannot tell how the Entra object of {label} is joined: Entra devices could "
                "not be read",
                unreadable,
                devices=devices,
            )
            continue
        entra = context.snapshot.entra_device_by_device_id(device.entra_device_id)
        if entra is None:
            continue  # DEV-005's failure
        related = (Subject("device", entra.id, entra.display_name),)
        fact = f"Entra object '{entra.display_name}' reports trustType '{entra.trust_type}'"
        if (entra.trust_type or "").casefold() == WORKPLACE:
            yield finding.failed(
                meant.subject,
                f"Autopilot device {label} is anchored to a Microsoft Entra registered "
                "(workplace joined) object: it will show as registered, not joined",
                (fact,),
                devices=devices,
                related=related,
            )
        else:
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} is not a Microsoft Entra registered device",
                (fact,),
                devices=devices,
                related=related,
            )
