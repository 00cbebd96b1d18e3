"""One Windows setting described once for every shape that carries it.

A `SettingSpec` names a setting's legacy template properties, its OMA-URI(s) and its settings
catalog definition ids, each with a test that says whether a configured value is harmful. The
CFG rules that look for one setting family (AppLocker, DeviceLock, LAPS, ...) are a spec plus
`evaluate_harmful_setting` (configuration_settings.py), so every such rule reads the three shapes
the same way and an encrypted OMA value or unread catalog settings are UNKNOWN, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.checks.payloads.configuration_settings import (
    Configuration,
    SettingScan,
    oma_is_encrypted,
    oma_settings,
    oma_uri,
    policy_values,
)
from rules.graph_json import odata_type_of
from rules.tenant_objects import SettingsCatalogPolicy

# value -> True (harmful), False (harmless), None (not configured: say nothing)
ValueTest = Callable[[Any], bool | None]
# (name after the prefix, value) -> as ValueTest
NamedValueTest = Callable[[str, Any], bool | None]


def always(value: Any) -> bool | None:
    """Any configured value is harmful."""
    return None if value is None else True


def named_always(name: str, value: Any) -> bool | None:
    return None if value is None else True


def is_true(value: Any) -> bool | None:
    return None if value is None else value is True


def non_empty_text(value: Any) -> bool | None:
    if value is None:
        return None
    return bool(str(value).strip())


def choice_index(value: Any) -> str:
    """The trailing index of a settings catalog choice (`..._1` -> "1")."""
    return str(value).rpartition("_")[2]


@dataclass(frozen=True, slots=True)
class SettingSpec:
    # Legacy template property -> test of its value.
    legacy: Mapping[str, ValueTest] = field(default_factory=dict)
    # Whole configuration types (casefolded `@odata.type`) that carry the setting by themselves.
    odata_types: frozenset[str] = frozenset()
    # Casefolded fragment of the OMA-URI after which the setting name follows.
    oma_prefixes: tuple[str, ...] = ()
    oma_test: NamedValueTest = named_always
    # Casefolded settings catalog definition id prefixes.
    catalog_prefixes: tuple[str, ...] = ()
    catalog_test: NamedValueTest = named_always

    def scan(self, configuration: Configuration) -> SettingScan:
        result = SettingScan()
        if isinstance(configuration, SettingsCatalogPolicy):
            if not self.catalog_prefixes:
                return result
            if configuration.settings is None:
                result.unreadable.append(
                    f"settings of '{configuration.display_name}' could not be read"
                )
                return result
            for definition, value in policy_values(configuration):
                prefix = next((p for p in self.catalog_prefixes if definition.startswith(p)), None)
                if prefix is None:
                    continue
                _record(
                    result, self.catalog_test(definition[len(prefix) :], value), definition, value
                )
            return result
        odata_type = (odata_type_of(configuration.raw) or "").casefold()
        if odata_type in self.odata_types:
            result.harmful.append(f"the profile is a {odata_type_of(configuration.raw)}")
        for key, test in self.legacy.items():
            value = configuration.raw.get(key)
            _record(result, test(value), key, value)
        for setting in oma_settings(configuration):
            uri = oma_uri(setting)
            prefix = next((p for p in self.oma_prefixes if p in uri), None)
            if prefix is None:
                continue
            label = f"OMA-URI {setting.get('omaUri')}"
            if oma_is_encrypted(setting):
                result.unreadable.append(f"{label} is encrypted")
                continue
            name = uri.partition(prefix)[2]
            _record(result, self.oma_test(name, setting.get("value")), label, setting.get("value"))
        return result


def _record(result: SettingScan, verdict: bool | None, label: str, value: Any) -> None:
    if verdict is None:
        return
    text = f"{label} is {value!r}"
    (result.harmful if verdict else result.harmless).append(text)
