"""Tenant change documents (`greenscreen.tenant-changes/1`): validate them and apply them.

One format serves the Graph simulator's mutation API and `greenscreen check --what-if`. Applying
is pure: the input snapshot is never mutated; a new snapshot comes back with one record per
applied change, carrying what an audit trail needs (object, display name, old and new values).
A document is applied all or nothing. The format is described in docs/changes.md.
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from monitors.snapshot_file import JsonInputError, parse_json, read_bounded
from rules.tenant_collections import (
    ALL_COLLECTIONS,
    GROUPS,
    INLINED_NAVIGATIONS,
)

CHANGE_FORMAT: Final = "greenscreen.tenant-changes/1"
MAX_CHANGE_BYTES: Final = 16 * 1024 * 1024  # a change document is a handful of operations
DEFAULT_SOURCE: Final = "change document"
DEFAULT_MEMBER_TYPE: Final = "#microsoft.graph.device"
MEMBERSHIP_RULE_PROCESSING_STATES: Final = ("On", "Paused")
_DYNAMIC_MEMBERSHIP: Final = "DynamicMembership"
# Object ids end up in URL paths (`/groups/{id}`), so they cannot hold URL delimiters.
_OBJECT_ID_PATTERN: Final = re.compile(r"^[^/?#\s]+$")

# Navigations an added object gets (empty) when it does not carry them, so that the snapshot
# keeps its promise that an inlined navigation is present unless reading it failed.
_EMPTY_LIST_NAVIGATIONS: Final = frozenset(
    {"assignments", "relationships", "settings", "scheduledActionsForRule", "includedGroups"}
)
_EMPTY_SINGLE_NAVIGATIONS: Final = frozenset({"deploymentProfile", "intendedDeploymentProfile"})


class ChangeError(ValueError):
    """A change document that cannot be applied; the message names the source and JSON path."""

    def __init__(self, source: str, location: str, problem: str) -> None:
        self.source = source
        self.location = location
        self.problem = problem
        super().__init__(f"{source}: {location}: {problem}" if location else f"{source}: {problem}")


@dataclass(frozen=True)
class ModifiedProperty:
    """One property as it was and as it became (`None` when absent on that side)."""

    name: str
    old_value: Any
    new_value: Any


@dataclass(frozen=True)
class AppliedChange:
    """What one change did, in the terms an audit event uses."""

    index: int
    op: str
    collection: str
    object_id: str
    display_name: str | None
    odata_type: str | None
    modified_properties: tuple[ModifiedProperty, ...]


@dataclass(frozen=True)
class ChangeResult:
    snapshot: dict[str, Any]
    applied: tuple[AppliedChange, ...]
    actor: dict[str, Any]


# --- structure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    kind: str  # "string" | "object" | "path" | "any"
    required: bool = True


_OPS: Final[dict[str, dict[str, _Field]]] = {
    "set": {
        "collection": _Field("string"),
        "id": _Field("string"),
        "path": _Field("path"),
        "value": _Field("any"),
    },
    "addAssignment": {
        "collection": _Field("string"),
        "id": _Field("string"),
        "assignment": _Field("object"),
    },
    "removeAssignment": {
        "collection": _Field("string"),
        "id": _Field("string"),
        "assignmentId": _Field("string", required=False),
        "target": _Field("object", required=False),
    },
    "add": {"collection": _Field("string"), "object": _Field("object")},
    "remove": {"collection": _Field("string"), "id": _Field("string")},
    "setGroupRule": {
        "id": _Field("string"),
        "membershipRule": _Field("string", required=False),
        "membershipRuleProcessingState": _Field("string", required=False),
    },
    "addGroupMember": {
        "id": _Field("string"),
        "memberId": _Field("string"),
        "memberType": _Field("string", required=False),
    },
    "removeGroupMember": {"id": _Field("string"), "memberId": _Field("string")},
}
_TOP_LEVEL_FIELDS: Final = frozenset({"format", "actor", "description", "changes"})
# No Graph property has these names; in a path they can only aim at JavaScript consumers of the
# changed tenant (prototype pollution), so they are refused outright.
_RESERVED_SEGMENTS: Final = frozenset({"__proto__", "constructor", "prototype"})


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _check_field(value: Any, field: _Field, fail: Callable[[str], ChangeError]) -> None:
    if field.kind == "string" and not isinstance(value, str):
        raise fail(f"must be a string, not {_type_name(value)}")
    if field.kind == "string" and not value:
        raise fail("must not be empty")
    if field.kind == "object" and not isinstance(value, dict):
        raise fail(f"must be an object, not {_type_name(value)}")
    if field.kind == "path":
        segments = value if isinstance(value, list) else None
        if isinstance(value, str):
            segments = value.split(".")
        if segments is None or not segments:
            raise fail(f"must be a dotted string or an array of segments, not {_type_name(value)}")
        if not all(isinstance(s, str | int) and not isinstance(s, bool) for s in segments):
            raise fail("segments must be strings or integers")
        if any(s == "" for s in segments):
            raise fail("must not contain empty segments")
        if any(s in _RESERVED_SEGMENTS for s in segments):
            raise fail("must not name __proto__, constructor or prototype")


def validate_change_document(document: Any, *, source: str = DEFAULT_SOURCE) -> None:
    """Check a change document's structure (not whether its objects exist); raise ChangeError."""

    def fail_at(location: str) -> Callable[[str], ChangeError]:
        return lambda problem: ChangeError(source, location, problem)

    if not isinstance(document, dict):
        raise ChangeError(source, "", f"must be a JSON object, not {_type_name(document)}")
    for key in document:
        if key not in _TOP_LEVEL_FIELDS:
            raise ChangeError(source, key, "unknown field")
    if "format" not in document:
        raise ChangeError(source, "format", f"missing; expected {CHANGE_FORMAT!r}")
    if document["format"] != CHANGE_FORMAT:
        raise ChangeError(
            source, "format", f"is {document['format']!r}; expected {CHANGE_FORMAT!r}"
        )
    actor = document.get("actor", {})
    if not isinstance(actor, dict):
        raise ChangeError(source, "actor", f"must be an object, not {_type_name(actor)}")
    for key, value in actor.items():
        if not isinstance(value, str):
            raise ChangeError(source, f"actor.{key}", f"must be a string, not {_type_name(value)}")
    if "description" in document and not isinstance(document["description"], str):
        raise ChangeError(source, "description", "must be a string")
    if "changes" not in document:
        raise ChangeError(source, "changes", "missing")
    changes = document["changes"]
    if not isinstance(changes, list):
        raise ChangeError(source, "changes", f"must be an array, not {_type_name(changes)}")
    for index, change in enumerate(changes):
        _validate_change(change, f"changes[{index}]", fail_at)


