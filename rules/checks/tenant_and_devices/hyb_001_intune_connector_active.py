"""HYB-001: an Intune Connector for Active Directory is active and recently connected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Final

from rules.checks.tenant_and_devices.hybrid_profiles import hybrid_profiles_or_verdict
from rules.context import RuleContext, profile_subject
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    GROUPS,
)
from rules.tenant_objects import DomainJoinConnector

METADATA = RuleMetadata(
    id="HYB-001",
    title="An Intune Connector for Active Directory is active and recently connected",
    severity=Severity.BLOCKER,
    rationale=(
        "Microsoft Entra hybrid join with Autopilot needs the Intune Connector for Active "
        "Directory to create the computer account; the connector must show Active "
        "(intune-connector.md, windows-autopilot-hybrid.md). Inactive connectors are removed "
        "automatically after 30 days (Windows Autopilot known issues)."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Intune Connector for "
        "Active Directory: check that a connector is Active; on its server, restart or "
        "reinstall the connector."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/windows-autopilot-hybrid",
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/graph/api/resources/intune-odj-devicemanagementdomainjoinconnector?view=graph-rest-beta",
    ),
    graph_reads=(DOMAIN_JOIN_CONNECTORS, AUTOPILOT_PROFILES, GROUPS, AUTOPILOT_DEVICES, DEVICES),
    permissions=("DeviceManagementServiceConfig.Read.All", "GroupMember.Read.All"),
)

ACTIVE: Final = "active"
# A connector checks in continuously; a day without contact means it is not serving requests.
STALE_AFTER: Final = timedelta(hours=24)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    hybrid = hybrid_profiles_or_verdict(context, METADATA)
    if isinstance(hybrid, Finding):
        yield hybrid
        return
    missing = tuple(context.unknown_if_unreadable(METADATA, DOMAIN_JOIN_CONNECTORS))
    if missing:
        yield from missing
        return
    related = tuple(profile_subject(profile) for profile in hybrid)
    devices = frozenset(
        device_id
        for profile in hybrid
        for device_id in context.targeting.profile_targeting(profile).device_ids
    )
    names = ", ".join(f"'{profile.display_name}'" for profile in hybrid)
    finding = FindingBuilder(METADATA)
    connectors = context.snapshot.domain_join_connectors or ()
    if not connectors:
        yield finding.failed(
            context.tenant_subject,
            f"no Intune Connector for Active Directory is installed, so hybrid profile(s) {names} "
            "cannot join devices to the domain",
            ("the tenant has no domain join connector",),
            devices=devices,
            related=related,
        )
        return
    verdicts = [_verdict(context, connector) for connector in connectors]
    healthy = any(state == "healthy" for state, _, _ in verdicts)
    for connector, (state, message, reasons) in zip(connectors, verdicts, strict=True):
        subject = Subject("domainJoinConnector", connector.id, connector.display_name)
        if state == "healthy":
            yield finding.passed(subject, message, reasons, related=related)
        elif state == "unknown":
            yield finding.unknown(subject, message, reasons, devices=devices, related=related)
        else:
            yield finding.failed(
                subject,
                message,
                (*reasons, "another connector is active" if healthy else "no connector is active"),
                # Another healthy connector takes the requests: a risk, not a stop.
                severity=Severity.WARNING if healthy else Severity.BLOCKER,
                devices=() if healthy else devices,
                related=related,
            )


def _verdict(
    context: RuleContext, connector: DomainJoinConnector
) -> tuple[str, str, tuple[str, ...]]:
    name = connector.display_name
    last = connector.last_connection
    reasons = (
        f"state is '{connector.state}'",
        f"last connection {last.isoformat() if last else 'unknown'}",
        f"version {connector.version}",
    )
    if (connector.state or "").casefold() != ACTIVE:
        return "failed", f"Intune Connector '{name}' is {connector.state}, not active", reasons
    if last is None:
        return "unknown", f"Intune Connector '{name}' reports no last connection time", reasons
    silent = context.snapshot.captured_at - last
    if silent > STALE_AFTER:
        hours = int(silent.total_seconds() // 3600)
        return (
            "failed",
            f"Intune Connector '{name}' has not connected for {hours} hours",
            reasons,
        )
    return "healthy", f"Intune Connector '{name}' is active and connected recently", reasons
