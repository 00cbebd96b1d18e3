"""CFG-002: no configuration for Autopilot devices disables the MS Account Sign-In Assistant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from rules.checks.payloads.configuration_settings import (
    Configuration,
    SettingScan,
    evaluate_harmful_setting,
    oma_is_encrypted,
    oma_settings,
    oma_uri,
    policy_values,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata, Severity
from rules.graph_json import optional_str
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    GROUPS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import SettingsCatalogPolicy

METADATA = RuleMetadata(
    id="CFG-002",
    title="No configuration for Autopilot devices disables the Microsoft Account Sign-In Assistant",
    severity=Severity.BLOCKER,
    rationale=(
        "Setting the Microsoft Account Sign-In Assistant policy to disabled turns off the "
        "wlidsvc service, which Windows Autopilot requires to get the Autopilot profile "
        "(Windows Autopilot troubleshooting FAQ); with wlidsvc disabled during the technician "
        "flow the Microsoft Entra sign-in option may be missing in the user flow (Windows "
        "Autopilot pre-provisioning). Read from the device restrictions template, the Accounts/"
        "AllowMicrosoftAccountSignInAssistant OMA-URI and its settings catalog setting."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the profile > "
        "Properties: set Microsoft Account Sign-In Assistant (Accounts) to Not configured."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/autopilot/pre-provision",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-accounts",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)

_PROPERTY: Final = "microsoftAccountSignInAssistantSettings"
_OMA_SUFFIX: Final = "/policy/config/accounts/allowmicrosoftaccountsigninassistant"
CATALOG_SETTING_ID: Final = (
    "device_vendor_msft_policy_config_accounts_allowmicrosoftaccountsigninassistant"
)


def scan(configuration: Configuration) -> SettingScan:
    result = SettingScan()
    if isinstance(configuration, SettingsCatalogPolicy):
        if configuration.settings is None:
            name = configuration.display_name
            result.unreadable.append(f"settings of '{name}' could not be read")
            return result
        for definition, value in policy_values(configuration):
            if definition != CATALOG_SETTING_ID:
                continue
            if str(value).casefold().endswith("_0"):
                result.harmful.append(f"{CATALOG_SETTING_ID} is {value} (disabled)")
            else:
                result.harmless.append(f"{CATALOG_SETTING_ID} is {value}")
        return result
    value = optional_str(configuration.raw, _PROPERTY)
    if value is not None:
        target = result.harmful if value.casefold() == "disabled" else result.harmless
        target.append(f"{_PROPERTY} is '{value}'")
    for setting in oma_settings(configuration):
        if not oma_uri(setting).endswith(_OMA_SUFFIX):
            continue
        if oma_is_encrypted(setting):
            result.unreadable.append(f"OMA-URI {setting.get('omaUri')} is encrypted")
        elif setting.get("value") in (0, "0"):
            result.harmful.append(f"OMA-URI {setting.get('omaUri')} is 0 (disabled)")
        else:
            result.harmless.append(f"OMA-URI {setting.get('omaUri')} is {setting.get('value')}")
    return result


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context, METADATA, scan, "disables the Microsoft Account Sign-In Assistant (wlidsvc)"
    )
