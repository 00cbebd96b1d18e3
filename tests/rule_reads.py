"""Which Graph properties the rules read, checked against Microsoft's published models.

Two nets, because a property read only on a branch the test tenants never take would slip
through either one alone:

- **dynamic**: the snapshot's objects are wrapped in `RecordingMapping`s that know the Graph model
  of the object they hold (`@odata.type` resolved through the model's discriminator, nested
  objects through the model's field types). Parsing and evaluating every rule then records each
  property read on each model (`get`, `[]`, `in`).
- **static**: every string literal the rule code passes to the JSON accessors of
  `rules/graph_json.py` (`optional_str(obj, "name")`...), to `.raw.get(...)` / `.raw[...]`
  (module constants passed by name included), to any other `.get("name")` or reads as
  `x["name"]` must be a wire property of some model the snapshot holds (`NOT_GRAPH_NAMES` lists
  the rule code's own dict keys).

A read passes when the property is on the object's model, or on another model the same
collection can hold (`collection_family`): shared readers probe polymorphic objects (every
compliance policy is asked for `bitLockerEnabled`, only Windows policies have it; one assignment
parser asks every assignment for `intent`, only app assignments have it; the settings catalog walk
asks every node whether it has a `settingDefinitionId`). A name on no model of the collection is
a misspelling, or a property Graph does not have.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import rules.assignments
import rules.tenant_objects
from rules.graph_json import freeze_json
from tests.graph_models import (
    COLLECTION_MODELS,
    GRAPH_EXTRA_PROPERTIES,
    ODATA_TYPE,
    UnknownType,
    assignment_models,
    collection_family,
    fields_of,
    model_of,
)

RULES_ROOT: Final = Path(__file__).resolve().parents[1] / "rules"

# Accessors of rules/graph_json.py whose second argument is a property name.
ACCESSORS: Final = frozenset(
    {
        "optional_str",
        "text_or_empty",
        "optional_bool",
        "optional_int",
        "optional_mapping",
        "string_tuple",
        "optional_datetime",
    }
)


@dataclass
class ReadLog:
    # (collection, model, property) -> one place it was read
    reads: dict[tuple[str, type[Any], str], str] = field(default_factory=dict)

    def record(self, collection: str, model: type[Any], key: str, where: str) -> None:
        self.reads.setdefault((collection, model, key), where)

    def misreads(self) -> list[str]:
        """Reads of a property on no model the collection can hold."""
        problems = []
        for (collection, model, key), where in sorted(
            self.reads.items(), key=lambda item: (item[1], item[0][2])
        ):
            if key == ODATA_TYPE or key in fields_of(model):
                continue
            if (model.__name__, key) in GRAPH_EXTRA_PROPERTIES:
                continue
            family = collection_family(collection)
            if model in assignment_models():
                family = family | assignment_models()
            if any(key in fields_of(other) for other in family):
                continue
            problems.append(
                f"{where}: a rule reads '{key}', which {model.__name__} does not have, nor any "
                f"other type {collection} holds"
            )
        return problems

    def read_names(self) -> frozenset[str]:
        return frozenset(key for _, _, key in self.reads)


class RecordingMapping(Mapping[str, Any]):
    """A read-only Graph object that records which properties are read, like `freeze_json`."""

    __slots__ = ("_collection", "_data", "_log", "_model", "_where")

    def __init__(
        self,
        data: Mapping[str, Any],
        declared: type[Any],
        log: ReadLog,
        where: str,
        collection: str,
    ) -> None:
        self._data = data
        self._collection = collection
        self._log = log
        self._where = where
        try:
            self._model = model_of(declared, data)
        except UnknownType:
            self._model = declared  # the conformance check reports the type itself

    def _wrap(self, key: str, value: Any) -> Any:
        spec = fields_of(self._model).get(key)
        where = f"{self._where}.{key}"
        if spec is not None and spec.kind == "object" and isinstance(value, Mapping):
            return RecordingMapping(value, spec.target, self._log, where, self._collection)
        if spec is not None and spec.kind == "objects" and isinstance(value, list | tuple):
            return tuple(
                RecordingMapping(item, spec.target, self._log, f"{where}[]", self._collection)
                if isinstance(item, Mapping)
                else freeze_json(item)
                for item in value
            )
        return _original_freeze_json(value)

    def __getitem__(self, key: str) -> Any:
        self._log.record(self._collection, self._model, key, self._where)
        return self._wrap(key, self._data[key])

    def get(self, key: str, default: Any = None) -> Any:
        self._log.record(self._collection, self._model, key, self._where)
        if key not in self._data:
            return default
        return self._wrap(key, self._data[key])

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self._log.record(self._collection, self._model, key, self._where)
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> Any:  # iterating is not reading a named property
        return [(key, self._wrap(key, value)) for key, value in self._data.items()]

    def values(self) -> Any:
        return [self._wrap(key, value) for key, value in self._data.items()]


_original_freeze_json = freeze_json


def _freeze_keeping_records(value: Any) -> Any:
    if isinstance(value, RecordingMapping):
        return value
    return _original_freeze_json(value)


@contextlib.contextmanager
def recording_freeze() -> Iterator[None]:
    """The parsers keep `RecordingMapping`s as the objects' `raw` instead of copying them."""
    patched = (rules.tenant_objects, rules.assignments)
    for module in patched:
        module.freeze_json = _freeze_keeping_records  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.freeze_json = _original_freeze_json  # type: ignore[attr-defined]


