"""Where the tenant sets the DMClient FirstSyncStatus nodes that skip an ESP phase.

Two places carry them: custom OMA-URI profiles (`windows10CustomConfiguration.omaSettings`,
`./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/<node>`) and settings catalog
policies (definition id `device_vendor_msft_dmclient_provider_{providerid}_firstsyncstatus_<node>`
with choice values ending `_true` / `_false`, possibly nested under the provider group setting).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from rules.findings import Subject
from rules.graph_json import odata_type_of, optional_bool, optional_str
from rules.snapshot_model import TenantSnapshot
from rules.tenant_objects import DeviceConfiguration, SettingsCatalogPolicy

SKIP_USER_STATUS_PAGE: Final = "SkipUserStatusPage"
SKIP_DEVICE_STATUS_PAGE: Final = "SkipDeviceStatusPage"

CUSTOM_CONFIGURATION_TYPE: Final = "#microsoft.graph.windows10customconfiguration"


class NodeValue(Enum):
    TRUE = "true"
    # The node is a Boolean; a string "true" or an integer 1 is what the admin meant but not
    # the documented type (inference: the client may or may not convert it).
    TRUE_NOT_BOOLEAN = "true, not as a Boolean"
    FALSE = "false"
    UNREADABLE = "not readable"


# Values that set the node, counting the ones written with the wrong type.
TRUE_VALUES: Final = (NodeValue.TRUE, NodeValue.TRUE_NOT_BOOLEAN)


@dataclass(frozen=True, slots=True)
class NodeSetting:
    payload: DeviceConfiguration | SettingsCatalogPolicy
    subject: Subject
    value: NodeValue
    detail: str  # where and how it is set, for reasons


def find_node_settings(snapshot: TenantSnapshot, node: str) -> tuple[NodeSetting, ...]:
    """Every object that sets `node` (or may: content not readable), in snapshot order."""
    return (*_custom_configurations(snapshot, node), *_settings_catalog(snapshot, node))


_FIRST_SYNC_STATUS_URI: Final = re.compile(
    r"/dmclient/provider/ms(?: |%20)dm(?: |%20)server/firstsyncstatus/", re.IGNORECASE
)


def is_first_sync_status_uri(uri: str) -> bool:
    """An OMA-URI under DMClient's FirstSyncStatus (the nodes these rules read)."""
    return _FIRST_SYNC_STATUS_URI.search(uri.strip()) is not None


def _oma_uri_pattern(node: str) -> re.Pattern[str]:
    return re.compile(
        r"/dmclient/provider/ms(?: |%20)dm(?: |%20)server/firstsyncstatus/"
        + re.escape(node.casefold())
        + r"$"
    )


def _custom_configurations(snapshot: TenantSnapshot, node: str) -> Iterator[NodeSetting]:
    pattern = _oma_uri_pattern(node)
    for configuration in snapshot.device_configurations or ():
        if (configuration.odata_type or "").casefold() != CUSTOM_CONFIGURATION_TYPE:
            continue
        subject = Subject("deviceConfiguration", configuration.id, configuration.display_name)
        settings = configuration.raw.get("omaSettings")
        if not isinstance(settings, tuple):
            yield NodeSetting(
                configuration,
                subject,
                NodeValue.UNREADABLE,
                f"the OMA-URI settings of '{configuration.display_name}' are not in the snapshot",
            )
            continue
        for setting in settings:
            if not isinstance(setting, Mapping):
                continue
            uri = (optional_str(setting, "omaUri") or "").strip().casefold()
            if pattern.search(uri):
                value, detail = _oma_value(setting)
                yield NodeSetting(
                    configuration,
                    subject,
                    value,
                    f"'{configuration.display_name}' sets {optional_str(setting, 'omaUri')} "
                    f"to {detail}",
                )


def _oma_value(setting: Mapping[str, Any]) -> tuple[NodeValue, str]:
    kind = (odata_type_of(setting) or "").removeprefix("#microsoft.graph.")
    value = setting.get("value")
    if optional_bool(setting, "isEncrypted") is True:
        # Graph returns string values encrypted; the plain text needs
        # DeviceManagementConfiguration.ReadWrite.All (getOmaSettingPlainTextValue).
        return NodeValue.UNREADABLE, (
            f"an encrypted value ({kind}; reading it needs "
            "DeviceManagementConfiguration.ReadWrite.All)"
        )
    if kind.casefold() == "omasettingboolean":
        if value is True:
            return NodeValue.TRUE, "true (Boolean)"
        if value is False:
            return NodeValue.FALSE, "false (Boolean)"
        return NodeValue.UNREADABLE, f"an unreadable value ({kind})"
    if isinstance(value, str) and value.strip().casefold() == "true":
        return NodeValue.TRUE_NOT_BOOLEAN, f"'{value}' ({kind}, not Boolean)"
    if isinstance(value, int) and not isinstance(value, bool) and value == 1:
        return NodeValue.TRUE_NOT_BOOLEAN, f"1 ({kind}, not Boolean)"
    return NodeValue.FALSE, f"{value!r} ({kind})"


def _settings_catalog(snapshot: TenantSnapshot, node: str) -> Iterator[NodeSetting]:
    wanted = f"firstsyncstatus_{node.casefold()}"
    for policy in snapshot.settings_catalog_policies or ():
        subject = Subject("settingsCatalogPolicy", policy.id, policy.display_name)
        if policy.settings is None:
            yield NodeSetting(
                policy,
                subject,
                NodeValue.UNREADABLE,
                f"the settings of '{policy.display_name}' could not be read",
            )
            continue
        for instance in _setting_instances(policy.settings):
            definition = (optional_str(instance, "settingDefinitionId") or "").casefold()
            if definition.endswith(wanted):
                value, detail = _catalog_value(instance)
                yield NodeSetting(
                    policy,
                    subject,
                    value,
                    f"'{policy.display_name}' sets {definition} to {detail}",
                )


def _setting_instances(value: object) -> Iterator[Mapping[str, Any]]:
    """Every setting instance, however deep: group settings nest their children."""
    if isinstance(value, Mapping):
        if "settingDefinitionId" in value:
            yield value
        for item in value.values():
            yield from _setting_instances(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from _setting_instances(item)


def _catalog_value(instance: Mapping[str, Any]) -> tuple[NodeValue, str]:
    choice = instance.get("choiceSettingValue")
    if isinstance(choice, Mapping):
        chosen = (optional_str(choice, "value") or "").casefold()
        if chosen.endswith(("_true", "_1")):
            return NodeValue.TRUE, f"'{chosen}'"
        if chosen.endswith(("_false", "_0")):
            return NodeValue.FALSE, f"'{chosen}'"
        return NodeValue.UNREADABLE, f"an unrecognised choice '{chosen}'"
    simple = instance.get("simpleSettingValue")
    if isinstance(simple, Mapping):
        value = simple.get("value")
        if value is True or (isinstance(value, str) and value.strip().casefold() == "true"):
            return NodeValue.TRUE, repr(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return (NodeValue.TRUE if value == 1 else NodeValue.FALSE), repr(value)
        return NodeValue.FALSE, repr(value)
    return NodeValue.UNREADABLE, "a value of an unrecognised shape"
