"""PRF-010: no pre-provisioned device waits with a profile edited after it was assigned."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.profiles_and_esp.profiles_under_check import (
    ProfileUnderCheck,
    profiles_under_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_DEVICES, AUTOPILOT_PROFILES, DEVICES, GROUPS

METADATA = RuleMetadata(
    id="PRF-010",
    title="No enrolled pre-provisioned device holds a profile edited after it was assigned",
    severity=Severity.INFO,
    rationale=(
        "A profile edited after a device received it doesn't reach a device that is already "
        "enrolled in Intune until the device is reset (Windows Autopilot profiles). A resealed "
        "pre-provisioned device is enrolled, so its user flow runs with the profile as it was. "
        "The change is detected as lastModifiedDateTime of the profile later than the device's "
        "deploymentProfileAssignedDateTime (an inference: Graph doesn't record when the device "
        "downloaded the profile)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > the device: reset (Autopilot "
        "Reset or wipe) the listed devices before handing them out if they need the edited "
        "profile, or revert the edit."
    ),
    references=("https://learn.microsoft.com/autopilot/profiles",),
    graph_reads=(AUTOPILOT_PROFILES, AUTOPILOT_DEVICES, GROUPS, DEVICES),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
        "Device.Read.All",
    ),
    inference=True,
)

ENROLLED = "enrolled"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, AUTOPILOT_DEVICES):
        yield _check(context, item) if isinstance(item, ProfileUnderCheck) else item


def _check(context: RuleContext, item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    stale: list[str] = []
    unsure: list[str] = []
    enrolled = 0
    for device_id in sorted(item.devices):
        device = context.snapshot.autopilot_device(device_id)
        if device is None or (device.enrollment_state or "").casefold() != ENROLLED:
            continue
        effective = context.targeting.effective_profile(device)
        if effective.profile is None or effective.profile.id != profile.id:
            continue
        enrolled += 1
        if profile.last_modified is None or device.profile_assigned is None:
            unsure.append(device_id)
        elif profile.last_modified > device.profile_assigned:
            stale.append(device_id)
    modified = profile.last_modified.isoformat() if profile.last_modified else "unknown"
    facts = (f"profile last modified {modified}", f"{enrolled} enrolled device(s) hold it")
    if stale:
        return item.finding.failed(
            item.subject,
            f"profile '{profile.display_name}' was edited after {len(stale)} enrolled device(s) "
            "received it: the edit reaches them only after a reset",
            facts,
            devices=stale,
        )
    if unsure:
        return item.finding.unknown(
            item.subject,
            f"cannot tell whether {len(unsure)} enrolled device(s) of profile "
            f"'{profile.display_name}' hold its latest version",
            (*facts, "lastModifiedDateTime or deploymentProfileAssignedDateTime is missing"),
            devices=unsure,
        )
    return item.finding.passed(
        item.subject,
        f"no enrolled device of profile '{profile.display_name}' holds an older version of it",
        facts,
        devices=item.devices,
    )