def _validate_change(
    change: Any, location: str, fail_at: Callable[[str], Callable[[str], ChangeError]]
) -> None:
    if not isinstance(change, dict):
        raise fail_at(location)(f"must be an object, not {_type_name(change)}")
    if "op" not in change:
        raise fail_at(f"{location}.op")("missing")
    op = change["op"]
    if not isinstance(op, str) or op not in _OPS:  # a list or object op is not hashable
        raise fail_at(f"{location}.op")(f"unknown op {op!r}; expected one of {', '.join(_OPS)}")
    fields = _OPS[op]
    for key in change:
        if key != "op" and key not in fields:
            raise fail_at(f"{location}.{key}")(f"unknown field for op {op!r}")
    for key, field in fields.items():
        if key not in change:
            if field.required:
                raise fail_at(f"{location}.{key}")(f"missing (required by op {op!r})")
            continue
        _check_field(change[key], field, fail_at(f"{location}.{key}"))
    if op == "removeAssignment" and ("assignmentId" in change) == ("target" in change):
        raise fail_at(location)("needs exactly one of 'assignmentId' or 'target'")
    if op == "setGroupRule":
        if "membershipRule" not in change and "membershipRuleProcessingState" not in change:
            raise fail_at(location)(
                "needs 'membershipRule' or 'membershipRuleProcessingState' (or both)"
            )
        state = change.get("membershipRuleProcessingState")
        if state is not None and state not in MEMBERSHIP_RULE_PROCESSING_STATES:
            raise fail_at(f"{location}.membershipRuleProcessingState")(
                f"is {state!r}; expected 'On' or 'Paused'"
            )
    if op == "add" and "id" in change["object"]:
        object_id = change["object"]["id"]
        if not isinstance(object_id, str) or not _OBJECT_ID_PATTERN.fullmatch(object_id):
            raise fail_at(f"{location}.object.id")(
                "must be a non-empty string without '/', '?', '#' or spaces"
            )
    if op == "addAssignment":
        assignment = change["assignment"]
        if not isinstance(assignment.get("target"), dict):
            raise fail_at(f"{location}.assignment.target")("missing or not an object")
        if "id" in assignment and not isinstance(assignment["id"], str):
            raise fail_at(f"{location}.assignment.id")("must be a string")


