"""`greenscreen history --tenant <domain>`: a verified domain finds the tenant's history, whichever
name the monitor stored it under. Storage is Azurite; the identity platform's OpenID Connect
metadata endpoint is served on loopback in the shape Microsoft documents
(learn.microsoft.com/entra/identity-platform/v2-protocols-oidc: `issuer` is
`https://login.microsoftonline.com/{tenant id}/v2.0`; an unknown tenant is HTTP 400
`invalid_tenant`, AADSTS90002)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from monitors.cli import main
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, run_info


class Metadata:
    """The OpenID Connect metadata endpoint of the Microsoft identity platform, on loopback."""

    def __init__(self) -> None:
        self.domains: dict[str, str] = {}
        self.requests: list[str] = []
        self.url = ""

    def document(self, tenant_id: str) -> dict[str, Any]:
        base = "https://login.microsoftonline.com"
        return {
            "token_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/authorize",
            "issuer": f"{base}/{tenant_id}/v2.0",
            "jwks_uri": f"{base}/{tenant_id}/discovery/v2.0/keys",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }


@pytest.fixture
def metadata() -> Iterator[Metadata]:
    served = Metadata()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            parts = self.path.split("/")
            domain = parts[1] if len(parts) > 1 else ""
            tenant_id = served.domains.get(domain)
            if tenant_id is None or not self.path.endswith(
                "/v2.0/.well-known/openid-configuration"
            ):
                status, body = (
                    400,
                    {
                        "error": "invalid_tenant",
                        "error_description": f"AADSTS90002: Tenant '{domain}' not found.",
                        "error_codes": [90002],
                    },
                )
            else:
                status, body = 200, served.document(tenant_id)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def environment(azurite: Azurite, metadata: Metadata, monkeypatch: pytest.MonkeyPatch) -> Metadata:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", metadata.url)
    monkeypatch.delenv("TENANTS", raising=False)
    return metadata


def record(store: VerdictStore, tenant: str) -> None:
    for at, status in (
        ("2026-11-20T10:00:00Z", Status.PASS),
        ("2026-11-21T10:00:00Z", Status.FAIL),
    ):
        findings = [finding("app-1", status)]
        store.record_evaluation(tenant, evaluation(tenant, at, findings), run_info())


def history(tenant: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["history", "--tenant", tenant, "--format", "json", "--since", "2026-11-01"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def domain_for(tenant_id: str) -> str:
    return f"contoso{tenant_id[:8]}.onmicrosoft.com"


def test_a_verified_domain_finds_the_history_stored_under_the_tenant_id(
    environment: Metadata, store: VerdictStore, tenant_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    record(store, tenant_id)
    domain = domain_for(tenant_id)
    environment.domains[domain] = tenant_id

    code, listing, err = history(domain.upper(), capsys)

    assert code == 0
    assert [item["to"] for item in listing["items"]] == ["fail"]
    assert err == f"greenscreen: domain {domain} is tenant {tenant_id}\n"


def test_a_tenant_id_finds_the_history_stored_under_its_configured_domain(
    environment: Metadata,
    store: VerdictStore,
    tenant_id: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    domain = domain_for(tenant_id)
    record(store, domain)
    environment.domains[domain] = tenant_id
    monkeypatch.setenv("TENANTS", json.dumps([{"tenantId": domain}]))

    code, listing, err = history(tenant_id, capsys)

    assert code == 0
    assert [item["to"] for item in listing["items"]] == ["fail"]
    assert f"is stored as {domain} (TENANTS)" in err


def test_a_name_with_history_of_its_own_is_used_without_asking_anyone(
    environment: Metadata, store: VerdictStore, tenant_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    domain = domain_for(tenant_id)
    record(store, domain)

    code, listing, err = history(domain, capsys)

    assert code == 0
    assert len(listing["items"]) == 1
    assert err == ""
    assert environment.requests == []


def test_an_unknown_domain_is_one_line_and_exit_2(
    environment: Metadata, tenant_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, listing, err = history(domain_for(tenant_id), capsys)

    assert code == 2
    assert listing is None
    assert err.count("\n") == 1
    assert "no Microsoft Entra tenant has the domain" in err


def test_an_unreachable_identity_platform_is_one_line_and_exit_1(
    azurite: Azurite,
    tenant_id: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9")  # discard port: refused

    code, listing, err = history(domain_for(tenant_id), capsys)

    assert code == 1
    assert listing is None
    assert err.startswith("greenscreen: cannot resolve --tenant")
    assert err.count("\n") == 1
