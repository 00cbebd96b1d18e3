"""Page sizes and `$skiptoken`s.

Graph pages every collection; how many objects a page holds depends on the service behind the
path. A `$top` above the service's maximum is capped to the maximum here rather than rejected:
Intune silently caps, and the directory's 400 for `$top` > 999 would only make the simulator
harder to use without exercising anything the reader does differently (it asks for the max).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final

from tests.graphsim.exchange import GraphError, bad_request


@dataclass(frozen=True)
class PageCap:
    default: int
    maximum: int


# (path prefix under the version root, cap); the first matching prefix wins.
# Settings catalog (configurationPolicies, its settings and assignments): 25 a page whatever
# $top asks (IntuneAssignmentChecker#28, M365Documentation#45, Microsoft365DSC#5328,
# IntuneBackupAndRestore#88).
# Intune (deviceManagement/*, deviceAppManagement/*): 1,000 a page (Microsoft's answer in
# powershell-intune-samples#2), $top up to 1,000.
# Directory (groups, devices, their members, delta, auditLogs/*): 100 by default, $top up to 999.
SETTINGS_CATALOG_CAP: Final = PageCap(default=25, maximum=25)
PAGE_CAPS: Final[tuple[tuple[str, PageCap], ...]] = (
    ("deviceManagement/configurationPolicies", SETTINGS_CATALOG_CAP),
    ("deviceManagement/", PageCap(default=1000, maximum=1000)),
    ("deviceAppManagement/", PageCap(default=1000, maximum=1000)),
    ("groups", PageCap(default=100, maximum=999)),
    ("devices", PageCap(default=100, maximum=999)),
    ("auditLogs/", PageCap(default=100, maximum=999)),
)
# Everything else (policies, conditional access, subscriptions) pages like the directory.
FALLBACK_CAP: Final = PageCap(default=100, maximum=999)


def page_cap(path: str) -> PageCap:
    normalized = normalize_path(path)
    for prefix, cap in PAGE_CAPS:
        if normalized == prefix.rstrip("/") or normalized.startswith(prefix):
            return cap
    return FALLBACK_CAP


def normalize_path(path: str) -> str:
    stripped = path.strip("/")
    for version in ("v1.0/", "beta/"):
        if stripped.startswith(version):
            return stripped[len(version) :]
    return stripped


def page_size(path: str, top: int | None) -> int:
    cap = page_cap(path)
    if top is None:
        return cap.default
    if top < 1:
        raise ValueError(f"$top must be at least 1, not {top}")
    return min(top, cap.maximum)


@dataclass(frozen=True)
class SkipToken:
    """Where the next page starts; opaque to clients, tied to one simulator instance."""

    offset: int
    instance: str

    def encode(self) -> str:
        raw = json.dumps({"o": self.offset, "i": self.instance}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_skip_token(token: str, instance: str) -> SkipToken:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        decoded = SkipToken(offset=int(data["o"]), instance=str(data["i"]))
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise bad_request("The specified page token value has expired or is invalid.") from error
    if decoded.instance != instance or decoded.offset < 0:
        raise bad_request("The specified page token value has expired or is invalid.")
    return decoded


def page_bounds(total: int, offset: int, size: int) -> tuple[int, int, bool]:
    """(start, end, has_more) of the page starting at `offset`."""
    start = min(offset, total)
    end = min(start + size, total)
    return start, end, end < total


def top_from_text(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise bad_request(f"Invalid value '{text}' for $top query option.") from error
    if value < 1:
        raise GraphError(400, "BadRequest", f"Invalid page size specified: '{value}'.")
    return value
