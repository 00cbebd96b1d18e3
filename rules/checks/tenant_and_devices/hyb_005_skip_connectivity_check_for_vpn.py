"""HYB-005: hybrid profiles skip the domain connectivity check when the user flow runs over VPN."""

from __future__ import annotations

from collections.abc import Iterator

from rules.checks.tenant_and_devices.hybrid_profiles import hybrid_profiles_or_verdict
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES

METADATA = RuleMetadata(
    id="HYB-005",
    title="Hybrid profiles whose user flow reaches the domain over VPN skip the AD "
    "connectivity check",
    severity=Severity.WARNING,
    rationale=(
        "windows-autopilot-hybrid.md: for devices that reach a domain controller only through "
        "a VPN during the user flow, 'Skip AD connectivity check' must be Yes, or the user "
        "flow waits for a domain controller it cannot reach. The pre-provisioning technician "
        "flow itself does not need domain connectivity (pre-provision.md). The setting is "
        "hybridAzureADJoinSkipConnectivityCheck on an "
        "activeDirectoryWindowsAutopilotDeploymentProfile (beta). Whether the user flow runs "
        "over VPN is not in tenant data: with the check on, a person confirms it."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Deployment Profiles > "
        "the hybrid profile > Properties > Out-of-box experience: set 'Skip AD connectivity "
        "check' to Yes when users start on a VPN."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/autopilot/pre-provision",
    ),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
    manual_steps=(
        "check whether users start the user flow outside the corporate network (on a VPN)",
        "if they do, set 'Skip AD connectivity check' to Yes on the profile",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    for profile in hybrid:
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        subject = profile_subject(profile)
        value = profile.raw.get("hybridAzureADJoinSkipConnectivityCheck")
        fact = (f"hybridAzureADJoinSkipConnectivityCheck is {value}",)
        if value is True:
            yield finding.passed(
                subject,
                f"'{profile.display_name}' skips the AD connectivity check: a VPN user flow "
                "does not wait for a domain controller",
                fact,
            )
        elif value is False:
            yield finding.manual(
                subject,
                f"'{profile.display_name}' waits for a domain controller in the user flow: "
                "check users do not start on a VPN",
                (*fact, *METADATA.manual_steps),
            )
        else:
            yield finding.unknown(
                subject,
                f"'{profile.display_name}' does not report whether it skips the AD "
                "connectivity check",
                fact,
            )
