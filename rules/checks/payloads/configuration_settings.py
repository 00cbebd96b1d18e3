"""Reading settings out of device configurations and settings catalog policies.

Three shapes carry the same Windows setting: a property of a legacy template
(`windows10GeneralConfiguration.microsoftAccountSignInAssistantSettings`), an OMA-URI of a
custom profile (`./Device/Vendor/MSFT/Policy/Config/...`) and a settings catalog setting
(`device_vendor_msft_policy_config_...`). Rules describe a setting once per shape and scan all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.applicability import Applicability
from rules.checks.payloads.device_phase import (
    harmful_payload_finding,
    payload_subject,
    profile_views,
    unreadable_or_nothing_to_check,
)
from rules.context import RuleContext
from rules.findings import Finding, RuleMetadata
from rules.graph_json import odata_type_of, optional_mapping, optional_str
from rules.tenant_collections import (
    DEVICE_CONFIGURATIONS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import DeviceConfiguration, SettingsCatalogPolicy

Configuration = DeviceConfiguration | SettingsCatalogPolicy


@dataclass(slots=True)
class SettingScan:
    """What one configuration sets, as one rule sees it."""

    harmful: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # Harmless values of the settings the rule looks for (so a pass says what was checked).
    harmless: list[str] = field(default_factory=list)

    @property
    def touches_setting(self) -> bool:
        return bool(self.harmful or self.unreadable or self.harmless)


def oma_settings(configuration: DeviceConfiguration) -> tuple[Mapping[str, Any], ...]:
    value = configuration.raw.get("omaSettings")
    if not isinstance(value, tuple):
        return ()
    return tuple(item for item in value if isinstance(item, Mapping))


def oma_uri(setting: Mapping[str, Any]) -> str:
    return (optional_str(setting, "omaUri") or "").casefold()


def oma_is_encrypted(setting: Mapping[str, Any]) -> bool:
    return setting.get("isEncrypted") is True


def catalog_values(instance: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(setting definition id, value) of a setting instance and every child instance."""
    definition = (optional_str(instance, "settingDefinitionId") or "").casefold()
    choice = optional_mapping(instance, "choiceSettingValue")
    if choice is not None:
        yield definition, choice.get("value")
        for child in choice.get("children") or ():
            if isinstance(child, Mapping):
                yield from catalog_values(child)
    simple = optional_mapping(instance, "simpleSettingValue")
    if simple is not None:
        yield definition, simple.get("value")
    for key in ("groupSettingCollectionValue", "simpleSettingCollectionValue"):
        for item in instance.get(key) or ():
            if not isinstance(item, Mapping):
                continue
            if "value" in item and not item.get("children"):
                yield definition, item.get("value")
            for child in item.get("children") or ():
                if isinstance(child, Mapping):
                    yield from catalog_values(child)
    group = optional_mapping(instance, "groupSettingValue")
    if group is not None:
        for child in group.get("children") or ():
            if isinstance(child, Mapping):
                yield from catalog_values(child)


def policy_values(policy: SettingsCatalogPolicy) -> Iterator[tuple[str, Any]]:
    for setting in policy.settings or ():
        instance = optional_mapping(setting, "settingInstance")
        if instance is not None:
            yield from catalog_values(instance)


def is_windows(configuration: Configuration) -> bool:
    if isinstance(configuration, SettingsCatalogPolicy):
        return "windows10" in (configuration.platforms or "").casefold()
    odata_type = (odata_type_of(configuration.raw) or "").casefold()
    return odata_type.startswith(("#microsoft.graph.windows", "#microsoft.graph.sharedpc")) or (
        odata_type == "#microsoft.graph.editionupgradeconfiguration"
    )


Scanner = Callable[[Configuration], SettingScan]


def configurations(context: RuleContext) -> list[Configuration]:
    found: list[Configuration] = [*(context.snapshot.device_configurations or ())]
    found.extend(context.snapshot.settings_catalog_policies or ())
    return [c for c in found if is_windows(c)]


def evaluate_harmful_setting(
    context: RuleContext, metadata: RuleMetadata, scan: Scanner, problem: str
) -> Iterator[Finding]:
    """Per profile: FAIL for each configuration reaching the technician phase with a harmful
    value, UNKNOWN where the value or the reach could not be read, PASS where the setting is
    configured harmlessly."""
    stop = unreadable_or_nothing_to_check(
        context, metadata, DEVICE_CONFIGURATIONS, SETTINGS_CATALOG_POLICIES
    )
    if stop is not None:
        yield from stop
        return
    scans = [(c, scan(c)) for c in configurations(context)]
    for view in profile_views(context, metadata):
        for configuration, result in scans:
            if not result.touches_setting:
                continue
            applicability = view.applicability(configuration)
            if applicability.verdict is Applicability.DOES_NOT_APPLY:
                continue
            subject = payload_subject(configuration)
            name = configuration.display_name
            if result.harmful:
                finding = harmful_payload_finding(
                    view,
                    subject,
                    applicability,
                    f"'{name}' {problem}",
                    tuple(result.harmful),
                )
                if finding is not None:
                    yield finding
            elif result.unreadable:
                yield view.finding.unknown(
                    subject,
                    f"whether '{name}' {problem} could not be read",
                    (*result.unreadable, *applicability.reasons),
                    devices=view.devices,
                )
            else:
                yield view.finding.passed(
                    subject,
                    f"'{name}' configures the setting harmlessly",
                    (*result.harmless, *applicability.reasons),
                    devices=view.devices,
                )
