"""The per-instance snapshot model cache: a model built from the kept one is the model a fresh
parse gives, whatever the change; only what changed is parsed again; the cache is bounded."""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from monitors.guardrail.settings import SettingsError
from monitors.guardrail.snapshot_models import (
    DEFAULT_MODEL_TENANTS,
    MODEL_CACHE_SETTING,
    SnapshotModels,
    model_cache_tenants,
)
from rules import tenant_collections as tc
from rules.snapshot_model import TenantSnapshot

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "contoso-sample.json"


def sample(tenant_id: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    document["tenantId"] = tenant_id or str(uuid.uuid4())
    return document


def assert_same_model(got: TenantSnapshot, expected: TenantSnapshot) -> None:
    for f in fields(TenantSnapshot):
        if f.init:
            assert getattr(got, f.name) == getattr(expected, f.name), f.name


def patched(
    document: Mapping[str, Any],
    path: str,
    *,
    put: Iterable[dict[str, Any]] = (),
    remove: Iterable[str] = (),
    errors: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the mirror's next load hands out: new lists, the unchanged objects the same dicts,
    a put object a new dict (in id order, as the mirror sorts them), a removed one gone."""
    collections = dict(document["collections"])
    by_id = {str(obj["id"]): obj for obj in collections[path]}
    for object_id in remove:
        by_id.pop(object_id, None)
    for obj in put:
        by_id[str(obj["id"])] = obj
    collections[path] = [by_id[key] for key in sorted(by_id)]
    return {
        **document,
        "collections": collections,
        "errors": dict(errors if errors is not None else document.get("errors") or {}),
    }


def changed_copy(obj: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    out.update(fields)
    return out


def test_models_built_from_the_kept_one_equal_fresh_parses_over_changes_of_every_kind() -> None:
    models = SnapshotModels()
    document = sample()
    rng = random.Random(20261204)
    kinds_seen: set[str] = set()
    model = models.model(document, version=1)
    assert_same_model(model, TenantSnapshot.from_document(document))
    assert models.last.reused == 0
    version = 1
    for step in range(120):
        path = rng.choice(
            [tc.GROUPS, tc.MOBILE_APPS, tc.PLATFORM_SCRIPTS, tc.DEVICES, tc.AUTOPILOT_DEVICES]
        )
        objects = document["collections"][path]
        victim = rng.choice(objects)
        kind = rng.choice(["change", "remove", "add", "navigation unread", "navigation read"])
        navigation = (tc.INLINED_NAVIGATIONS.get(path) or ("assignments",))[0]
        error_key = f"{path}/{victim['id']}/{navigation}"
        errors = dict(document.get("errors") or {})
        present = {str(obj["id"]) for obj in objects}
        unread_here = sorted(
            key
            for key in errors
            if key.startswith(path + "/") and key[len(path) + 1 :].split("/")[0] in present
        )
        expect_parsed: int | None = None
        if kind == "change":
            new = changed_copy(victim, displayName=f"renamed {step}")
            document = patched(document, path, put=[new])
            expect_parsed = 1
        elif kind == "remove" and len(objects) > 1:
            document = patched(document, path, remove=[str(victim["id"])])
            expect_parsed = 0
        elif kind == "add":
            new = changed_copy(victim, id=str(uuid.UUID(int=rng.getrandbits(128))))
            document = patched(document, path, put=[new])
            expect_parsed = 1
        elif (
            kind == "navigation unread"
            and path in tc.INLINED_NAVIGATIONS
            and error_key not in errors
        ):
            errors[error_key] = {"status": 503, "message": "unavailable"}
            document = patched(document, path, errors=errors)
            expect_parsed = 1
        elif kind == "navigation read" and unread_here:
            del errors[rng.choice(unread_here)]
            document = patched(document, path, errors=errors)
            expect_parsed = 1
        else:
            continue
        kinds_seen.add(kind)
        version += 1
        model = models.model(document, version=version)
        assert_same_model(model, TenantSnapshot.from_document(document))
        assert models.last.parsed == expect_parsed, (step, kind, path)
        assert models.last.parsed_collections == ((path,) if expect_parsed else ())
        assert models.last.kept_version == version - 1
    assert kinds_seen == {"change", "remove", "add", "navigation unread", "navigation read"}


def test_a_collection_that_becomes_unreadable_and_readable_again_is_the_fresh_parse() -> None:
    models = SnapshotModels()
    document = sample()
    models.model(document, version=1)
    unreadable = {**document, "collections": dict(document["collections"])}
    del unreadable["collections"][tc.MOBILE_APPS]
    unreadable["errors"] = {tc.MOBILE_APPS: {"status": 403, "message": "forbidden"}}
    model = models.model(unreadable, version=2)
    assert model.mobile_apps is None
    assert_same_model(model, TenantSnapshot.from_document(unreadable))
    again = copy.deepcopy(document)  # read again: every object a new dict
    model = models.model(again, version=3)
    assert_same_model(model, TenantSnapshot.from_document(again))
    assert models.last.parsed == sum(len(v) for v in again["collections"].values())


def test_unchanged_objects_are_the_objects_parsed_before_changed_ones_are_new() -> None:
    models = SnapshotModels()
    document = sample()
    first = models.model(document, version=1)
    group = document["collections"][tc.GROUPS][0]
    second = models.model(
        patched(document, tc.GROUPS, put=[changed_copy(group, displayName="Paused")]), version=2
    )
    assert second.mobile_apps is first.mobile_apps  # a collection untouched: the same tuple
    assert second.entra_devices is first.entra_devices
    assert first.groups is not None
    assert second.groups is not None
    changed = second.group(str(group["id"]))
    assert changed is not None
    assert changed.display_name == "Paused"
    before = {g.id: g for g in first.groups}
    after = {g.id: g for g in second.groups}
    assert set(before) == set(after)
    for group_id, parsed in after.items():
        assert (parsed is before[group_id]) == (group_id != group["id"])


def test_another_version_with_new_dicts_parses_everything_again() -> None:
    """A mirror copy loaded anew (evicted, or behind its kept log) hands out new dicts: nothing
    of the kept model is trusted, even with the same content."""
    models = SnapshotModels()
    document = sample()
    models.model(document, version=5)
    reloaded = copy.deepcopy(document)
    model = models.model(reloaded, version=9)
    assert models.last.reused == 0
    assert models.last.parsed == sum(len(v) for v in reloaded["collections"].values())
    assert_same_model(model, TenantSnapshot.from_document(reloaded))
    assert models.kept_version(document["tenantId"]) == 9


def test_an_older_version_or_no_version_does_not_replace_the_kept_model() -> None:
    models = SnapshotModels()
    document = sample()
    tenant = document["tenantId"]
    models.model(document, version=7)
    group = document["collections"][tc.GROUPS][0]
    older = patched(document, tc.GROUPS, put=[changed_copy(group, displayName="old")])
    assert_same_model(models.model(older, version=6), TenantSnapshot.from_document(older))
    assert models.kept_version(tenant) == 7
    # Parsed against the version-7 model, not the older one: one object parsed again.
    models.model(document, version=7)
    assert models.last.parsed == 0
    models.model(older, version=None)  # a full read or a blind copy: never kept
    assert models.kept_version(tenant) == 7
    assert models.last.kept_version == 7
    fresh = SnapshotModels()
    fresh.model(document, version=None)
    fresh.model(document, version=0)  # a mirror never published: nothing to validate against
    assert fresh.tenants() == ()


def test_the_cache_keeps_the_most_recently_used_tenants_only() -> None:
    models = SnapshotModels(max_tenants=2)
    documents = {name: sample() for name in "ABCD"}
    tenant = {name: document["tenantId"] for name, document in documents.items()}
    for name in "ABC":
        models.model(documents[name], version=1)
    assert models.tenants() == (tenant["B"], tenant["C"])
    models.model(documents["B"], version=2)  # used: now the most recent
    models.model(documents["D"], version=1)
    assert models.tenants() == (tenant["B"], tenant["D"])
    models.model(documents["A"], version=1)  # evicted earlier: parsed whole
    assert models.last.reused == 0
    assert models.last.kept_version is None


def test_a_cache_of_zero_tenants_keeps_nothing() -> None:
    models = SnapshotModels(max_tenants=0)
    document = sample()
    models.model(document, version=1)
    models.model(document, version=1)
    assert models.tenants() == ()
    assert models.last.reused == 0


def test_the_cache_size_setting() -> None:
    assert model_cache_tenants({}) == DEFAULT_MODEL_TENANTS
    assert model_cache_tenants({MODEL_CACHE_SETTING: "0"}) == 0
    assert model_cache_tenants({MODEL_CACHE_SETTING: "64"}) == 64
    for bad in ("65", "-1", "two", "1.5"):
        with pytest.raises(SettingsError, match=MODEL_CACHE_SETTING):
            model_cache_tenants({MODEL_CACHE_SETTING: bad})
