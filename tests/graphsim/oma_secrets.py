"""`deviceConfigurations/{id}/getOmaSettingPlainTextValue(secretReferenceValueId='...')`.

Intune answers string, string-XML and base64 OMA-URI values encrypted (`isEncrypted: true`, a
ciphertext in `value`, a `secretReferenceValueId`); this function returns the plain text as
`{"@odata.context": ".../$metadata#Edm.String", "value": "..."}`. Graph requires
DeviceManagementConfiguration.ReadWrite.All for it; the simulator does not model permissions, so
a test adds a `forbidden` fault on the path to play a read-only application.

The sample tenants' ciphertext is the simulator's stand-in (`samples.graph_shapes.oma_ciphertext`:
base64 of the UTF-16LE text); it is turned back here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote

from rules.tenant_collections import DEVICE_CONFIGURATIONS
from tests.graphsim.exchange import GraphError

_CALL: Final = re.compile(
    r"^(?:microsoft\.graph\.)?getOmaSettingPlainTextValue\(secretReferenceValueId='(?P<ref>[^']*)'\)$"
)


def plain_text_reference(collection: str, rest: Sequence[str]) -> str | None:
    """The secretReferenceValueId the path under an object asks for, or None if it is not the
    function (`rest` is what follows `{collection}/{id}/`)."""
    if collection != DEVICE_CONFIGURATIONS or len(rest) != 1:
        return None
    match = _CALL.match(unquote(rest[0]))
    return match["ref"] if match else None


def plain_text_value(configuration: Mapping[str, Any], reference: str) -> str:
    for setting in configuration.get("omaSettings") or ():
        if not isinstance(setting, Mapping):
            continue
        if (
            setting.get("isEncrypted") is True
            and setting.get("secretReferenceValueId") == reference
        ):
            try:
                return base64.b64decode(str(setting.get("value")), validate=True).decode(
                    "utf-16-le"
                )
            except (binascii.Error, UnicodeDecodeError) as error:
                raise GraphError(
                    500, "InternalServerError", "The value could not be decrypted."
                ) from error
    raise GraphError(
        404, "ResourceNotFound", f"No OMA setting has secretReferenceValueId '{reference}'."
    )
