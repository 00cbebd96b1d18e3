"""HYB-002: the Intune Connector for Active Directory is the updated (MSA) connector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.tenant_and_devices.hybrid_profiles import hybrid_profiles_or_verdict
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import AUTOPILOT_PROFILES, DOMAIN_JOIN_CONNECTORS

METADATA = RuleMetadata(
    id="HYB-002",
    title="Every Intune Connector for Active Directory is the updated connector "
    "(6.2501.2000.5 or later)",
    severity=Severity.ERROR,
    rationale=(
        "Starting with Intune 2501 the Intune Connector for Active Directory runs with a "
        "Managed Service Account; the legacy connector 'will continue to work through the end "
        "of March 2025' (intune-connector.md), and windows-autopilot-hybrid.md now states that "
        "connector versions older than 6.2501.2000.5 are deprecated and can no longer process "
        "enrollment requests. With no updated connector active, hybrid join cannot create the "
        "computer account. The version is deviceManagementDomainJoinConnector.version (beta)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Intune Connector for "
        "Active Directory > Add: download the updated connector, uninstall the legacy one on "
        "its server and install the new one."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/autopilot/tutorial/user-driven/hybrid-azure-ad-join-intune-connector",
    ),
    graph_reads=(DOMAIN_JOIN_CONNECTORS, AUTOPILOT_PROFILES),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

MINIMUM_VERSION: Final = (6, 2501, 2000, 5)
ACTIVE: Final = "active"


def parse_version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = text.strip().split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, DOMAIN_JOIN_CONNECTORS))
    if missing:
        yield from missing
        return
    connectors = context.snapshot.domain_join_connectors or ()
    if not connectors:
        return  # no connector at all is HYB-001's blocker
    related = tuple(profile_subject(profile) for profile in hybrid)
    minimum = ".".join(str(part) for part in MINIMUM_VERSION)
    updated_active = any(
        (connector.state or "").casefold() == ACTIVE
        and (version := parse_version(connector.version)) is not None
        and version >= MINIMUM_VERSION
        for connector in connectors
    )
    finding = FindingBuilder(METADATA)
    for connector in connectors:
        subject = Subject("domainJoinConnector", connector.id, connector.display_name)
        version = parse_version(connector.version)
        facts = (f"version {connector.version}", f"state {connector.state}")
        if version is None:
            yield finding.unknown(
                subject,
                f"connector '{connector.display_name}' reports no version Greenscreen can read",
                facts,
                related=related,
            )
        elif version < MINIMUM_VERSION:
            yield finding.failed(
                subject,
                f"connector '{connector.display_name}' is the legacy connector "
                f"({connector.version} < {minimum}): it no longer processes enrollment requests"
                + ("" if updated_active else ", and no updated connector is active"),
                facts,
                severity=None if updated_active else Severity.BLOCKER,
                related=related,
            )
        else:
            yield finding.passed(
                subject,
                f"connector '{connector.display_name}' is the updated connector "
                f"({connector.version})",
                facts,
                related=related,
            )
