"""Who may see which tenant: the signed-in principal and the app roles it holds.

On Azure the dashboard sits behind App Service Authentication (Easy Auth) with Microsoft Entra
ID. Easy Auth signs the user in, then forwards the request with `X-MS-CLIENT-PRINCIPAL`: base64
JSON of the user's claims. App Service strips that header from incoming requests and sets it
itself, so it can be trusted exactly when Easy Auth is in front of the app; App Service tells
the app so with the `WEBSITE_AUTH_ENABLED` environment variable. Without it the header is
anybody's to forge and is never read: the dashboard then answers 403.

The access model is the Entra app roles of the dashboard's app registration (docs/dashboard.md):

- `Greenscreen.Reader.All`: every guarded tenant (the MSP's own staff);
- `Greenscreen.Reader.<tenant id>`: that one tenant (a customer's admins, or a team lead).

Locally (`greenscreen serve`) the server listens on loopback only and the one local user sees
every tenant in the store it was pointed at; no header is trusted there either.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

PRINCIPAL_HEADER: Final = "x-ms-client-principal"
AUTH_ENABLED_SETTING: Final = "WEBSITE_AUTH_ENABLED"
ALL_TENANTS_ROLE: Final = "Greenscreen.Reader.All"
TENANT_ROLE_PREFIX: Final = "Greenscreen.Reader."
# Claim types Easy Auth uses for app roles (it names the role claim type in `role_typ`).
ROLE_CLAIM_TYPES: Final = frozenset(
    {"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"}
)
NAME_CLAIM_TYPES: Final = ("name", "preferred_username", "upn")
MAX_PRINCIPAL_HEADER: Final = 64_000


class AccessDenied(Exception):
    """The request carries no principal the dashboard can trust (one line, HTTP 401/403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user: a display name and the tenants (or all) the roles grant."""

    name: str
    all_tenants: bool
    tenants: frozenset[str]

    def may_see(self, tenant_id: str) -> bool:
        return self.all_tenants or tenant_id.lower() in self.tenants

    def visible(self, tenant_ids: list[str]) -> list[str]:
        return [tenant for tenant in tenant_ids if self.may_see(tenant)]


LOCAL_PRINCIPAL: Final = Principal("local user", all_tenants=True, tenants=frozenset())


def behind_easy_auth(environ: Mapping[str, str] | None = None) -> bool:
    settings = os.environ if environ is None else environ
    return settings.get(AUTH_ENABLED_SETTING, "").strip().lower() == "true"


def principal_from_headers(
    headers: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> Principal:
    """The Easy Auth principal of a Function app request; raises AccessDenied otherwise."""
    if not behind_easy_auth(environ):
        raise AccessDenied(
            403, "the dashboard is only served behind App Service Authentication (docs/deploy.md)"
        )
    raw = next((v for k, v in headers.items() if k.lower() == PRINCIPAL_HEADER), "")
    if not raw:
        raise AccessDenied(401, "sign in first: no signed-in user reached the dashboard")
    return parse_principal(raw)


def parse_principal(raw: str) -> Principal:
    """Decode `X-MS-CLIENT-PRINCIPAL`; a malformed one is refused, never half-read."""
    if len(raw) > MAX_PRINCIPAL_HEADER:
        raise AccessDenied(401, "the signed-in principal is too large to read")
    try:
        document = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise AccessDenied(401, "the signed-in principal is not readable") from None
    claims = document.get("claims") if isinstance(document, dict) else None
    if not isinstance(claims, list):
        raise AccessDenied(401, "the signed-in principal carries no claims")
    role_type = document.get("role_typ")
    role_types = ROLE_CLAIM_TYPES | ({role_type} if isinstance(role_type, str) else set())
    roles: set[str] = set()
    names: dict[str, str] = {}
    for claim in claims:
        if not isinstance(claim, dict):
            continue
        kind, value = claim.get("typ"), claim.get("val")
        if not isinstance(kind, str) or not isinstance(value, str):
            continue
        if kind in role_types:
            roles.add(value)
        elif kind in NAME_CLAIM_TYPES:
            names.setdefault(kind, value)
    name = next((names[kind] for kind in NAME_CLAIM_TYPES if kind in names), "signed-in user")
    tenants = frozenset(
        role.removeprefix(TENANT_ROLE_PREFIX).lower()
        for role in roles
        if role.startswith(TENANT_ROLE_PREFIX) and role != ALL_TENANTS_ROLE
    )
    return Principal(name[:200], ALL_TENANTS_ROLE in roles, tenants)
