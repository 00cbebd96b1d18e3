"""CFG-009: no Windows LAPS policy is expected to apply in the technician phase."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec, named_always
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-009",
    title="No Windows LAPS policy is relied on before the user flow",
    severity=Severity.INFO,
    rationale=(
        "Known issue: the Windows LAPS policy isn't applied during the technician flow of a "
        "pre-provisioned deployment; it applies once the device reaches the user flow (Windows "
        "Autopilot known issues). A LAPS policy that targets the Autopilot devices is therefore "
        "not in force on a resealed device, and no local administrator password is backed up "
        "until the user flow. INFO: the policy still applies later. Read from the LAPS CSP "
        "OMA-URIs and settings catalog (endpoint security account protection) settings."
    ),
    remediation=(
        "Microsoft Intune admin center > Endpoint security > Account protection > the LAPS "
        "policy: keep it assigned, but don't rely on a managed local administrator password "
        "before the user flow has completed (check Devices > the device > Local admin password)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/windows/client-management/mdm/laps-csp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)

SPEC: Final = SettingSpec(
    oma_prefixes=("/vendor/msft/laps/",),
    oma_test=named_always,
    catalog_prefixes=("device_vendor_msft_laps_",),
    catalog_test=named_always,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "is a Windows LAPS policy, which Windows applies only once the user flow begins,",
    )
