"""DEV-004: no pre-provisioning device waits for hardware-change remediation."""

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
    id="DEV-004",
    title="No pre-provisioning device waits for hardware-change remediation",
    severity=Severity.ERROR,
    rationale=(
        "After a hardware change (e.g. a motherboard replacement) the registration shows "
        "'Fix pending' or 'Attention required' and the profile isn't applied until the device "
        "is deregistered and registered again (Windows Autopilot troubleshooting FAQ). Graph "
        "shows it as remediationState automaticRemediationRequired or manualRemediationRequired "
        "(beta windowsAutopilotDeviceIdentity)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices > the device: follow 'Attention required' (deregister, re-upload the new "
        "hardware hash), or wait for the automatic fix to finish."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeviceidentity?view=graph-rest-beta",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

NOT_REQUIRED = "noRemediationRequired"
REQUIRED = frozenset({"automaticRemediationRequired", "manualRemediationRequired"})


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        label = device_label(device)
        state = device.raw.get("remediationState")
        reasons = (f"remediationState is '{state}'",)
        if state in REQUIRED:
            yield finding.failed(
                meant.subject,
                f"Autopilot device {label} needs hardware-change remediation ({state}) before "
                "its profile applies",
                reasons,
                devices=(device.id,),
            )
        elif state == NOT_REQUIRED:
            yield finding.passed(
                meant.subject,
                f"Autopilot device {label} needs no hardware-change remediation",
                reasons,
                devices=(device.id,),
            )
        else:
            yield finding.unknown(
                meant.subject,
                f"cannot tell whether Autopilot device {label} needs hardware-change remediation",
                reasons,
                devices=(device.id,),
            )
