"""httpx clients aimed at a running simulator, for tests.

One TLS context is shared: httpx builds (and loads CA certificates into) a new one for every
client otherwise, which costs tens of milliseconds per test though the simulator speaks HTTP.
"""

from __future__ import annotations

import ssl
from typing import Final

import httpx

from tests.graphsim.simulator import GraphSimulator

TEST_TOKEN: Final = "test-token"
_TLS_CONTEXT: Final = ssl.create_default_context()


def graph_client(
    simulator: GraphSimulator, version: str = "v1.0", token: str = TEST_TOKEN
) -> httpx.Client:
    """A client whose relative URLs are under `/{version}`, with a bearer token."""
    return httpx.Client(
        base_url=f"{simulator.url}/{version}",
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,  # loopback only: never through a proxy from the environment
        verify=_TLS_CONTEXT,
        timeout=10,
    )


def plain_client() -> httpx.Client:
    """A client without credentials or base URL."""
    return httpx.Client(trust_env=False, verify=_TLS_CONTEXT, timeout=10)


def admin_client(simulator: GraphSimulator) -> httpx.Client:
    return httpx.Client(
        base_url=f"{simulator.url}/_admin", trust_env=False, verify=_TLS_CONTEXT, timeout=10
    )