def instrumented_document(document: Mapping[str, Any], log: ReadLog) -> dict[str, Any]:
    """The snapshot document with every collection object wrapped for recording."""
    collections = {
        path: [
            RecordingMapping(obj, COLLECTION_MODELS[path], log, path, path)
            if isinstance(obj, Mapping)
            else obj
            for obj in objects
        ]
        for path, objects in document["collections"].items()
    }
    return {**document, "collections": collections}


# --- static ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiteralRead:
    name: str
    where: str  # file:line


def _module_constants(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    constants: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        strings = _strings(value)
        if strings is None:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                constants[target.id] = strings
    return constants


def _strings(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and all(
        isinstance(item, ast.Constant) and isinstance(item.value, str) for item in node.elts
    ):
        return tuple(item.value for item in node.elts)  # type: ignore[attr-defined]
    return None


# Keys the rule code reads from its own dicts, not from Graph objects.
NOT_GRAPH_NAMES: Final = {
    "devicephysicalids": "a membership-rule fact name (rules/membership_prediction.py)",
}


def _is_raw(node: ast.expr) -> bool:
    """`x.raw` or a name `raw`: an object's Graph JSON."""
    return (isinstance(node, ast.Attribute) and node.attr == "raw") or (
        isinstance(node, ast.Name) and node.id == "raw"
    )


def literal_reads(source: str, filename: str) -> list[LiteralRead]:
    tree = ast.parse(source, filename)
    constants = _module_constants(tree)
    found: list[LiteralRead] = []

    def add(node: ast.expr, at: ast.AST) -> None:
        where = f"{filename}:{getattr(at, 'lineno', 0)}"
        strings = _strings(node)
        if strings is None and isinstance(node, ast.Name):
            strings = constants.get(node.id)
        for name in strings or ():
            found.append(LiteralRead(name, where))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.id if isinstance(function, ast.Name) else None
            if name in ACCESSORS and len(node.args) >= 2:
                add(node.args[1], node)
            elif (
                isinstance(function, ast.Attribute)
                and function.attr == "get"
                and _is_raw(function.value)
                and node.args
            ):
                add(node.args[0], node)
            elif (
                isinstance(function, ast.Attribute)
                and function.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                # Any other `.get("name")`: nested Graph objects (`setting.get("value")`).
                add(node.args[0], node)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and (_is_raw(node.value) or isinstance(node.slice, ast.Constant))
        ):
            add(node.slice, node)
    return [read for read in found if read.name not in NOT_GRAPH_NAMES]


# Reads of the snapshot document itself (its envelope and `errors`), not of Graph objects.
NOT_GRAPH_READERS: Final = frozenset({"snapshot_model.py"})


def rule_sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(RULES_ROOT.rglob("*.py")):
        if path.name not in NOT_GRAPH_READERS:
            yield path, path.read_text(encoding="utf-8")


def all_wire_names() -> frozenset[str]:
    """Every wire property of every model a snapshot can hold."""
    names: set[str] = {key for _, key in GRAPH_EXTRA_PROPERTIES}
    for path in COLLECTION_MODELS:
        for model in collection_family(path):
            names.update(fields_of(model))
    return frozenset(names)


def unknown_literal_reads(reads: list[LiteralRead], wire_names: frozenset[str]) -> list[str]:
    return [
        f"{read.where}: '{read.name}' is a property of no Graph model a snapshot holds"
        for read in reads
        if read.name not in wire_names
    ]
