"""CFG-011: no kiosk (Assigned Access) profile reaches pre-provisioning devices."""

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
    id="CFG-011",
    title="No kiosk (Assigned Access) profile reaches pre-provisioning devices",
    severity=Severity.WARNING,
    rationale=(
        "Kiosks are deployed with Windows Autopilot self-deploying mode, which needs no user "
        "(Windows Autopilot self-deploying mode); pre-provisioning is user-driven, and its user "
        "flow expects a person to sign in. Known issue: with autologon kiosks and Assigned Access, "
        "multiple or unexpected reboots during the out-of-box experience can delete the autologon "
        "entries, and the workaround is to apply or reapply the kiosk profile after Windows "
        "Autopilot completes (Windows Autopilot known issues). A kiosk profile in the technician "
        "phase is both. Read from the kiosk template (windowsKioskConfiguration), AssignedAccess "
        "OMA-URIs and settings catalog settings; an inference for the user-driven conflict."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the kiosk profile > "
        "Properties > Assignments: remove the pre-provisioning device group and deploy kiosks "
        "with a self-deploying profile, or apply the kiosk profile after Autopilot completes."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/self-deploying",
        "https://learn.microsoft.com/autopilot/known-issues",
        "https://learn.microsoft.com/windows/client-management/mdm/assignedaccess-csp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)

SPEC: Final = SettingSpec(
    odata_types=frozenset({"#microsoft.graph.windowskioskconfiguration"}),
    oma_prefixes=("/vendor/msft/assignedaccess/",),
    oma_test=named_always,
    catalog_prefixes=("device_vendor_msft_assignedaccess_",),
    catalog_test=named_always,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "is a kiosk (Assigned Access) profile, meant for self-deploying devices",
    )