def load_change_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and structurally validate a change document file."""
    source = str(path)
    try:
        text = read_bounded(Path(path), MAX_CHANGE_BYTES).decode("utf-8")
    except JsonInputError as error:
        raise ChangeError(source, "", str(error)) from None
    except OSError as error:
        raise ChangeError(source, "", f"cannot be read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ChangeError(source, "", "is not UTF-8 text") from error
    try:
        document = parse_json(text)
    except json.JSONDecodeError as error:
        raise ChangeError(
            source, "", f"is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    except JsonInputError as error:
        raise ChangeError(source, "", f"is not usable JSON: {error}") from None
    validate_change_document(document, source=source)
    if not isinstance(document, dict):  # unreachable after validation; narrows the type
        raise ChangeError(source, "", "must be a JSON object")
    return document


# --- applying -------------------------------------------------------------------------------


def apply_changes(
    snapshot: Mapping[str, Any], document: Mapping[str, Any], *, source: str = DEFAULT_SOURCE
) -> ChangeResult:
    """Apply every change of `document` to a copy of `snapshot`, in order, all or nothing."""
    validate_change_document(dict(document), source=source)
    tenant = copy.deepcopy(dict(snapshot))
    collections = tenant.setdefault("collections", {})
    applied: list[AppliedChange] = []
    for index, change in enumerate(document["changes"]):
        context = _ChangeContext(source, index, tenant, collections)
        applied.append(_APPLIERS[change["op"]](change, context))
    return ChangeResult(
        snapshot=tenant, applied=tuple(applied), actor=dict(document.get("actor", {}))
    )


@dataclass(frozen=True)
class _ChangeContext:
    source: str
    index: int
    tenant: dict[str, Any]
    collections: dict[str, Any]

    def error(self, field: str, problem: str) -> ChangeError:
        location = f"changes[{self.index}]" + (f".{field}" if field else "")
        return ChangeError(self.source, location, problem)

    def collection(self, name: str, field: str = "collection") -> list[dict[str, Any]]:
        if name not in ALL_COLLECTIONS:
            raise self.error(field, f"unknown collection {name!r}")
        if name not in self.collections:
            if name in self.tenant.get("errors", {}):
                raise self.error(
                    field, f"collection {name!r} could not be read into the snapshot (see errors)"
                )
            raise self.error(field, f"collection {name!r} is not in the snapshot")
        objects = self.collections[name]
        if not isinstance(objects, list):
            raise self.error(field, f"collection {name!r} in the snapshot is not a list")
        return objects

    def find(self, collection: str, object_id: str, field: str = "id") -> dict[str, Any]:
        for candidate in self.collection(collection):
            if isinstance(candidate, dict) and candidate.get("id") == object_id:
                return candidate
        raise self.error(field, f"no object with id {object_id!r} in {collection!r}")


def _record(
    op: str,
    context: _ChangeContext,
    collection: str,
    target: Mapping[str, Any],
    modified: Sequence[ModifiedProperty],
) -> AppliedChange:
    display_name = target.get("displayName")
    odata_type = target.get("@odata.type")
    return AppliedChange(
        index=context.index,
        op=op,
        collection=collection,
        object_id=str(target.get("id")),
        display_name=display_name if isinstance(display_name, str) else None,
        odata_type=odata_type if isinstance(odata_type, str) else None,
        modified_properties=tuple(modified),
    )


def _path_segments(path: str | list[str | int]) -> list[str | int]:
    if isinstance(path, str):
        return [int(s) if s.isascii() and s.isdigit() else s for s in path.split(".")]
    return list(path)


def _apply_set(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    collection, object_id = change["collection"], change["id"]
    target = context.find(collection, object_id)
    segments = _path_segments(change["path"])
    if segments == ["id"]:
        raise context.error("path", "an object's id cannot be changed")
    container: Any = target
    for depth in range(len(segments) - 1):
        container = _step_into(container, segments[depth + 1], context, segments[: depth + 1])
    last = segments[-1]
    value = copy.deepcopy(change["value"])
    if isinstance(container, list):
        if not isinstance(last, int) or not 0 <= last < len(container):
            raise context.error("path", f"index {last!r} is outside a list of {len(container)}")
        old = container[last]
        container[last] = value
    elif isinstance(container, dict):
        old = container.get(str(last))
        container[str(last)] = value
    else:
        where = ".".join(str(s) for s in segments[:-1])
        raise context.error(
            "path", f"{where!r} is a {_type_name(container)}, not an object or list"
        )
    name = ".".join(str(s) for s in segments)
    return _record("set", context, collection, target, [ModifiedProperty(name, old, value)])


def _step_into(
    container: Any, following: str | int, context: _ChangeContext, walked: list[str | int]
) -> Any:
    """Descend one segment (the last of `walked`); `following` is the segment after it."""
    segment = walked[-1]
    where = ".".join(str(s) for s in walked)
    if isinstance(container, list):
        if not isinstance(segment, int) or not 0 <= segment < len(container):
            raise context.error("path", f"{where!r} is not an index of a list of {len(container)}")
        return container[segment]
    if isinstance(container, dict):
        key = str(segment)
        if container.get(key) is None:
            if isinstance(following, int):
                raise context.error("path", f"{where!r} is absent, so it has no index {following}")
            # Setting a nested property of an absent (or null) complex value creates it, as a
            # PATCH with a partial complex value does.
            container[key] = {}
        return container[key]
    raise context.error("path", f"{where!r} is a {_type_name(container)}, not an object or list")


def _require_assignments(context: _ChangeContext, collection: str) -> None:
    if "assignments" not in INLINED_NAVIGATIONS.get(collection, ()):
        raise context.error("collection", f"objects of {collection!r} have no assignments")


def _generated_assignment_id(object_id: str, assignment: Mapping[str, Any], taken: set[str]) -> str:
    # Shaped like Intune's own assignment ids ("<policy id>_<group id>"); deterministic, so that
    # applying the same document twice yields the same tenant.
    target = assignment.get("target", {})
    group_id = target.get("groupId") if isinstance(target, dict) else None
    target_type = str(target.get("@odata.type", "target")) if isinstance(target, dict) else "target"
    suffix = group_id if isinstance(group_id, str) else target_type.rsplit(".", 1)[-1]
    candidate = f"{object_id}_{suffix}"
    counter = 1
    while candidate in taken:
        counter += 1
        candidate = f"{object_id}_{suffix}_{counter}"
    return candidate


def _apply_add_assignment(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    collection, object_id = change["collection"], change["id"]
    _require_assignments(context, collection)
    target = context.find(collection, object_id)
    assignments = target.setdefault("assignments", [])
    if not isinstance(assignments, list):
        raise context.error("id", "the object's assignments are not a list")
    taken = {a.get("id") for a in assignments if isinstance(a, dict)}
    assignment = copy.deepcopy(change["assignment"])
    if "id" in assignment:
        if assignment["id"] in taken:
            raise context.error("assignment.id", f"assignment {assignment['id']!r} already exists")
    else:
        ids = {i for i in taken if isinstance(i, str)}
        assignment = {"id": _generated_assignment_id(object_id, assignment, ids), **assignment}
    assignments.append(assignment)
    modified = [ModifiedProperty("assignments", None, copy.deepcopy(assignment))]
    return _record("addAssignment", context, collection, target, modified)


def _target_matches(assignment: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    target = assignment.get("target")
    return isinstance(target, dict) and all(target.get(k) == v for k, v in wanted.items())


def _apply_remove_assignment(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    collection, object_id = change["collection"], change["id"]
    _require_assignments(context, collection)
    target = context.find(collection, object_id)
    assignments = target.get("assignments")
    if not isinstance(assignments, list):
        raise context.error("id", "the object's assignments were not read into the snapshot")
    if "assignmentId" in change:
        removed = [a for a in assignments if a.get("id") == change["assignmentId"]]
        field, what = "assignmentId", f"id {change['assignmentId']!r}"
    else:
        removed = [a for a in assignments if _target_matches(a, change["target"])]
        field, what = "target", f"target {json.dumps(change['target'], sort_keys=True)}"
    if not removed:
        raise context.error(field, f"no assignment with {what} on {object_id!r}")
    target["assignments"] = [a for a in assignments if not any(a is r for r in removed)]
    modified = [ModifiedProperty("assignments", r, None) for r in removed]
    return _record("removeAssignment", context, collection, target, modified)


def _generated_object_id(collection: str, new_object: Mapping[str, Any]) -> str:
    # A UUID (as Graph ids are) derived from the object, so re-applying a document is stable.
    canonical = json.dumps(new_object, sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"greenscreen:{collection}:{canonical}"))


def _apply_add(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    collection = change["collection"]
    objects = context.collection(collection)
    new_object = copy.deepcopy(change["object"])
    object_id = new_object.get("id") or _generated_object_id(collection, new_object)
    if any(isinstance(o, dict) and o.get("id") == object_id for o in objects):
        raise context.error("object.id", f"an object with id {object_id!r} already exists")
    new_object = {"id": object_id, **{k: v for k, v in new_object.items() if k != "id"}}
    for navigation in INLINED_NAVIGATIONS.get(collection, ()):
        if navigation in new_object:
            continue
        if navigation in _EMPTY_LIST_NAVIGATIONS:
            new_object[navigation] = []
        elif navigation in _EMPTY_SINGLE_NAVIGATIONS:
            new_object[navigation] = None
        elif navigation == "members" and not _is_dynamic(new_object):
            new_object[navigation] = []
    objects.append(new_object)
    modified = [
        ModifiedProperty(key, None, copy.deepcopy(value))
        for key, value in new_object.items()
        if key != "id"
    ]
    return _record("add", context, collection, new_object, modified)


def _apply_remove(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    collection, object_id = change["collection"], change["id"]
    target = context.find(collection, object_id)
    context.collections[collection] = [o for o in context.collection(collection) if o is not target]
    return _record("remove", context, collection, target, [])


def _is_dynamic(group: Mapping[str, Any]) -> bool:
    group_types = group.get("groupTypes")
    return isinstance(group_types, list) and _DYNAMIC_MEMBERSHIP in group_types


def _apply_set_group_rule(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    group = context.find(GROUPS, change["id"])
    if not _is_dynamic(group):
        # Graph refuses a membership rule on a group without DynamicMembership in groupTypes.
        raise context.error("id", f"group {change['id']!r} is not a dynamic group")
    modified = []
    for key in ("membershipRule", "membershipRuleProcessingState"):
        if key in change:
            modified.append(ModifiedProperty(key, group.get(key), change[key]))
            group[key] = change[key]
    return _record("setGroupRule", context, GROUPS, group, modified)


def _assigned_group_members(context: _ChangeContext, group_id: str) -> tuple[Any, list[Any]]:
    group = context.find(GROUPS, group_id)
    if _is_dynamic(group):
        raise context.error("id", f"group {group_id!r} is dynamic; its rule decides its members")
    members = group.setdefault("members", [])
    if not isinstance(members, list):
        raise context.error("id", f"group {group_id!r} has members that are not a list")
    return group, members


def _apply_add_group_member(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    group, members = _assigned_group_members(context, change["id"])
    member_id = change["memberId"]
    if any(isinstance(m, dict) and m.get("id") == member_id for m in members):
        raise context.error("memberId", f"{member_id!r} is already a member")
    member = {"@odata.type": change.get("memberType", DEFAULT_MEMBER_TYPE), "id": member_id}
    members.append(member)
    modified = [ModifiedProperty("members", None, dict(member))]
    return _record("addGroupMember", context, GROUPS, group, modified)


def _apply_remove_group_member(change: Mapping[str, Any], context: _ChangeContext) -> AppliedChange:
    group, members = _assigned_group_members(context, change["id"])
    member_id = change["memberId"]
    removed = [m for m in members if isinstance(m, dict) and m.get("id") == member_id]
    if not removed:
        raise context.error("memberId", f"{member_id!r} is not a member")
    group["members"] = [
        m for m in members if not (isinstance(m, dict) and m.get("id") == member_id)
    ]
    modified = [ModifiedProperty("members", dict(removed[0]), None)]
    return _record("removeGroupMember", context, GROUPS, group, modified)


_APPLIERS: Final[dict[str, Callable[[Mapping[str, Any], _ChangeContext], AppliedChange]]] = {
    "set": _apply_set,
    "addAssignment": _apply_add_assignment,
    "removeAssignment": _apply_remove_assignment,
    "add": _apply_add,
    "remove": _apply_remove,
    "setGroupRule": _apply_set_group_rule,
    "addGroupMember": _apply_add_group_member,
    "removeGroupMember": _apply_remove_group_member,
}

# The op names a change document may use, in the order docs/changes.md describes them.
CHANGE_OPS: Final[tuple[str, ...]] = tuple(_OPS)
