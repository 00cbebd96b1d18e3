"""HYB-004: the domain join profile of every hybrid pre-provisioning profile has valid values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.applicability import Applicability
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
from rules.tenant_objects import DeviceConfiguration

METADATA = RuleMetadata(
    id="HYB-004",
    title="The domain join profile of every hybrid pre-provisioning profile has valid values",
    severity=Severity.ERROR,
    rationale=(
        "Domain joins fail when the domain is given as a NetBIOS name instead of the FQDN, "
        "when the OU is the Computers container, when the OU is not a distinguished name or is "
        "wrapped in quotation marks (tutorial/includes/domain-join-profile.md, "
        "windows-autopilot-hybrid.md). Computer names are NetBIOS names of at most 15 "
        "characters, prefix and random suffix together."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the Domain Join "
        "profile > Properties > Configuration settings: use the domain's FQDN, an OU "
        "distinguished name such as OU=Autopilot,DC=contoso,DC=com, and a short prefix."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/hybrid-azure-ad-join-domain-join-profile",
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
    ),
    graph_reads=(DEVICE_CONFIGURATIONS, AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=(
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementServiceConfig.Read.All",
        "GroupMember.Read.All",
    ),
)

NETBIOS_NAME_LIMIT: Final = 15


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, DEVICE_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    for profile in hybrid:
        finding = FindingBuilder(METADATA, scope=context.profile_scope(profile))
        devices = context.targeting.profile_targeting(profile).device_ids
        for configuration in context.snapshot.device_configurations or ():
            if not is_domain_join_configuration(configuration.odata_type):
                continue
            verdict = context.targeting.device_phase_applicability(configuration, profile)
            if verdict.verdict is Applicability.DOES_NOT_APPLY:
                continue
            problems = domain_join_problems(configuration)
            subject = Subject("deviceConfiguration", configuration.id, configuration.display_name)
            related = (profile_subject(profile),)
            reasons = (*problems, *_values(configuration), *verdict.reasons)
            if problems:
                yield finding.failed(
                    subject,
                    f"domain join profile '{configuration.display_name}' will fail domain "
                    f"joins: {problems[0]}",
                    reasons,
                    devices=devices,
                    related=related,
                )
            else:
                yield finding.passed(
                    subject,
                    f"domain join profile '{configuration.display_name}' has a valid domain, "
                    "OU and computer name prefix",
                    reasons,
                    devices=devices,
                    related=related,
                )


def _text(configuration: DeviceConfiguration, key: str) -> str:
    value = configuration.raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def _values(configuration: DeviceConfiguration) -> tuple[str, ...]:
    return tuple(
        f"{key} is '{_text(configuration, key)}'"
        for key in ("activeDirectoryDomainName", "organizationalUnit", "computerNameStaticPrefix")
    )


def domain_join_problems(configuration: DeviceConfiguration) -> tuple[str, ...]:
    """What makes the profile's domain joins fail, in the admin center's words."""
    problems: list[str] = []
    domain = _text(configuration, "activeDirectoryDomainName")
    if not domain:
        problems.append("the domain name is empty")
    elif "." not in domain:
        problems.append(f"the domain '{domain}' is a NetBIOS name, not the FQDN")
    problems.extend(_organizational_unit_problems(_text(configuration, "organizationalUnit")))
    prefix = _text(configuration, "computerNameStaticPrefix")
    suffix = configuration.raw.get("computerNameSuffixRandomCharCount")
    suffix_length = suffix if isinstance(suffix, int) and not isinstance(suffix, bool) else 0
    if not prefix:
        problems.append("the computer name prefix is empty")
    elif len(prefix) + suffix_length > NETBIOS_NAME_LIMIT:
        problems.append(
            f"prefix '{prefix}' plus {suffix_length} random characters exceeds the "
            f"{NETBIOS_NAME_LIMIT}-character computer name limit"
        )
    return tuple(problems)


def _organizational_unit_problems(unit: str) -> tuple[str, ...]:
    if not unit:
        # Optional in the profile: the connector then uses the domain's default container.
        return ()
    if unit[0] in "\"'" or unit[-1] in "\"'":
        return ("the OU is wrapped in quotation marks",)
    folded = unit.casefold().replace(" ", "")
    if folded.startswith("cn=computers,"):
        return ("the OU is the Computers container, which makes domain joins fail",)
    if "dc=" not in folded:
        return (f"the OU '{unit}' is not a distinguished name ending in DC= components",)
    return ()
