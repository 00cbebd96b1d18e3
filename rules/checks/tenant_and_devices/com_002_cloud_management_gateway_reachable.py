"""COM-002: when co-management installs the Configuration Manager client, its CMG is named
and a person confirms the bench reaches it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from rules.assignments import TargetKind
from rules.context import RuleContext
from rules.findings import Finding, FindingBuilder, RuleMetadata, Severity, Subject
from rules.network_endpoints import COMANAGEMENT_AUTOPILOT, Endpoint, merged_endpoints
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS
from rules.tenant_objects import EnrollmentConfiguration, EnrollmentConfigurationKind

METADATA = RuleMetadata(
    id="COM-002",
    title="The Cloud Management Gateway of co-management is known and reachable from the bench",
    severity=Severity.WARNING,
    rationale=(
        "When Intune co-management settings install the Configuration Manager client, the "
        "client reaches its site through the Cloud Management Gateway named by CCMHOSTNAME in "
        "the command line (configmgr/comanage/autopilot-enrollment.md); the bench network "
        "must allow it like the Intune endpoints. The setting is "
        "deviceComanagementAuthorityConfiguration.configurationManagerAgentCommandLineArgument "
        "(Graph beta). Greenscreen names the host; whether the network reaches it is a manual "
        "check."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Enrollment > Windows > Co-management "
        "Settings > Properties: the command line must carry CCMHOSTNAME=<CMG host>/CCM_Proxy_"
        "MutualAuth/<id> and SMSSiteCode; allow that host on TCP 443 on the bench network."
    ),
    references=(COMANAGEMENT_AUTOPILOT,),
    graph_reads=(ENROLLMENT_CONFIGURATIONS,),
    permissions=("DeviceManagementServiceConfig.Read.All",),
)

# The host part of CCMHOSTNAME=<host>/CCM_Proxy_MutualAuth/<id>: host name characters only.
_CCMHOSTNAME: Final = re.compile(
    r"""(?:^|[\s"'])CCMHOSTNAME\s*=\s*["']?([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)""", re.I
)
_CMG_PORT: Final = 443
TENANT_NOTE: Final = "this tenant's co-management settings"


def cmg_host(configuration: EnrollmentConfiguration) -> str | None:
    """The CMG host of a co-management configuration's client command line, if it names one."""
    arguments = configuration.raw.get("configurationManagerAgentCommandLineArgument")
    if not isinstance(arguments, str):
        return None
    match = _CCMHOSTNAME.search(arguments)
    return match.group(1).lower() if match else None


def installs_client(configuration: EnrollmentConfiguration) -> bool | None:
    value = configuration.raw.get("installConfigurationManagerAgent")
    return value if isinstance(value, bool) else None


def is_assigned(configuration: EnrollmentConfiguration) -> bool | None:
    """Whether the settings reach anyone: a default (priority 0) or an include assignment.

    Co-management settings install the client only on the devices and users they are assigned
    to; unassigned settings install it nowhere. None when the assignments could not be read.
    """
    if configuration.priority == 0:
        return True
    if configuration.assignments is None:
        return None
    return any(
        assignment.target_kind
        in (TargetKind.GROUP_INCLUDE, TargetKind.ALL_DEVICES, TargetKind.ALL_LICENSED_USERS)
        for assignment in configuration.assignments
    )


def comanagement_configurations(
    snapshot: TenantSnapshot,
) -> tuple[EnrollmentConfiguration, ...] | None:
    if snapshot.enrollment_configurations is None:
        return None
    return tuple(
        configuration
        for configuration in snapshot.enrollment_configurations
        if configuration.kind is EnrollmentConfigurationKind.CO_MANAGEMENT
    )


def cmg_endpoints(snapshot: TenantSnapshot) -> tuple[Endpoint, ...]:
    """The tenant's CMG hosts as network endpoints (empty when none or unreadable)."""
    endpoints = []
    for configuration in comanagement_configurations(snapshot) or ():
        host = cmg_host(configuration)
        if host and installs_client(configuration) is not False:
            endpoints.append(
                Endpoint(
                    host,
                    "TCP",
                    (_CMG_PORT,),
                    f"Cloud Management Gateway of '{configuration.display_name}'",
                    COMANAGEMENT_AUTOPILOT,
                    TENANT_NOTE,
                )
            )
    return tuple(endpoints)


def bench_endpoints(snapshot: TenantSnapshot) -> tuple[Endpoint, ...]:
    """Every endpoint the bench must reach: Microsoft's list plus this tenant's CMG."""
    return merged_endpoints(cmg_endpoints(snapshot))


def evaluate(context: RuleContext) -> Iterator[Finding]:
    missing = tuple(context.unknown_if_unreadable(METADATA, ENROLLMENT_CONFIGURATIONS))
    if missing:
        yield from missing
        return
    finding = FindingBuilder(METADATA)
    for configuration in comanagement_configurations(context.snapshot) or ():
        subject = Subject("enrollmentConfiguration", configuration.id, configuration.display_name)
        name = configuration.display_name
        installs = installs_client(configuration)
        arguments = configuration.raw.get("configurationManagerAgentCommandLineArgument")
        facts = (
            f"installConfigurationManagerAgent is {installs}",
            f"command line: {arguments}" if arguments else "no client command line",
        )
        assigned = is_assigned(configuration)
        if assigned is False:
            yield finding.not_applicable(
                subject,
                f"co-management settings '{name}' are assigned to nobody: they install the "
                "Configuration Manager client on no device",
                (*facts, "no include assignment"),
            )
            continue
        if installs is False:
            yield finding.not_applicable(
                subject,
                f"co-management settings '{name}' do not install the Configuration Manager "
                "client: no gateway to reach",
                facts,
            )
            continue
        host = cmg_host(configuration)
        if assigned is None:
            yield finding.unknown(
                subject,
                f"cannot tell whether co-management settings '{name}' are assigned to anyone",
                (*facts, "the assignments could not be read"),
            )
        elif installs is None:
            yield finding.unknown(
                subject,
                f"cannot tell whether co-management settings '{name}' install the "
                "Configuration Manager client",
                facts,
            )
        elif host is None:
            yield finding.failed(
                subject,
                f"co-management settings '{name}' install the Configuration Manager client "
                "without naming a Cloud Management Gateway (CCMHOSTNAME): an internet-based "
                "device cannot reach its site",
                facts,
            )
        else:
            yield finding.manual(
                subject,
                f"the bench network must reach the Cloud Management Gateway {host} "
                f"(TCP {_CMG_PORT}) of co-management settings '{name}'",
                (
                    *facts,
                    f"allow {host} on TCP {_CMG_PORT} on the bench network (it is in "
                    "`greenscreen network`)",
                    f"from a bench device, check that {host} resolves and accepts HTTPS",
                ),
            )
