"""Re-reading whole collections: the tenant policies no change channel reports, and the Intune
collections an audit record may have touched when nothing could name the object.

- `changed_policies`: the directory poll reads the MDM user scope, the device registration
  policy and the Conditional Access policies every poll (one request each: they are small) and
  compares them with the mirror, the state the last read stored. A difference becomes a
  `collections` message; the audit records that report such changes attribute it.
- `refresh_collections`: `process_change` for a `collections` message reads the named
  collections whole (the reader's own requests, so the mirror keeps one shape) and replaces them
  in the mirror: objects put, objects gone removed.

A delegated-only collection (the MDM user scope) that answers 401/403 is left as it is: with
app-only credentials it was unreadable at the last full read too, so its rules stay UNKNOWN.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from monitors.graph.client import GraphClient, GraphError
from monitors.graph.collections import spec_for
from monitors.graph.reader import TenantReader
from monitors.guardrail.mirror import TenantMirror
from rules import tenant_collections as tc

if TYPE_CHECKING:
    from monitors.guardrail.change_processing import Refresh

log = logging.getLogger(__name__)

# Tenant policies with no change notification and no Intune audit record.
POLLED_POLICIES: Final[tuple[str, ...]] = (
    tc.MDM_POLICIES,
    tc.DEVICE_REGISTRATION_POLICY,
    tc.CONDITIONAL_ACCESS_POLICIES,
)


@dataclass
class PolicyCheck:
    changed: list[str] = field(default_factory=list)
    unreadable: dict[str, int] = field(default_factory=dict)  # path -> HTTP status
    skipped: list[str] = field(default_factory=list)  # not readable at the last full read
    digest: str = ""  # of the changed policies' new content


async def read_collections(
    client: GraphClient, tenant_id: str, paths: Sequence[str]
) -> dict[str, Any]:
    """A snapshot document holding only these collections, read as a full read reads them."""
    return await TenantReader(client, tenant_id=tenant_id).read(only=set(paths))


async def changed_policies(
    client: GraphClient, tenant_id: str, mirror: TenantMirror
) -> PolicyCheck:
    """Which polled policies differ from the mirror (read errors are reported, never raised)."""
    check = PolicyCheck()
    meta = mirror.meta(tenant_id)
    if meta is None:
        return check  # never fully read: the first full read is the baseline
    paths = [p for p in POLLED_POLICIES if p in meta.collections]
    check.skipped = [p for p in POLLED_POLICIES if p not in meta.collections]
    if not paths:
        return check
    document = await read_collections(client, tenant_id, paths)
    errors: Mapping[str, Mapping[str, Any]] = document.get("errors") or {}
    for path in paths:
        error = _error_of(errors, path)
        if error is not None:
            check.unreadable[path] = int(error.get("status") or 0)
            continue
        read = document["collections"].get(path) or []
        now = fingerprint(read)
        if now != fingerprint(mirror.objects(tenant_id, path)):
            check.changed.append(path)
            check.digest = hashlib.sha256(f"{check.digest}{path}{now}".encode()).hexdigest()
    return check


async def refresh_collections(
    client: GraphClient,
    tenant_id: str,
    mirror: TenantMirror,
    paths: Sequence[str],
    refresh: Refresh,
) -> None:
    """Replace these collections in `refresh` (put what Graph has, forget what it no longer has).

    A read error raises, so the message is retried (the mirror keeps the last state meanwhile);
    a delegated-only collection refused with 401/403 is left untouched.
    """
    document = await read_collections(client, tenant_id, paths)
    errors: Mapping[str, Mapping[str, Any]] = document.get("errors") or {}
    for path in paths:
        error = _error_of(errors, path)
        if error is not None:
            status = int(error.get("status") or 502)
            if spec_for(path).delegated_only and status in (401, 403):
                log.info("%s is delegated-only and not readable: left as it is", path)
                continue
            raise GraphError(status, f"re-read of {path} failed: {error.get('message') or ''}")
        objects = list(document["collections"].get(path) or [])
        kept = {str(o.get("id")) for o in objects}
        for obj in objects:
            refresh.store(path, obj)
        for old in mirror.objects(tenant_id, path):
            if str(old.get("id")) not in kept:
                refresh.forget(path, str(old.get("id")))
        refresh.touched.add(path)


def fingerprint(objects: Iterable[Mapping[str, Any]]) -> str:
    """A digest of a collection's content, independent of order (an ETag of our own)."""
    ordered = sorted(
        json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=True) for o in objects
    )
    return hashlib.sha256("\n".join(ordered).encode()).hexdigest()


def _error_of(errors: Mapping[str, Mapping[str, Any]], path: str) -> Mapping[str, Any] | None:
    """The read error of the collection itself or of a navigation of one of its objects."""
    if path in errors:
        return errors[path]
    prefix = path + "/"
    return next((e for key, e in errors.items() if key.startswith(prefix)), None)
