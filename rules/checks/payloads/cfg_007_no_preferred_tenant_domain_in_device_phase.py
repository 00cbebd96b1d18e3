"""CFG-007: PreferredAadTenantDomainName does not reach pre-provisioning devices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import evaluate_harmful_setting
from rules.checks.payloads.setting_specs import SettingSpec, non_empty_text
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)

METADATA = RuleMetadata(
    id="CFG-007",
    title="PreferredAadTenantDomainName does not reach pre-provisioning devices",
    severity=Severity.WARNING,
    rationale=(
        "When the PreferredAadTenantDomainName policy is enabled, it adds the preferred domain "
        "to DefaultUser0, which causes autologon to fail (Windows Autopilot troubleshooting FAQ, "
        "known policy conflicts). Read from the device restrictions template "
        "(authenticationPreferredAzureADTenantDomainName), the Authentication/"
        "PreferredAadTenantDomainName OMA-URI and its settings catalog setting."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the profile > "
        "Properties: clear 'Preferred Microsoft Entra tenant domain' (Password), or assign the "
        "profile to a user group instead of the Autopilot device group."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-authentication",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)

_NAME: Final = "preferredaadtenantdomainname"


def _oma(name: str, value: object) -> bool | None:
    return non_empty_text(value) if name == _NAME else None


SPEC: Final = SettingSpec(
    legacy={"authenticationPreferredAzureADTenantDomainName": non_empty_text},
    oma_prefixes=("/policy/config/authentication/",),
    oma_test=_oma,
    catalog_prefixes=("device_vendor_msft_policy_config_authentication_",),
    catalog_test=_oma,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "sets PreferredAadTenantDomainName, which makes the DefaultUser0 autologon fail",
    )
