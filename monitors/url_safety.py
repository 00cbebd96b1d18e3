"""Where a configured URL really points: the host as the HTTP client will connect to it.

A URL is checked after the same normalisation the client applies, never before: httpx turns a
host through IDNA (`idna.encode`, which splits labels on every Unicode full stop: `。`, `．`,
`｡`), so `https://169。254。169。254/` connects to instance metadata although no check of the
raw text would see an address there. `client_host` asks httpx itself; `forbidden_address`
names the addresses no configured URL may reach, however they are spelled.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

import httpx

# The Azure platform's own endpoints on every VM: instance metadata (link-local, caught below) and
# the wire server, which hands out VM and extension configuration.
PLATFORM_ADDRESSES: Final = frozenset({ipaddress.ip_address("168.63.129.16")})
LOOPBACK_NAMES: Final = frozenset({"localhost"})


class UnsafeUrlError(ValueError):
    """The URL cannot be parsed as the client parses it."""


def client_host(url: str) -> str:
    """The host httpx connects to for `url`: lower-cased, IDNA-encoded, brackets removed."""
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise UnsafeUrlError("not a URL the HTTP client accepts") from None
    if not host:
        raise UnsafeUrlError("the URL names no host")
    return host


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal stands for, in any spelling the resolver accepts."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:  # the legacy spellings the resolver still accepts: 2852039166, 0xa9fea9fe, 0251...
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    address = literal_address(host)
    return host.lower() in LOOPBACK_NAMES or (address is not None and address.is_loopback)


def forbidden_address(host: str) -> bool:
    """Link-local (instance metadata), unspecified, multicast or an Azure platform address."""
    address = literal_address(host)
    return address is not None and (
        address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address in PLATFORM_ADDRESSES
    )
