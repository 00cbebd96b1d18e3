"""DEV-002: Autopilot reports no hardware or device-type problem for any pre-provisioning device."""

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
    id="DEV-002",
    title="Autopilot reports no hardware or device-type problem for any pre-provisioning device",
    severity=Severity.ERROR,
    rationale=(
        "windowsAutopilotDeviceIdentity.deploymentProfileAssignmentDetailedStatus enumerates "
        "why a profile cannot be applied: hardwareRequirementsNotMet and the "
        "<deviceType>ProfileNotSupported values (Microsoft Graph beta "
        "windowsAutopilotDeviceIdentity resource). Pre-provisioning needs TPM 2.0 with device "
        "attestation (pre-provision.md); reading hardwareRequirementsNotMet as a TPM problem is "
        "an inference."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Windows Autopilot > "
        "Devices > the device: check the hardware (TPM 2.0, attestation) and that the assigned "
        "profile's device type matches the device (Windows PC for PCs)."
    ),
    references=(
        "https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeviceidentity?view=graph-rest-beta",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
    inference=True,
)

NO_PROBLEM = "none"
# Graph's placeholder for values added after a client was built: not a verdict either way.
FUTURE_VALUE = "unknownFutureValue"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = unknown_without_devices(context, METADATA)
    if missing:
        yield from missing
        return
    for meant, finding in iter_scoped(context, METADATA):
        device = meant.device
        label = device_label(device)
        detailed = device.raw.get("deploymentProfileAssignmentDetailedStatus")
        reason = f"deploymentProfileAssignmentDetailedStatus is '{detailed}'"
        if not isinstance(detailed, str) or detailed == FUTURE_VALUE:
            yield finding.unknown(
                meant.subject,
                f"Autopilot does not say whether device {label} meets the profile's hardware "
                "requirements",
                (reason,),
                devices=(device.id,),
            )
        elif detailed.casefold() != NO_PROBLEM:
            yield finding.failed(
                meant.subject,
                f"Autopilot cannot apply the profile to device {label}: {detailed}",
                (reason,),
                devices=(device.id,),
            )
        else:
            yield finding.passed(
                meant.subject,
                f"Autopilot reports no hardware or device-type problem for device {label}",
                (reason,),
                devices=(device.id,),
            )
