"""CFG-010: DFCI profiles are not relied on during OOBE (Windows 11 24H2 Professional)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-010",
    title="No DFCI profile is relied on during the out-of-box experience",
    severity=Severity.INFO,
    rationale=(
        "Known issue: DFCI can't currently be configured during the out-of-box experience on "
        "devices with Professional editions of Windows 11, version 24H2; devices with KB5046740 "
        "or later enroll in DFCI after a reboot once provisioned, or are upgraded to Enterprise "
        "during OOBE (Manage DFCI for Windows Autopilot devices; Windows Autopilot known issues). "
        "The edition a device runs isn't in the Autopilot registration, so a DFCI profile "
        "reaching the technician phase is reported as INFO for every device of the profile."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the DFCI profile: "
        "for Windows 11 24H2 Pro devices, upgrade them to Enterprise during OOBE or let DFCI "
        "apply after provisioning (KB5046740 or later)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/dfci-management",
        "https://learn.microsoft.com/autopilot/known-issues",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)

SPEC: Final = SettingSpec(
    odata_types=frozenset({"#microsoft.graph.windows10devicefirmwareconfigurationinterface"}),
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "is a DFCI profile (DFCI can't be configured during OOBE on Windows 11 24H2 Pro)",
    )
