"""The guardrail's app settings, read in one place and validated into one frozen object.

Storage settings for the verdict store stay in `monitors.store.settings`; this module reads the
rest: which tenants to guard, how to reach Graph, the webhook's clientState and public URL, the
queue connection (shared with the Functions host's queue triggers) and the polling knobs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from monitors.attestation import (
    ATTESTATION_KEY,
    AttestationError,
    MdmAttestation,
    parse_attestation,
)
from monitors.graph.client import PUBLIC_GRAPH_URL, graph_host
from monitors.graph.credentials import LOOPBACK_HOSTS, AuthMode
from monitors.store.keys import TENANT_PATTERN
from monitors.url_safety import UnsafeUrlError, client_host, forbidden_address, is_loopback

GUID: Final = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
AUTHORITY_HOST: Final = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")

TENANTS_SETTING: Final = "TENANTS"
GRAPH_URL_SETTING: Final = "GREENSCREEN_GRAPH_URL"
GRAPH_AUTH_SETTING: Final = "GREENSCREEN_GRAPH_AUTH"
GRAPH_CLIENT_ID_SETTING: Final = "GREENSCREEN_GRAPH_CLIENT_ID"
# Entra sign-in host for the MSP app's federated sign-in (sovereign clouds, or a test authority).
AUTHORITY_SETTING: Final = "GREENSCREEN_AUTHORITY_HOST"
CLIENT_STATE_SETTING: Final = "GREENSCREEN_CLIENT_STATE"
NOTIFICATION_URL_SETTING: Final = "GREENSCREEN_NOTIFICATION_URL"
# The same name the queue triggers use as `connection=`: a connection string, or, for a managed
# identity, `GREENSCREEN_QUEUES__queueServiceUri` (the Functions host's identity convention).
QUEUES_SETTING: Final = "GREENSCREEN_QUEUES"
QUEUES_URL_SETTING: Final = "GREENSCREEN_QUEUES__queueServiceUri"
AUDIT_OVERLAP_SETTING: Final = "GREENSCREEN_AUDIT_OVERLAP_MINUTES"
RENEW_BEFORE_SETTING: Final = "GREENSCREEN_SUBSCRIPTION_RENEW_HOURS"
TENANT_CONCURRENCY_SETTING: Final = "GREENSCREEN_TENANT_CONCURRENCY"
TENANT_WAIT_SETTING: Final = "GREENSCREEN_TENANT_WAIT_SECONDS"

DEFAULT_AUDIT_OVERLAP_MINUTES: Final = 30
DEFAULT_RENEW_BEFORE_HOURS: Final = 72
# Two `process_change` runs per tenant at once (each reads Graph 4 requests at a time): far
# under Intune's per-tenant throttling, and one tenant's burst cannot take every instance.
DEFAULT_TENANT_CONCURRENCY: Final = 2
DEFAULT_TENANT_WAIT_SECONDS: Final = 60
MAX_CLIENT_STATE: Final = 128  # Graph's limit on a subscription's clientState


class SettingsError(ValueError):
    """A missing or malformed setting (the message names the setting, never its value)."""


@dataclass(frozen=True, slots=True)
class TenantConfig:
    tenant_id: str
    graph_url: str | None = None
    client_id: str | None = None
    # The MSP's multi-tenant app registration, signed in with a federated credential.
    app_id: str | None = None
    # What an operator attests where the identity cannot read (monitors/attestation.py).
    mdm_attestation: MdmAttestation | None = None


@dataclass(frozen=True, slots=True)
class GuardrailSettings:
    tenants: tuple[TenantConfig, ...]
    graph_url: str
    auth_mode: AuthMode
    client_id: str | None
    client_state: str | None
    notification_url: str | None
    queue_connection: str | None
    queue_url: str | None
    audit_overlap_minutes: int
    renew_before_hours: int
    authority: str | None = None
    tenant_concurrency: int = DEFAULT_TENANT_CONCURRENCY
    tenant_wait_seconds: int = DEFAULT_TENANT_WAIT_SECONDS

    def tenant(self, tenant_id: str) -> TenantConfig | None:
        wanted = tenant_id.lower()
        return next((t for t in self.tenants if t.tenant_id == wanted), None)

    def tenant_ids(self) -> frozenset[str]:
        return frozenset(t.tenant_id for t in self.tenants)

    def graph_url_for(self, tenant: TenantConfig) -> str:
        return tenant.graph_url or self.graph_url


def read_settings(environ: Mapping[str, str] | None = None) -> GuardrailSettings:
    env = os.environ if environ is None else environ
    graph_url = _graph_url(env.get(GRAPH_URL_SETTING) or PUBLIC_GRAPH_URL, GRAPH_URL_SETTING)
    try:
        auth_mode = AuthMode(env.get(GRAPH_AUTH_SETTING) or AuthMode.DEFAULT.value)
    except ValueError:
        choices = ", ".join(mode.value for mode in AuthMode)
        raise SettingsError(f"{GRAPH_AUTH_SETTING} must be one of {choices}") from None
    tenants = parse_tenants(env.get(TENANTS_SETTING) or "[]")
    if any(t.app_id for t in tenants) and auth_mode not in (
        AuthMode.MANAGED_IDENTITY,
        AuthMode.DEFAULT,
    ):
        raise SettingsError(
            f"{TENANTS_SETTING}: appId needs {GRAPH_AUTH_SETTING}=managed-identity or default"
        )
    authority = env.get(AUTHORITY_SETTING) or None
    if authority is not None:
        authority = _authority(authority)
    if auth_mode is AuthMode.LOCAL:
        for url in {graph_url, *(t.graph_url for t in tenants if t.graph_url)}:
            if url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
                raise SettingsError(f"{GRAPH_AUTH_SETTING}=local only works with a loopback Graph")
    client_state = env.get(CLIENT_STATE_SETTING) or None
    if client_state is not None and len(client_state) > MAX_CLIENT_STATE:
        raise SettingsError(f"{CLIENT_STATE_SETTING} must be at most {MAX_CLIENT_STATE} characters")
    notification_url = env.get(NOTIFICATION_URL_SETTING) or None
    if notification_url is not None:
        _graph_url(notification_url, NOTIFICATION_URL_SETTING)
    return GuardrailSettings(
        tenants=tenants,
        graph_url=graph_url,
        auth_mode=auth_mode,
        client_id=env.get(GRAPH_CLIENT_ID_SETTING) or None,
        client_state=client_state,
        notification_url=notification_url,
        queue_connection=env.get(QUEUES_SETTING) or None,
        queue_url=env.get(QUEUES_URL_SETTING) or None,
        audit_overlap_minutes=bounded_int(
            env, AUDIT_OVERLAP_SETTING, DEFAULT_AUDIT_OVERLAP_MINUTES, 0, 1440
        ),
        renew_before_hours=bounded_int(
            env, RENEW_BEFORE_SETTING, DEFAULT_RENEW_BEFORE_HOURS, 1, 600
        ),
        authority=authority,
        tenant_concurrency=bounded_int(
            env, TENANT_CONCURRENCY_SETTING, DEFAULT_TENANT_CONCURRENCY, 1, 32
        ),
        tenant_wait_seconds=bounded_int(
            env, TENANT_WAIT_SETTING, DEFAULT_TENANT_WAIT_SECONDS, 0, 540
        ),
    )


def parse_tenants(text: str) -> tuple[TenantConfig, ...]:
    """`TENANTS`: a JSON list of `{"tenantId", "graphUrl"?, "clientId"?, "appId"?,
    "mdmScopeAttestation"?}` (the attestation: `monitors/attestation.py`)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise SettingsError(f"{TENANTS_SETTING} is not JSON") from None
    if not isinstance(document, list):
        raise SettingsError(f"{TENANTS_SETTING} must be a JSON list of objects")
    tenants: dict[str, TenantConfig] = {}
    for index, entry in enumerate(document):
        where = f"{TENANTS_SETTING}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("tenantId"), str):
            raise SettingsError(f"{where} must be an object with a string tenantId")
        unknown = set(entry) - {"tenantId", "graphUrl", "clientId", "appId", ATTESTATION_KEY}
        if unknown:
            raise SettingsError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        tenant_id = entry["tenantId"].strip().lower()
        if not TENANT_PATTERN.match(tenant_id):
            raise SettingsError(f"{where}.tenantId is not a tenant GUID or domain")
        graph_url = entry.get("graphUrl")
        client_id = entry.get("clientId")
        if graph_url is not None and not isinstance(graph_url, str):
            raise SettingsError(f"{where}.graphUrl must be a string")
        if client_id is not None and not isinstance(client_id, str):
            raise SettingsError(f"{where}.clientId must be a string")
        app_id = entry.get("appId")
        if app_id is not None and (not isinstance(app_id, str) or not GUID.fullmatch(app_id)):
            raise SettingsError(f"{where}.appId must be the application (client) id, a GUID")
        attestation = None
        if ATTESTATION_KEY in entry:
            try:
                attestation = parse_attestation(
                    entry[ATTESTATION_KEY], f"{where}.{ATTESTATION_KEY}"
                )
            except AttestationError as error:
                raise SettingsError(str(error)) from None
        tenants[tenant_id] = TenantConfig(
            tenant_id,
            _graph_url(graph_url, f"{where}.graphUrl") if graph_url else None,
            client_id or None,
            app_id.lower() if app_id else None,
            attestation,
        )
    return tuple(tenants.values())


