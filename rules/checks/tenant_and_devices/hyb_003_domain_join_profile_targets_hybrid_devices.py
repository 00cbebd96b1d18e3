"""HYB-003: a domain join profile reaches every device of each hybrid pre-provisioning profile."""

from __future__ import annotations

from collections.abc import Iterator

from rules.applicability import Applicability, name_devices
from rules.checks.tenant_and_devices.hybrid_profiles import (
    hybrid_profiles_or_verdict,
    is_domain_join_configuration,
)
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    GROUPS,
)
from rules.tenant_objects import AutopilotProfile, DeviceConfiguration

METADATA = RuleMetadata(
    id="HYB-003",
    title="A domain join profile reaches every device of each hybrid pre-provisioning profile",
    severity=Severity.BLOCKER,
    rationale=(
        "Hybrid join needs a Domain Join configuration profile assigned to the same group as "
        "the Autopilot profile (windows-autopilot-hybrid.md: 'Assign a device profile to the "
        "same group used at the step Create a device group'); the tutorial recommends All "
        "devices and warns that an accidental exclusion stops delivery "
        "(tutorial/includes/domain-join-profile.md). Without it the offline domain join blob "
        "never reaches the device and the deployment fails."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > Create > Templates "
        "> Domain Join: assign it to the hybrid profile's Autopilot device group (or All "
        "devices) without excluding those devices."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/hybrid-azure-ad-join-domain-join-profile",
    ),
    graph_reads=(DEVICE_CONFIGURATIONS, AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=(
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
    ),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, DEVICE_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    domain_joins = tuple(
        configuration
        for configuration in context.snapshot.device_configurations or ()
        if is_domain_join_configuration(configuration.odata_type)
    )
    for profile in hybrid:
        yield _verdict(context, profile, domain_joins)


def _verdict(
    context: RuleContext,
    profile: AutopilotProfile,
    domain_joins: tuple[DeviceConfiguration, ...],
) -> Finding:
    finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
    subject = profile_subject(profile)
    name = profile.display_name
    profile_devices = context.targeting.profile_targeting(profile).device_ids
    reasons: list[str] = []
    applying: list[DeviceConfiguration] = []
    conditional: list[DeviceConfiguration] = []
    undecided: list[DeviceConfiguration] = []
    for configuration in domain_joins:
        verdict = context.targeting.device_phase_applicability(configuration, profile)
        reasons.append(
            f"domain join profile '{configuration.display_name}' {verdict.verdict.value}"
        )
        reasons.extend(verdict.reasons)
        if verdict.verdict is Applicability.APPLIES:
            applying.append(configuration)
        elif verdict.verdict is Applicability.CONDITIONAL:
            conditional.append(configuration)
        elif verdict.verdict is Applicability.UNKNOWN:
            undecided.append(configuration)
    related = tuple(
        Subject("deviceConfiguration", c.id, c.display_name)
        for c in (*applying, *conditional, *undecided)
    )
    if not domain_joins:
        reasons.append("the tenant has no domain join configuration profile")
    if applying:
        reached = frozenset().union(*(_reached(context, c, profile) for c in applying))
        left_out = profile_devices - reached
        if left_out:
            return finding.failed(
                subject,
                f"no domain join profile reaches "
                f"{name_devices(context.snapshot, left_out, len(profile_devices))} of hybrid "
                f"profile '{name}'",
                reasons,
                devices=left_out,
                related=related,
            )
        return finding.passed(
            subject,
            f"domain join profile '{applying[0].display_name}' reaches the devices of hybrid "
            f"profile '{name}'",
            reasons,
            devices=profile_devices,
            related=related,
        )
    if undecided:
        return finding.unknown(
            subject,
            f"cannot tell whether a domain join profile reaches the devices of hybrid profile "
            f"'{name}'",
            reasons,
            devices=profile_devices,
            related=related,
        )
    if conditional:
        return finding.failed(
            subject,
            f"the domain join profile of hybrid profile '{name}' reaches its devices only "
            "through an assignment filter",
            reasons,
            severity=Severity.WARNING,
            devices=profile_devices,
            related=related,
        )
    return finding.failed(
        subject,
        f"no domain join profile is assigned to the devices of hybrid profile '{name}'",
        reasons,
        devices=profile_devices,
        related=related,
    )


def _reached(
    context: RuleContext, configuration: DeviceConfiguration, profile: AutopilotProfile
) -> frozenset[str]:
    """The profile's devices the configuration certainly reaches (filters and exclusions
    honoured), as the shared targeting engine answers it."""
    applicability = context.targeting.device_phase_applicability(configuration, profile)
    return applicability.device_reach().reached
