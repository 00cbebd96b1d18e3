"""PRF-002: every pre-provisioning profile uses the user-driven deployment mode."""

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
    id="PRF-002",
    title="Every pre-provisioning profile uses the user-driven deployment mode",
    severity=Severity.ERROR,
    rationale=(
        "Pre-provisioned deployments build on the user-driven scenarios and support user-driven "
        "mode for Microsoft Entra joined and hybrid joined devices; the tutorial selects "
        "'User-driven' as deployment mode (Windows Autopilot pre-provisioning documentation). "
        "Graph: outOfBoxExperienceSetting.deviceUsageType is 'singleUser' for user-driven and "
        "'shared' for self-deploying."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the profile > Properties > Out-of-box experience (OOBE): set Deployment mode to "
        "User-driven (a self-deploying profile cannot be switched: create a user-driven one)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/tutorial/pre-provisioning/azure-ad-join-autopilot-profile",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

USER_DRIVEN = "singleuser"
SELF_DEPLOYING = "shared"


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield _check(item)
        else:
            yield item


def _check(item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    usage = profile.device_usage_type
    reason = f"outOfBoxExperienceSetting.deviceUsageType is '{usage}'"
    if usage is None:
        return item.finding.unknown(
            item.subject,
            f"profile '{profile.display_name}' does not report its deployment mode",
            ("outOfBoxExperienceSetting.deviceUsageType is missing",),
            devices=item.devices,
        )
    if usage.casefold() == USER_DRIVEN:
        return item.finding.passed(
            item.subject,
            f"profile '{profile.display_name}' is user-driven",
            (reason,),
            devices=item.devices,
        )
    mode = "self-deploying" if usage.casefold() == SELF_DEPLOYING else f"'{usage}'"
    return item.finding.failed(
        item.subject,
        f"pre-provisioning profile '{profile.display_name}' is {mode}, not user-driven",
        (reason, "pre-provisioning supports the user-driven mode"),
        devices=item.devices,
    )
