"""CFG-008: no proxy configuration from Intune reaches the technician phase."""

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
    id="CFG-008",
    title="No proxy configuration from Intune reaches the technician phase",
    severity=Severity.WARNING,
    rationale=(
        "Implementing proxy settings via Intune policy isn't fully supported for Windows "
        "Autopilot (Windows Autopilot networking requirements): the device must reach the "
        "Autopilot, Intune and Microsoft Entra endpoints before and while policies apply, so a "
        "proxy pushed in the technician phase can cut the device off mid-provisioning. Read from "
        "the device restrictions template (networkProxy*), NetworkProxy CSP OMA-URIs and their "
        "settings catalog settings."
    ),
    remediation=(
        "Microsoft Intune admin center > Devices > Windows > Configuration > the profile > "
        "Properties: set the Network proxy settings to Not configured for the Autopilot device "
        "group, and give the technician bench a network that reaches the Autopilot endpoints "
        "directly (or through a transparent proxy)."
    ),
    references=(
        "https://learn.microsoft.com/autopilot/requirements",
        "https://learn.microsoft.com/windows/client-management/mdm/networkproxy-csp",
    ),
    graph_reads=(AUTOPILOT_PROFILES, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES, GROUPS),
    permissions=(
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementConfiguration.Read.All",
        "GroupMember.Read.All",
    ),
)


def _proxy_setting(name: str, value: object) -> bool | None:
    """A proxy server or a setup script (PAC) URL; automatic detection alone sets no proxy."""
    if value is None:
        return None
    if "proxyserver" in name or "setupscripturl" in name:
        return bool(str(value).strip())
    return None


def _configured_object(value: object) -> bool | None:
    return None if value is None else True


SPEC: Final = SettingSpec(
    legacy={
        "networkProxyServer": _configured_object,
        "networkProxyAutomaticConfigurationUrl": non_empty_text,
    },
    oma_prefixes=("/vendor/msft/networkproxy/",),
    oma_test=_proxy_setting,
    catalog_prefixes=("device_vendor_msft_networkproxy_",),
    catalog_test=_proxy_setting,
)


def evaluate(context: RuleContext) -> Iterator[Finding]:
    yield from evaluate_harmful_setting(
        context,
        METADATA,
        SPEC.scan,
        "configures a proxy through Intune, which Autopilot doesn't fully support",
    )
