"""Choosing the Azure credential that signs Graph requests.

Managed identity in Azure, `DefaultAzureCredential` by default, interactive or device-code login
for an admin at a terminal. `local` is a fixed development token that is only ever sent to a
loopback Graph (the simulator); it is not a secret and opens nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.credentials_async import AsyncTokenCredential

# Re-exported: the modes and the loopback hosts are declared without the Azure SDK.
from monitors.graph.auth_modes import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from monitors.graph.auth_modes import AuthMode as AuthMode

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# The audience Entra expects of a managed identity's token used as a federated client assertion.
TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"  # noqa: S105 - an audience


class LocalDevelopmentCredential:
    """A constant token for a Graph simulator on loopback; refused for any other host."""

    token = "greenscreen-local-development"  # noqa: S105 - not a secret: accepted only by the simulator

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class FederatedAppCredential:
    """Signs in to a customer tenant as the MSP's multi-tenant app, without any secret.

    The app registration's only credential is a federated identity credential trusting this
    deployment's managed identity. For each token, the managed identity's token for
    `api://AzureADTokenExchange` is the client assertion of a client-credentials request in the
    customer tenant (Entra "workload identity federation"). Both credentials cache their tokens.
    """

    def __init__(
        self,
        tenant_id: str,
        app_id: str,
        source: AsyncTokenCredential,
        *,
        authority: str | None = None,
        **kwargs: Any,
    ) -> None:
        from azure.identity.aio import ClientAssertionCredential

        self._source = source
        self._assertion = ""
        # Parallel Graph requests ask for a token at once: one sign-in serves them all.
        self._lock = asyncio.Lock()
        if authority is not None:
            kwargs["authority"] = authority
        self._app = ClientAssertionCredential(tenant_id, app_id, self._current_assertion, **kwargs)

    def _current_assertion(self) -> str:
        return self._assertion

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        # The assertion is fetched before each request the app credential may make; the managed
        # identity serves it from its cache until it nears expiry.
        async with self._lock:
            self._assertion = (await self._source.get_token(TOKEN_EXCHANGE_SCOPE)).token
            return await self._app.get_token(*scopes, **kwargs)

    async def close(self) -> None:
        await self._app.close()
        await self._source.close()

    async def __aenter__(self) -> FederatedAppCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


# A cached token is used until this close to its expiry (azure-identity refreshes at 5 minutes).
REFRESH_MARGIN_S = 300


class ProcessTokenCache:
    """Tokens kept for the life of the worker process, shared by its invocations.

    Each Function invocation runs its own event loop, so credentials (whose HTTP sessions belong
    to a loop) are built per invocation; without this cache every invocation would sign in again.
    Tokens stay in memory only, like any credential's own cache.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._tokens: dict[tuple[str, ...], AccessToken] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: tuple[str, ...]) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(key)
        if token is None or token.expires_on - REFRESH_MARGIN_S <= self._clock():
            return None
        return token

    def put(self, key: tuple[str, ...], token: AccessToken) -> None:
        with self._lock:
            self._tokens[key] = token


PROCESS_TOKENS = ProcessTokenCache()


class CachedCredential:
    """Wraps a per-invocation credential with the process-wide token cache.

    `identity` names who signs in (mode, tenant, client id, app id, authority): two wrappers with
    the same identity share tokens. A claims challenge (Continuous Access Evaluation) always goes
    to the credential, and its answer is not cached.
    """

    def __init__(
        self, inner: Any, identity: tuple[str, ...], cache: ProcessTokenCache = PROCESS_TOKENS
    ) -> None:
        self._inner = inner
        self._identity = identity
        self._cache = cache

    async def get_token(
        self, *scopes: str, claims: str | None = None, **kwargs: Any
    ) -> AccessToken:
        if claims:
            challenged: AccessToken = await _resolved(
                self._inner.get_token(*scopes, claims=claims, **kwargs)
            )
            return challenged
        key = (*self._identity, *scopes)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        token: AccessToken = await _resolved(self._inner.get_token(*scopes, **kwargs))
        self._cache.put(key, token)
        return token

    async def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            await _resolved(close())


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def build_credential(
    mode: AuthMode,
    *,
    tenant_id: str | None,
    client_id: str | None = None,
    app_id: str | None = None,
    authority: str | None = None,
) -> TokenCredential | AsyncTokenCredential | LocalDevelopmentCredential | FederatedAppCredential:
    """The one place that constructs Azure credentials (imports stay lazy: they are slow).

    With `app_id`, the tenant is reached through the MSP's multi-tenant app, signed in with a
    federated assertion from the managed identity (`client_id` picks a user-assigned one).
    """
    if app_id is not None:
        if mode not in (AuthMode.MANAGED_IDENTITY, AuthMode.DEFAULT) or not tenant_id:
            raise ValueError("a multi-tenant app signs in with a managed identity and a tenant id")
        from azure.identity.aio import ManagedIdentityCredential as SourceIdentity

        source = SourceIdentity(client_id=client_id) if client_id else SourceIdentity()
        return FederatedAppCredential(tenant_id, app_id, source, authority=authority)
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
