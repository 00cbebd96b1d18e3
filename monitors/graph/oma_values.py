"""Plain values of the encrypted OMA-URI settings the rules read.

Intune stores string, string-XML and base64 OMA-URI values encrypted: a read of a custom profile
answers `isEncrypted: true`, a ciphertext in `value` and a `secretReferenceValueId`. The plain
text comes from `deviceConfigurations/{id}/getOmaSettingPlainTextValue(secretReferenceValueId=
'...')`, which Graph grants only with DeviceManagementConfiguration.ReadWrite.All (it can return
secrets). So this step:

- asks only for settings a rule reads (the ESP's DMClient FirstSyncStatus nodes), never for the
  rest (Wi-Fi keys, certificates and other secrets stay encrypted and unread);
- stops at the first 401/403 (the permission is tenant-wide: a read-only deployment costs one
  refused request per read) and leaves those settings encrypted, which the rules report as
  unreadable: UNKNOWN, never PASS;
- writes a value it did read back as Graph shapes an unencrypted setting (`isEncrypted: false`,
  the plain `value`, no `secretReferenceValueId`), so the snapshot stays in Graph's shape.

Values are never logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Final

from monitors.graph.client import GraphClient, GraphError
from rules import tenant_collections as tc
from rules.checks.profiles_and_esp.first_sync_status import is_first_sync_status_uri

log = logging.getLogger(__name__)

_GUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_CONFIGURATION_ID: Final = re.compile(f"^{_GUID}$")
# `<guid>_<configuration id>_<guid>` (docs/graph-simulator.md, "Shapes and models").
_SECRET_REFERENCE: Final = re.compile(f"^{_GUID}_{_GUID}_{_GUID}$")
_REFUSED: Final = (401, 403)


def _wanted(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    settings = configuration.get("omaSettings")
    if not isinstance(settings, list):
        return []
    return [
        setting
        for setting in settings
        if isinstance(setting, dict)
        and setting.get("isEncrypted") is True
        and isinstance(setting.get("omaUri"), str)
        and is_first_sync_status_uri(setting["omaUri"])
        and isinstance(setting.get("secretReferenceValueId"), str)
        and _SECRET_REFERENCE.match(setting["secretReferenceValueId"])
    ]


async def read_plain_oma_values(
    client: GraphClient, configurations: Iterable[dict[str, Any]]
) -> int:
    """Decrypt, in place, the encrypted settings the rules read; the number read."""
    read = 0
    for configuration in configurations:
        configuration_id = configuration.get("id")
        if not isinstance(configuration_id, str) or not _CONFIGURATION_ID.match(configuration_id):
            continue
        for setting in _wanted(configuration):
            url = (
                f"{tc.DEVICE_CONFIGURATIONS}/{configuration_id}/getOmaSettingPlainTextValue"
                f"(secretReferenceValueId='{setting['secretReferenceValueId']}')"
            )
            try:
                answer = await client.get_json("beta", url)
            except GraphError as error:
                log.warning(
                    "could not read the plain value of an encrypted OMA-URI setting: %s %s; "
                    "it stays unreadable",
                    error.status,
                    error.message,
                    extra={"graph_path": tc.DEVICE_CONFIGURATIONS, "status": error.status},
                )
                if error.status in _REFUSED:
                    return read
                continue
            value = answer.get("value")
            if not isinstance(value, str):
                continue
            setting["value"] = value
            setting["isEncrypted"] = False
            setting["secretReferenceValueId"] = None
            read += 1
    return read
