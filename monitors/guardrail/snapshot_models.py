"""Parsed snapshot models kept per instance, beside the tenant mirror's cached copy.

A change re-reads a handful of objects, yet every change evaluates a `TenantSnapshot` of the
whole tenant, and parsing 50,000 mirror objects into the model takes about 2 s at 20,000
devices. The mirror's per-instance copy (`monitors.guardrail.mirror`) hands out the same
object dicts from one load to the next and replaces, never changes, the ones a write touched;
so the model of the next load only needs the changed objects parsed again.

`SnapshotModels.model(document, version=...)` builds the model through
`TenantSnapshot.from_document` with a collection parser that takes, for every item that *is*
(by identity) the item the tenant's kept model was parsed from, with the same unreadable
navigations, the object parsed then; everything else (changed, added objects; a collection
loaded anew, e.g. after a full read) is parsed. Removed objects simply are not in the document.
The result is the model a fresh parse gives (tests/test_snapshot_models.py holds the two equal
over changes of every kind, deletions included).

Validated by the mirror version: the kept model records the version of the document it was
built from. A document of another version has its changed objects parsed again (an identity
check of every item, a few milliseconds at 20,000 devices); one of an older version than the
kept model (a slower concurrent change) is parsed against it but does not replace it; a
document without a version (a full read from Graph, the blind copy of an outage) is parsed
against it and never kept. Bounded: the models of at most `max_tenants` tenants, least recently
used first out (`GREENSCREEN_MODEL_CACHE_TENANTS`, default 4 like the mirror's copies; 0 turns
the cache off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from monitors.guardrail.settings import bounded_int
from monitors.store.kept import NewestPerTenant
from rules.snapshot_model import (
    TenantSnapshot,
    navigations_of,
    parse_collection,
    parse_object,
)

DEFAULT_MODEL_TENANTS: Final = 4
MAX_MODEL_TENANTS: Final = 64
MODEL_CACHE_SETTING: Final = "GREENSCREEN_MODEL_CACHE_TENANTS"


@dataclass(frozen=True, slots=True)
class _Parsed:
    """One collection of a kept model: the document's items (kept alive, so compared by
    identity), the navigations unreadable then, and the objects parsed from them."""

    items: tuple[Any, ...]
    unreadable: Mapping[str, frozenset[str]]
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Kept:
    version: int
    collections: Mapping[str, _Parsed]


@dataclass(frozen=True, slots=True)
class ModelStats:
    """How the last `model` call got its objects (for benchmarks and tests)."""

    parsed: int  # objects parsed
    reused: int  # objects taken from the kept model
    parsed_collections: tuple[str, ...]  # collections with at least one object parsed
    kept_version: int | None  # the version of the kept model it was built against


class SnapshotModels:
    """The last model of each tenant this instance evaluated, to parse the next one from."""

    def __init__(self, max_tenants: int = DEFAULT_MODEL_TENANTS) -> None:
        if max_tenants < 0:
            raise ValueError("max_tenants must not be negative")
        self._kept: NewestPerTenant[_Kept] = NewestPerTenant(max_tenants, lambda k: k.version)
        self.last = ModelStats(0, 0, (), None)
        self.objects_parsed = 0  # over the instance's life: what the cache did not save

    @property
    def max_tenants(self) -> int:
        return self._kept.limit

    def tenants(self) -> tuple[str, ...]:
        """The tenants whose model is kept, least recently used first."""
        return self._kept.tenants()

    def kept_version(self, tenant_id: str) -> int | None:
        kept = self._kept.get(tenant_id)
        return None if kept is None else kept.version

    def forget(self, tenant_id: str) -> None:
        self._kept.pop(tenant_id)

    def model(self, document: Mapping[str, Any], *, version: int | None) -> TenantSnapshot:
        """The model of `document` (as `TenantSnapshot.from_document` builds it).

        `version`: the tenant mirror's version the document was loaded at
        (`TenantMirror.load_versioned`), or None for a document that is not the mirror's copy.
        """
        tenant_id = document.get("tenantId")
        kept: _Kept | None = None
        if isinstance(tenant_id, str):
            kept = self._kept.get(tenant_id)
        collections: dict[str, _Parsed] = {}
        counts = [0, 0]
        parsed_collections: list[str] = []

        def parse(
            path: str, items: Sequence[Any], unreadable: Mapping[str, frozenset[str]]
        ) -> tuple[Any, ...]:
            earlier = kept.collections.get(path) if kept is not None else None
            objects, parsed = _reparse(path, items, unreadable, earlier)
            counts[0] += parsed
            counts[1] += len(objects) - parsed
            if parsed:
                parsed_collections.append(path)
            collections[path] = _Parsed(tuple(items), unreadable, objects)
            return objects

        snapshot = TenantSnapshot.from_document(document, parse=parse)
        self.last = ModelStats(
            counts[0], counts[1], tuple(parsed_collections), None if kept is None else kept.version
        )
        self.objects_parsed += counts[0]
        if isinstance(tenant_id, str) and version:
            # A newer change of this tenant that kept its model first keeps it.
            self._kept.put(tenant_id, _Kept(version, collections))
        return snapshot


def _reparse(
    path: str,
    items: Sequence[Any],
    unreadable: Mapping[str, frozenset[str]],
    earlier: _Parsed | None,
) -> tuple[tuple[Any, ...], int]:
    """The collection's objects and how many of them were parsed (the rest reused)."""
    if earlier is None:
        return parse_collection(path, items, unreadable), len(items)
    if (
        len(earlier.items) == len(items)
        and all(a is b for a, b in zip(earlier.items, items, strict=True))
        and earlier.unreadable == unreadable
    ):
        return earlier.objects, 0
    # id() is safe here: the earlier items are kept alive by `earlier`, so no other live
    # object can have the id of one of them; the `is` check below confirms it anyway.
    before = {
        id(item): (item, obj) for item, obj in zip(earlier.items, earlier.objects, strict=True)
    }
    objects: list[Any] = []
    parsed = 0
    for index, item in enumerate(items):
        navigations = navigations_of(item, unreadable)
        hit = before.get(id(item))
        if (
            hit is not None
            and hit[0] is item
            and navigations_of(item, earlier.unreadable) == navigations
        ):
            objects.append(hit[1])
            continue
        objects.append(parse_object(path, item, index, navigations))
        parsed += 1
    return tuple(objects), parsed


def model_cache_tenants(env: Mapping[str, str]) -> int:
    """`GREENSCREEN_MODEL_CACHE_TENANTS`: how many tenants' models an instance keeps (0-64)."""
    return bounded_int(env, MODEL_CACHE_SETTING, DEFAULT_MODEL_TENANTS, 0, MAX_MODEL_TENANTS)
