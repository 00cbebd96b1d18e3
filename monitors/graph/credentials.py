"""Choosing the Azure credential that signs Graph requests.

Managed identity in Azure, `DefaultAzureCredential` by default, interactive or device-code login
for an admin at a terminal. `local` is a fixed development token that is only ever sent to a
loopback Graph (the simulator); it is not a secret and opens nothing.
"""

from __future__ import annotations

import enum
import time
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.credentials_async import AsyncTokenCredential

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class AuthMode(enum.StrEnum):
    DEFAULT = "default"
    MANAGED_IDENTITY = "managed-identity"
    INTERACTIVE = "interactive"
    DEVICE_CODE = "device-code"
    AZURE_CLI = "azure-cli"
    LOCAL = "local"


class LocalDevelopmentCredential:
    """A constant token for a Graph simulator on loopback; refused for any other host."""

    token = "greenscreen-local-development"  # noqa: S105 - not a secret: accepted only by the simulator

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def build_credential(
    mode: AuthMode, *, tenant_id: str | None, client_id: str | None = None
) -> TokenCredential | AsyncTokenCredential | LocalDevelopmentCredential:
    """The one place that constructs Azure credentials (imports stay lazy: they are slow)."""
    if mode is AuthMode.LOCAL:
        return LocalDevelopmentCredential()
    if mode is AuthMode.MANAGED_IDENTITY:
        from azure.identity.aio import ManagedIdentityCredential

        if client_id:
            return ManagedIdentityCredential(client_id=client_id)
        return ManagedIdentityCredential()
    if mode is AuthMode.INTERACTIVE:
        from azure.identity import InteractiveBrowserCredential

        return InteractiveBrowserCredential(tenant_id=tenant_id)
    if mode is AuthMode.DEVICE_CODE:
        from azure.identity import DeviceCodeCredential

        return DeviceCodeCredential(tenant_id=tenant_id)
    if mode is AuthMode.AZURE_CLI:
        from azure.identity.aio import AzureCliCredential

        return AzureCliCredential(tenant_id=tenant_id or "")
    from azure.identity.aio import DefaultAzureCredential

    if tenant_id:
        return DefaultAzureCredential(
            additionally_allowed_tenants=[tenant_id], interactive_browser_tenant_id=tenant_id
        )
    return DefaultAzureCredential()
