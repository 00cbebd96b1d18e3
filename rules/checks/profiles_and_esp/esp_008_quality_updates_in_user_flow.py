"""ESP-008: Windows quality updates during OOBE are understood as a user-flow step."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.esp_effective import ProfileEsp, showing_esps
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_bool
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
)

METADATA = RuleMetadata(
    id="ESP-008",
    title="The pre-provisioning ESP does not install Windows quality updates during OOBE",
    severity=Severity.INFO,
    rationale=(
        "'Install Windows quality updates (might restart the device)' (Graph "
        "installQualityUpdates) is not honored in the technician flow of a pre-provisioned "
        "deployment: monthly security updates install in the user flow instead, adding 20-40 "
        "minutes and possibly restarts there, and restarts can break autologon provisioning "
        "scenarios; they only install when 'Block device use until all apps and profiles are "
        "installed' is Yes (Enrollment Status Page, Windows monthly security update release "
        "details). New ESP profiles default to Yes. INFO: a choice to make knowingly; WARNING "
        "when the ESP also lets a failed device be used, since the updates may then be skipped."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: set 'Install Windows quality updates' to No "
        "for pre-provisioned devices and deliver updates with Update rings after provisioning, "
        "or keep Yes and tell users the first sign-in takes longer."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(
        AUTOPILOT_PROFILES,
        ENROLLMENT_CONFIGURATIONS,
        GROUPS,
        AUTOPILOT_DEVICES,
        DEVICES,
        ASSIGNMENT_FILTERS,
    ),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
)

SETTING = "installQualityUpdates"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in showing_esps(context, METADATA):
        yield item if isinstance(item, Finding) else _check(item)


def _check(found: ProfileEsp) -> Finding:
    esp, item = found.esp, found.item
    value = optional_bool(esp.raw, SETTING)
    facts = (f"{SETTING} is {value}", *found.reasons)
    name = esp.display_name
    if value is None:
        return item.finding.unknown(
            found.subject,
            f"ESP '{name}' does not report '{SETTING}'",
            facts,
            devices=item.devices,
            related=found.related,
        )
    if not value:
        return item.finding.passed(
            found.subject,
            f"ESP '{name}' does not install quality updates during OOBE",
            facts,
            devices=item.devices,
            related=found.related,
        )
    bypass = optional_bool(esp.raw, "allowDeviceUseOnInstallFailure") is True
    return item.finding.failed(
        found.subject,
        f"ESP '{name}' installs Windows quality updates during OOBE: not in the technician "
        "flow, but in the user flow of the resealed device (20-40 more minutes, restarts)"
        + ("; with device use allowed on failure they may be skipped" if bypass else ""),
        facts,
        severity=Severity.WARNING if bypass else Severity.INFO,
        devices=item.devices,
        related=found.related,
    )
