"""CFG-003: no logon message or secure-desktop credential prompt reaches the technician phase."""

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
    id="CFG-003",
    title="No logon message or secure-desktop credential prompt reaches the technician phase",
    severity=Severity.ERROR,
    rationale=(
        "Windows Autopilot pre-provisioning doesn't work when the policies 'Interactive "
        "logon: Message title/text for users attempting to log on', 'Require Windows Hello for "
        "Business or smart card' or the UAC elevation prompt 'Prompt for credentials on the "
        "secure desktop' are enabled (Windows Autopilot troubleshooting FAQ, which names the "
        "group policies). Their MDM equivalents (LocalPoliciesSecurityOptions in the Policy "
        "CSP, the endpoint protection template's local security options) are an inference; "
        "the Windows Hello or smart card policy has no MDM equivalent Greenscreen can read."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the profile > "
        "Properties > Local device security options: clear the logon message title and text "
        "and set the administrator elevation prompt to anything but 'Prompt for credentials on "
        "the secure desktop' (or assign the profile to users)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/troubleshooting-faq",
        "https://learn.microsoft.com/windows/client-management/mdm/policy-csp-localpoliciessecurityoptions",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
    inference=True,
)

_MESSAGE_NAMES: Final = (
    "interactivelogon_messagetitleforusersattemptingtologon",
    "interactivelogon_messagetextforusersattemptingtologon",
)
_UAC_NAME: Final = "useraccountcontrol_behavioroftheelevationpromptforadministrators"
_CATALOG_PREFIX: Final = "device_vendor_msft_policy_config_localpoliciessecurityoptions_"
_OMA_PREFIX: Final = "/policy/config/localpoliciessecurityoptions/"
_LEGACY_MESSAGES: Final = (
    "localSecurityOptionsLogOnMessageTitle",
    "localSecurityOptionsLogOnMessageText",
)
_LEGACY_UAC: Final = "localSecurityOptionsAdministratorElevationPromptBehavior"
# Value 1 of the CSP setting and of the settings catalog choice.
_PROMPT_FOR_CREDENTIALS_ON_SECURE_DESKTOP: Final = "promptForCredentialsOnTheSecureDesktop"


def _scan_catalog(policy: SettingsCatalogPolicy, result: SettingScan) -> None:
    if policy.settings is None:
        result.unreadable.append(f"settings of '{policy.display_name}' could not be read")
        return
    for definition, value in policy_values(policy):
        name = definition.removeprefix(_CATALOG_PREFIX)
        if name == definition:
            continue
        if name in _MESSAGE_NAMES:
            target = result.harmful if str(value or "").strip() else result.harmless
            target.append(f"{definition} is {value!r}")
        elif name == _UAC_NAME:
            harmful = str(value).casefold().endswith("_1")
            (result.harmful if harmful else result.harmless).append(f"{definition} is {value}")


def _scan_legacy(configuration: Configuration, result: SettingScan) -> None:
    for key in _LEGACY_MESSAGES:
        text = optional_str(configuration.raw, key)
        if text is not None:
            (result.harmful if text.strip() else result.harmless).append(f"{key} is {text!r}")
    behavior = optional_str(configuration.raw, _LEGACY_UAC)
    if behavior is not None:
        harmful = behavior.casefold() == _PROMPT_FOR_CREDENTIALS_ON_SECURE_DESKTOP.casefold()
        (result.harmful if harmful else result.harmless).append(f"{_LEGACY_UAC} is '{behavior}'")


def scan(configuration: Configuration) -> SettingScan:
    result = SettingScan()
    if isinstance(configuration, SettingsCatalogPolicy):
        _scan_catalog(configuration, result)
        return result
    _scan_legacy(configuration, result)
    for setting in oma_settings(configuration):
        uri = oma_uri(setting)
        name = uri.rpartition(_OMA_PREFIX)[2] if _OMA_PREFIX in uri else ""
        if name not in (*_MESSAGE_NAMES, _UAC_NAME):
            continue
        label = f"OMA-URI {setting.get('omaUri')}"
        if oma_is_encrypted(setting):
            result.unreadable.append(f"{label} is encrypted")
            continue
        value = setting.get("value")
        harmful = value in (1, "1") if name == _UAC_NAME else bool(str(value or "").strip())
        (result.harmful if harmful else result.harmless).append(f"{label} is {value!r}")
    return result


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        scan,
        "sets a logon message or a secure-desktop credential prompt that stops the technician "
        "phase",
    )
