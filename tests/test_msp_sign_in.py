"""An MSP reaches customer tenants through its multi-tenant app, signed in without a secret.

The real azure-identity credentials run against two local stand-ins: the App Service managed
identity endpoint (plain HTTP on loopback, as the platform serves it) and an Entra token endpoint
(HTTPS with a throwaway certificate). Graph is the project's simulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from monitors.graph.client import GraphClient
from monitors.graph.credentials import (
    REFRESH_MARGIN_S,
    TOKEN_EXCHANGE_SCOPE,
    AuthMode,
    CachedCredential,
    FederatedAppCredential,
    ProcessTokenCache,
    build_credential,
)
from monitors.graph.reader import TenantReader
from monitors.guardrail.settings import SettingsError, read_settings
from tests.graphsim import GraphSimulator

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "contoso-sample.json"
CUSTOMER_TENANT = "5e1f3c2a-9d8b-4c7e-a6f5-0b1c2d3e4f50"
MSP_APP_ID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
IDENTITY_HEADER = "identity-endpoint-header"
ASSERTION = "managed-identity-assertion-for-token-exchange"
CUSTOMER_TOKEN = "customer-tenant-graph-token"


@dataclass
class Seen:
    identity: list[dict[str, str]] = field(default_factory=list)
    tokens: list[dict[str, str]] = field(default_factory=list)


def _serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def identity_endpoint(seen: Seen) -> Iterator[str]:
    """App Service's managed identity endpoint (api-version 2019-08-01)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            query["header"] = self.headers.get("X-IDENTITY-HEADER", "")
            seen.identity.append(query)
            body = json.dumps(
                {
                    "access_token": ASSERTION,
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query.get("resource", ""),
                    "token_type": "Bearer",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "entra.pem", tmp_path / "entra.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def entra(seen: Seen, certificate: tuple[Path, Path]) -> Iterator[str]:
    """Entra's v2.0 token endpoint for the customer tenant, over HTTPS."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            form["path"] = self.path
            seen.tokens.append(form)
            valid = (
                self.path == f"/{CUSTOMER_TENANT}/oauth2/v2.0/token"
                and form.get("client_assertion") == ASSERTION
            )
            body = json.dumps(
                {"token_type": "Bearer", "expires_in": 3599, "access_token": CUSTOMER_TOKEN}
                if valid
                else {"error": "invalid_client", "error_description": "AADSTS700211"}
            ).encode()
            self.send_response(200 if valid else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture
def app_service_identity(identity_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://{identity_endpoint}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)


def test_customer_tenant_is_read_with_the_app_signed_in_by_the_identitys_assertion(
    app_service_identity: None,
    entra: str,
    certificate: tuple[Path, Path],
    seen: Seen,
) -> None:
    from azure.identity.aio import ManagedIdentityCredential

    async def read_twice() -> list[int]:
        credential = FederatedAppCredential(
            CUSTOMER_TENANT,
            MSP_APP_ID,
            ManagedIdentityCredential(),
            authority=f"https://{entra}",
            connection_verify=str(certificate[0]),
        )
        with GraphSimulator(json.loads(SAMPLE.read_text())) as sim:
            counts = []
            async with credential, GraphClient(credential, base_url=sim.url) as client:
                for _ in range(2):
                    snapshot = await TenantReader(client, tenant_id=CUSTOMER_TENANT).read()
                    counts.append(len(snapshot["collections"]["groups"]))
            return counts

    groups = asyncio.run(read_twice())

    assert groups[0] > 0
    assert groups[0] == groups[1]
    # The managed identity was asked for the token-exchange audience, with the platform header.
    assert seen.identity
    assert all(
        call["resource"] == TOKEN_EXCHANGE_SCOPE.removesuffix("/.default")
        and call["header"] == IDENTITY_HEADER
        for call in seen.identity
    )
    # One client-credentials request in the customer tenant, as the app, with that assertion;
    # the second read used the cached token.
    assert len(seen.tokens) == 1
    request = seen.tokens[0]
    assert request["path"] == f"/{CUSTOMER_TENANT}/oauth2/v2.0/token"
    assert request["grant_type"] == "client_credentials"
    assert request["client_id"] == MSP_APP_ID
    assert request["client_assertion"] == ASSERTION
    assert request["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert request["scope"] == "https://graph.microsoft.com/.default"
    assert "client_secret" not in request


def test_a_refused_assertion_is_an_error_not_a_read(
    app_service_identity: None,
    identity_endpoint: str,
    entra: str,
    certificate: tuple[Path, Path],
    seen: Seen,
) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity.aio import ManagedIdentityCredential

    async def sign_in() -> None:
        credential = FederatedAppCredential(
            "0b0b0b0b-0000-4000-8000-000000000000",  # a tenant that has not consented
            MSP_APP_ID,
            ManagedIdentityCredential(),
            authority=f"https://{entra}",
            connection_verify=str(certificate[0]),
        )
        async with credential:
            await credential.get_token("https://graph.microsoft.com/.default")

    with pytest.raises(ClientAuthenticationError):
        asyncio.run(sign_in())
    assert len(seen.tokens) == 1


def test_tenants_with_an_app_id_get_the_federated_credential() -> None:
    settings = read_settings(
        {
            "TENANTS": json.dumps(
                [
                    {"tenantId": "contoso.onmicrosoft.com"},
                    {"tenantId": CUSTOMER_TENANT, "appId": MSP_APP_ID.upper()},
                ]
            ),
            "GREENSCREEN_GRAPH_AUTH": "managed-identity",
            "GREENSCREEN_AUTHORITY_HOST": "login.microsoftonline.us",
        }
    )
    home, customer = settings.tenants
    assert home.app_id is None
    assert customer.app_id == MSP_APP_ID
    assert settings.authority == "login.microsoftonline.us"

    async def build() -> tuple[object, object]:
        first = build_credential(settings.auth_mode, tenant_id=home.tenant_id, app_id=home.app_id)
        second = build_credential(
            settings.auth_mode,
            tenant_id=customer.tenant_id,
            app_id=customer.app_id,
            authority=settings.authority,
        )
        for credential in (first, second):
            close = getattr(credential, "close", None)
            if close is not None:
                await close()
        return first, second

    first, second = asyncio.run(build())
    assert not isinstance(first, FederatedAppCredential)
    assert isinstance(second, FederatedAppCredential)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"TENANTS": json.dumps([{"tenantId": CUSTOMER_TENANT, "appId": "not-a-guid"}])},
            "TENANTS[0].appId must be the application (client) id, a GUID",
        ),
        (
            {
                "TENANTS": json.dumps([{"tenantId": CUSTOMER_TENANT, "appId": MSP_APP_ID}]),
                "GREENSCREEN_GRAPH_AUTH": "azure-cli",
            },
            "TENANTS: appId needs GREENSCREEN_GRAPH_AUTH=managed-identity or default",
        ),
        (
            {"GREENSCREEN_AUTHORITY_HOST": "http://login.example"},
            "GREENSCREEN_AUTHORITY_HOST must be an https sign-in host name",
        ),
        (
            {"GREENSCREEN_AUTHORITY_HOST": "login.example/../evil?x="},
            "GREENSCREEN_AUTHORITY_HOST must be an https sign-in host name",
        ),
    ],
)
def test_bad_msp_settings_are_refused_by_name(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        read_settings(environ)
    assert str(caught.value) == message


def test_app_id_without_a_managed_identity_mode_is_refused_by_the_builder() -> None:
    with pytest.raises(ValueError, match="managed identity"):
        build_credential(AuthMode.LOCAL, tenant_id=CUSTOMER_TENANT, app_id=MSP_APP_ID)


def test_invocations_of_one_process_share_the_tenant_token(
    app_service_identity: None,
    entra: str,
    certificate: tuple[Path, Path],
    seen: Seen,
) -> None:
    """Each invocation builds its credential on its own event loop; the sign-in happens once."""
    from azure.identity.aio import ManagedIdentityCredential

    now = [time.time()]
    cache = ProcessTokenCache(clock=lambda: now[0])
    identity = ("managed-identity", CUSTOMER_TENANT, "", MSP_APP_ID, entra)

    async def invocation(claims: str | None = None) -> str:
        credential = CachedCredential(
            FederatedAppCredential(
                CUSTOMER_TENANT,
                MSP_APP_ID,
                ManagedIdentityCredential(),
                authority=f"https://{entra}",
                connection_verify=str(certificate[0]),
            ),
            identity,
            cache,
        )
        try:
            token = await credential.get_token(
                "https://graph.microsoft.com/.default", claims=claims
            )
        finally:
            await credential.close()
        return token.token

    assert [asyncio.run(invocation()) for _ in range(3)] == [CUSTOMER_TOKEN] * 3
    assert len(seen.tokens) == 1
    # A claims challenge always reaches Entra.
    asyncio.run(invocation(claims='{"access_token":{"nbf":{"essential":true}}}'))
    assert len(seen.tokens) == 2
    # Near expiry (the token lives 3,599 s; refreshed 5 minutes early) the next invocation signs in.
    now[0] += 3_599 - REFRESH_MARGIN_S + 1
    asyncio.run(invocation())
    assert len(seen.tokens) == 3
