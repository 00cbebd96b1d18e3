"""PRF-004: every pre-provisioning profile is for the Windows PC device type."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES

METADATA = RuleMetadata(
    id="PRF-004",
    title="Every pre-provisioning profile is for the Windows PC device type",
    severity=Severity.ERROR,
    rationale=(
        "deviceType is one of windowsPc, holoLens, surfaceHub2, surfaceHub2S, virtualMachine "
        "(Microsoft Graph windowsAutopilotDeploymentProfile resource); pre-provisioning needs "
        "physical devices with TPM 2.0 (Windows Autopilot pre-provisioning requirements), so a "
        "profile for another device type cannot serve the technician flow."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles: "
        "create the pre-provisioning profile for Windows PC and assign it instead."
    ),
    references=(
        "https://learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeploymentprofile?view=graph-rest-beta",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

WINDOWS_PC = "windowspc"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield _check(item)
        else:
            yield item


def _check(item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    device_type = profile.device_type
    if device_type is None:
        return item.finding.unknown(
            item.subject,
            f"profile '{profile.display_name}' does not report its device type",
            ("deviceType is missing",),
            devices=item.devices,
        )
    reason = f"deviceType is '{device_type}'"
    if device_type.casefold() == WINDOWS_PC:
        return item.finding.passed(
            item.subject,
            f"profile '{profile.display_name}' is for Windows PCs",
            (reason,),
            devices=item.devices,
        )
    extra = (
        ("virtual machines lack the physical TPM 2.0 pre-provisioning attests (see DEV-008)",)
        if device_type.casefold() == "virtualmachine"
        else ()
    )
    return item.finding.failed(
        item.subject,
        f"pre-provisioning profile '{profile.display_name}' is for '{device_type}', not Windows PC",
        (reason, *extra),
        devices=item.devices,
    )
