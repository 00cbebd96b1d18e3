"""PRF-003: pre-provisioning profiles join devices to Microsoft Entra ID (not hybrid join)."""

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
    id="PRF-003",
    title="Pre-provisioning profiles use Microsoft Entra join rather than hybrid join",
    severity=Severity.WARNING,
    rationale=(
        "Microsoft recommends deploying new devices as cloud-native with Microsoft Entra join; "
        "hybrid join with Autopilot isn't recommended (Windows Autopilot pre-provisioning "
        "documentation). A hybrid profile brings the Intune Connector, the domain join profile, "
        "line of sight to a domain controller and longer ESP timeouts into the technician flow "
        "(the HYB rules check those)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles: "
        "create a profile with 'Join to Microsoft Entra ID as' set to Microsoft Entra joined and "
        "move the devices to it when the apps and policies allow."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    for item in profiles_under_check(context, METADATA, needs_targeting=False):
        if isinstance(item, ProfileUnderCheck):
            yield _check(item)
        else:
            yield item


def _check(item: ProfileUnderCheck) -> Finding:
    profile = item.profile
    reason = f"profile type is {profile.odata_type}"
    if profile.is_hybrid:
        return item.finding.failed(
            item.subject,
            f"profile '{profile.display_name}' uses Microsoft Entra hybrid join, which Microsoft "
            "does not recommend for new devices",
            (reason,),
            devices=item.devices,
        )
    if profile.odata_type is None:
        return item.finding.unknown(
            item.subject,
            f"profile '{profile.display_name}' does not report its join type",
            ("the profile has no @odata.type",),
            devices=item.devices,
        )
    return item.finding.passed(
        item.subject,
        f"profile '{profile.display_name}' uses Microsoft Entra join",
        (reason,),
        devices=item.devices,
    )
