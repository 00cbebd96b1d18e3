"""One version of the served tenant: the snapshot plus indexes, never mutated once built.

Applying changes builds a new view and swaps it in under the simulator's lock, so a request that
started on the old view reads a consistent tenant without holding the lock while it serialises.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from rules.tenant_collections import ALL_COLLECTIONS

SNAPSHOT_FORMAT: Final = "greenscreen.tenant-snapshot/1"
INTUNE_AUDIT_EVENTS: Final = "deviceManagement/auditEvents"
DIRECTORY_AUDITS: Final = "auditLogs/directoryAudits"
AUDIT_COLLECTIONS: Final = (INTUNE_AUDIT_EVENTS, DIRECTORY_AUDITS)
DEFAULT_TENANT_ID: Final = "00000000-0000-0000-0000-000000000000"


def normalize_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy in which every known collection not in `errors` is present (maybe empty)."""
    if not isinstance(snapshot, Mapping):
        raise TypeError("a tenant snapshot is a JSON object")
    normalized = copy.deepcopy(dict(snapshot))
    normalized.setdefault("format", SNAPSHOT_FORMAT)
    normalized.setdefault("tenantId", DEFAULT_TENANT_ID)
    collections = normalized.setdefault("collections", {})
    errors = normalized.setdefault("errors", {})
    if not isinstance(collections, dict) or not isinstance(errors, dict):
        raise ValueError("a snapshot's 'collections' and 'errors' are JSON objects")
    for name, objects in collections.items():
        if not isinstance(objects, list) or not all(
            isinstance(o, dict) and isinstance(o.get("id"), str) for o in objects
        ):
            raise ValueError(f"collection {name!r} must be a list of objects with a string 'id'")
    for name in ALL_COLLECTIONS:
        if name not in errors:
            collections.setdefault(name, [])
    return normalized


class TenantView:
    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.tenant_id: str = str(snapshot.get("tenantId", DEFAULT_TENANT_ID))
        self.collections: dict[str, list[dict[str, Any]]] = snapshot["collections"]
        self.errors: dict[str, dict[str, Any]] = snapshot["errors"]
        self._index = {
            name: {str(o["id"]).lower(): o for o in objects}
            for name, objects in self.collections.items()
        }

    def objects(self, collection: str) -> list[dict[str, Any]]:
        return self.collections.get(collection, [])

    def find(self, collection: str, object_id: str) -> dict[str, Any] | None:
        # Graph ids are GUIDs, matched case-insensitively.
        return self._index.get(collection, {}).get(object_id.lower())

    def error_for(self, path: str) -> Mapping[str, Any] | None:
        """The snapshot error recorded for `path` or for any path it is under."""
        segments = path.split("/")
        for length in range(len(segments), 0, -1):
            recorded = self.errors.get("/".join(segments[:length]))
            if recorded is not None:
                return recorded
        return None

    def resolve_collection(self, segments: list[str]) -> tuple[str, list[str]] | None:
        """The longest served collection path that `segments` starts with, and the rest."""
        served = set(self.collections) | set(self.errors) | set(AUDIT_COLLECTIONS)
        for length in range(len(segments), 0, -1):
            candidate = "/".join(segments[:length])
            if candidate in served:
                return candidate, segments[length:]
        return None