def _graph_url(value: str, setting: str) -> str:
    try:
        check_graph_url(value)
    except ValueError as error:
        raise SettingsError(f"{setting}: {error}") from None
    return value.rstrip("/")


def check_graph_url(value: str) -> None:
    """`graph_host`'s rules, applied to the host as the HTTP client will connect to it too:
    IDNA maps `169。254。169。254` to instance metadata, which no Graph URL may reach."""
    graph_host(value)
    try:
        host = client_host(value)
    except UnsafeUrlError as error:
        raise ValueError(f"Graph URL must be http(s)://host[:port] ({error})") from None
    if forbidden_address(host):
        raise ValueError(
            "Graph URL must not point at a link-local, metadata or unspecified address"
        )
    if value.strip().lower().startswith("http://") and not is_loopback(host):
        raise ValueError("plain http is only allowed for a Graph simulator on loopback")


def _authority(value: str) -> str:
    host = value.strip().removeprefix("https://").rstrip("/")
    if value.strip().startswith("http://") or not AUTHORITY_HOST.fullmatch(host):
        raise SettingsError(f"{AUTHORITY_SETTING} must be an https sign-in host name")
    return host


def bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Setting `name` as a whole number from `low` to `high`; `default` when unset or empty."""
    value = env.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}")
    return int(value)
