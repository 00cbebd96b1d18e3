"""HYB-008 (manual): Microsoft Entra Connect synchronizes the OU hybrid devices join."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleKind, RuleMetadata, Severity
from rules.tenant_collections import AUTOPILOT_PROFILES

METADATA = RuleMetadata(
    id="HYB-008",
    title="Microsoft Entra Connect synchronizes the OU that hybrid-joined devices join",
    severity=Severity.ERROR,
    rationale=(
        "Microsoft Entra hybrid join needs the computer objects of the OU named in the "
        "domain join profile to be in Microsoft Entra Connect's sync scope "
        "(windows-autopilot-hybrid.md, General requirements); otherwise the device never "
        "completes hybrid join. The sync scope is configured on the on-premises Entra Connect "
        "server and is not visible in Graph, so a person checks it."
    ),
    remediation=(
        "Microsoft Entra admin center > Identity > Hybrid management > Microsoft Entra "
        "Connect: on the sync server, run the Entra Connect wizard > Customize synchronization "
        "options > Domain and OU filtering, and include the OU of the domain join profile."
    ),
    references=("https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",),
    graph_reads=(AUTOPILOT_PROFILES,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
    kind=RuleKind.MANUAL,
    manual_steps=(
        "on the Microsoft Entra Connect server, open the wizard > Customize synchronization "
        "options > Domain and OU filtering",
        "check that the OU named in the domain join profile (Devices > Configuration > the "
        "Domain Join profile > Organizational unit) is selected",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    finding = FindingBuilder(METADATA)
    profiles = context.targeting.preprovisioning_profiles()
    if profiles is None:
        yield finding.manual(
            context.tenant_subject,
            "if devices are pre-provisioned with Microsoft Entra hybrid join, check the "
            "Entra Connect sync scope (the profiles could not be read)",
            (*METADATA.manual_steps, *context.unreadable(AUTOPILOT_PROFILES)),
        )
        return
    for profile in profiles:
        if profile.is_hybrid:
            yield finding.manual(
                profile_subject(profile),
                f"'{profile.display_name}' joins devices to on-premises AD: check that "
                "Microsoft Entra Connect synchronizes the OU they join",
                scope=context.profile_scope(profile),
            )
