"""ESP-007: an installation failure keeps the device in the ESP, with logs to collect."""

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
    id="ESP-007",
    title="A failed installation keeps the device in the ESP, with log collection on",
    severity=Severity.WARNING,
    rationale=(
        "'Allow users to use device if installation error occurs' (Graph "
        "allowDeviceUseOnInstallFailure) lets whoever is at the device bypass the ESP when an "
        "installation fails (Enrollment Status Page): at the technician bench a device whose "
        "required apps failed can then be handed on half-provisioned. 'Turn on log collection "
        "and diagnostics page' (allowLogCollectionOnInstallFailure) is recommended because the "
        "logs aid troubleshooting (Enrollment Status Page; Windows Autopilot troubleshooting "
        "FAQ): INFO when off. Graph has no separate property for 'Block device use until all "
        "apps and profiles are installed'; reading it from these flags is an inference."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Enrollment Status "
        "Page > the ESP > Properties > Settings: set 'Allow users to use device if installation "
        "error occurs' to No and 'Turn on log collection and diagnostics page for end users' to "
        "Yes."
    ),
    references=(
        "https://learn.microsoft.com/intune/intune-service/enrollment/windows-enrollment-status",
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
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
    inference=True,
)

USE_ON_FAILURE = "allowDeviceUseOnInstallFailure"
LOG_COLLECTION = "allowLogCollectionOnInstallFailure"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in showing_esps(context, METADATA):
        yield item if isinstance(item, Finding) else _check(item)


def _check(found: ProfileEsp) -> Finding:
    esp, item = found.esp, found.item
    use = optional_bool(esp.raw, USE_ON_FAILURE)
    logs = optional_bool(esp.raw, LOG_COLLECTION)
    facts = (f"{USE_ON_FAILURE} is {use}", f"{LOG_COLLECTION} is {logs}", *found.reasons)
    name, profile = esp.display_name, item.profile.display_name
    if use is True:
        return item.finding.failed(
            found.subject,
            f"ESP '{name}' lets a failed installation be bypassed: devices of profile "
            f"'{profile}' can leave the technician phase without their required apps",
            facts,
            devices=item.devices,
            related=found.related,
        )
    if use is None or logs is None:
        missing = USE_ON_FAILURE if use is None else LOG_COLLECTION
        return item.finding.unknown(
            found.subject,
            f"ESP '{name}' does not report '{missing}'",
            facts,
            devices=item.devices,
            related=found.related,
        )
    if logs is False:
        return item.finding.failed(
            found.subject,
            f"ESP '{name}' keeps the device in the ESP on failure, but offers no log collection "
            "to the technician",
            facts,
            severity=Severity.INFO,
            devices=item.devices,
            related=found.related,
        )
    return item.finding.passed(
        found.subject,
        f"ESP '{name}' keeps a failed device in the ESP and offers log collection",
        facts,
        devices=item.devices,
        related=found.related,
    )
