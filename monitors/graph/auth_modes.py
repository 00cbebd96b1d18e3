"""How the command line and the function app may sign in to Graph, without the Azure SDK.

`monitors.graph.credentials` builds the credential for a mode; the modes and the loopback hosts
live here so that a command that never signs in (`greenscreen check --snapshot`) does not import
the Azure SDK just to declare its options.
"""

from __future__ import annotations

import enum
from typing import Final

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class AuthMode(enum.StrEnum):
    DEFAULT = "default"
    MANAGED_IDENTITY = "managed-identity"
    INTERACTIVE = "interactive"
    DEVICE_CODE = "device-code"
    AZURE_CLI = "azure-cli"
    LOCAL = "local"
