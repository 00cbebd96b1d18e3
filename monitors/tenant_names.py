"""Which stored tenant a name means: `greenscreen history --tenant` accepts an id or a domain.

Verdicts are stored under the tenant name the monitor was configured with (an entry of the
`TENANTS` setting, or the snapshot's `tenantId`): a tenant id GUID or a verified domain. A name
that has stored runs is used as given. Otherwise the other spelling is looked for:

- a domain is resolved to its tenant id through the Microsoft identity platform's public OpenID
  Connect metadata (`{authority}/{domain}/v2.0/.well-known/openid-configuration`, whose `issuer`
  is `{authority}/{tenant id}/v2.0`; no sign-in needed);
- a tenant id is matched against the domains of the `TENANTS` setting, each resolved the same way.

The authority is `AZURE_AUTHORITY_HOST` (as for azure-identity), by default
`https://login.microsoftonline.com`; plain http only on loopback (tests).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

import httpx

AUTHORITY_SETTING: Final = "AZURE_AUTHORITY_HOST"
DEFAULT_AUTHORITY: Final = "https://login.microsoftonline.com"
GUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


class TenantNameError(ValueError):
    """The name cannot be resolved (unknown domain); one line for the operator."""


class TenantLookupUnavailable(Exception):
    """The identity platform could not be asked (network, outage)."""


@dataclass(frozen=True, slots=True)
class ResolvedTenant:
    name: str  # the name the store keys the tenant by
    note: str | None  # how it was resolved, for stderr; None when used as given


def authority(environ: Mapping[str, str] | None = None) -> str:
    settings = os.environ if environ is None else environ
    value = (settings.get(AUTHORITY_SETTING) or DEFAULT_AUTHORITY).strip().rstrip("/")
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme != "https" and not (
        parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK
    ):
        raise TenantNameError(f"{AUTHORITY_SETTING} must be an https URL")
    return value


def discover_tenant_id(domain: str, environ: Mapping[str, str] | None = None) -> str:
    """The tenant id of a verified domain, from the public OpenID Connect metadata."""
    base = authority(environ)
    url = f"{base}/{quote(domain, safe='.-')}/v2.0/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=10.0, follow_redirects=False)
    except httpx.HTTPError as error:
        raise TenantLookupUnavailable(type(error).__name__) from None
    if response.status_code in (400, 404):
        # AADSTS90002: "Tenant '<domain>' not found."
        raise TenantNameError(f"no Microsoft Entra tenant has the domain {domain!r}")
    if response.status_code != 200:
        raise TenantLookupUnavailable(f"HTTP {response.status_code}")
    try:
        issuer = str(response.json().get("issuer", ""))
    except (ValueError, AttributeError):
        raise TenantLookupUnavailable("metadata is not a JSON object") from None
    found = GUID.search(issuer.lower())
    if found is None:
        raise TenantLookupUnavailable("metadata names no tenant id")
    return found.group(0)


def resolve_tenant(
    name: str,
    has_runs: Callable[[str], bool],
    configured: tuple[str, ...] = (),
    discover: Callable[[str], str] = discover_tenant_id,
) -> ResolvedTenant:
    """The stored name for `name` (lower case); see the module docstring for the order."""
    name = name.lower()
    if has_runs(name):
        return ResolvedTenant(name, None)
    if GUID.fullmatch(name):
        for domain in (entry for entry in configured if not GUID.fullmatch(entry)):
            try:
                matches = discover(domain) == name
            except (TenantNameError, TenantLookupUnavailable):
                continue
            if matches and has_runs(domain):
                return ResolvedTenant(domain, f"tenant {name} is stored as {domain} (TENANTS)")
        return ResolvedTenant(name, None)
    tenant_id = discover(name)
    return ResolvedTenant(tenant_id, f"domain {name} is tenant {tenant_id}")
