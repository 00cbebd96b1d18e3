"""Graph's type hierarchy, as far as audit records need it: which snapshot collection a type is in.

Intune audit records name an object by its *derived* type (`auditResourceType` is
`Windows10CustomConfiguration`, `DeviceEnrollmentLimitConfiguration`, `Win32LobApp`), so a map of
base names misses most changes. The map is generated from Microsoft's published models (the
`msgraph-beta-sdk` package, a development dependency) and committed as `type_hierarchy.json`;
the runtime reads only that file and never imports the SDK.

    python -m monitors.graph.type_hierarchy --write    # regenerate after upgrading the SDK
    python -m monitors.graph.type_hierarchy --check    # exit 1 if the committed file is stale

The file holds, per snapshot collection, the names of its entity type and every type derived
from it (`objects`), the types of its inlined navigations (`navigations`: an assignment, a
settings catalog setting, an app relationship), and the names of every other entity type of the
`microsoft.graph` namespace (`other`): a known type that is none of ours (a managed device, a
role assignment) changes nothing the rules read. A name in none of them is *unknown*: a type
Microsoft added after this file was generated, or a name the audit log spells its own way.
All names are lower-case (Graph compares type names case-insensitively; audit records capitalise
them).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from rules import tenant_collections as tc

DATA_FILE: Final = Path(__file__).with_name("type_hierarchy.json")
SDK_PACKAGE: Final = "msgraph_beta.generated.models"
SDK_DISTRIBUTION: Final = "msgraph-beta-sdk"
NAMESPACE: Final = "#microsoft.graph."

# The Intune collections an audit record can name (their paths are the snapshot contract).
INTUNE_COLLECTIONS: Final[tuple[str, ...]] = tuple(
    path
    for path in tc.ALL_COLLECTIONS
    if path.startswith(("deviceManagement/", "deviceAppManagement/"))
)

Kind = Literal["object", "navigation", "other", "unknown"]


@dataclass(frozen=True, slots=True)
class TypeMatch:
    kind: Kind
    collection: str | None = None


@dataclass(frozen=True)
class TypeHierarchy:
    objects: Mapping[str, str]  # type name -> collection holding such objects
    navigations: Mapping[str, str]  # type name -> collection whose objects inline it
    other: frozenset[str]
    generated_from: str

    def lookup(self, type_name: str) -> TypeMatch:
        key = type_name.strip().removeprefix("#").removeprefix("microsoft.graph.").lower()
        if key in self.objects:
            return TypeMatch("object", self.objects[key])
        if key in self.navigations:
            return TypeMatch("navigation", self.navigations[key])
        if key in self.other:
            return TypeMatch("other")
        return TypeMatch("unknown")


@functools.cache
def load() -> TypeHierarchy:
    """The committed hierarchy (read once per process)."""
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    objects = {
        name: collection for collection, names in document["objects"].items() for name in names
    }
    navigations = {
        name: collection for collection, names in document["navigations"].items() for name in names
    }
    return TypeHierarchy(
        objects, navigations, frozenset(document["other"]), str(document["generatedFrom"])
    )


# -- generation (development only: imports the SDK) --------------------------------------------

_ELEMENT: Final = re.compile(r"(?:list|Optional)\[(\w+)\]")


def generate() -> dict[str, Any]:
    """The hierarchy document, from the installed SDK's models."""
    import dataclasses
    import importlib
    import importlib.metadata

    package = importlib.import_module(SDK_PACKAGE)
    classes: dict[str, type] = {}  # Python class name -> class, namespace microsoft.graph only
    odata_names: dict[type, str] = {}
    root = Path(next(iter(package.__path__)))
    # Sub-packages hold other namespaces (`microsoft.graph.deviceManagement.*`), except each
    # one's name-sake module: `device_management/device_management.py` is the
    # `microsoft.graph.deviceManagement` type. They are namespace packages: walk the files.
    sources = [*root.glob("*.py"), *(d / f"{d.name}.py" for d in root.iterdir() if d.is_dir())]
    for source in sorted(s for s in sources if s.is_file()):
        parts = list(source.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            continue
        module = importlib.import_module(".".join((SDK_PACKAGE, *parts)))
        for value in vars(module).values():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            if _in_graph_namespace(value, parts):
                classes[value.__name__] = value
                odata_names[value] = value.__name__
    entity = classes["Entity"]

    def subtypes(base: type) -> list[str]:
        return sorted({odata_names[c].lower() for c in odata_names if base in c.__mro__})

    def element_type(owner: type, navigation: str) -> type:
        fields = {f.name: f.type for f in dataclasses.fields(owner)}
        annotation = str(fields[_snake_case(navigation)])
        match = _ELEMENT.search(annotation)
        if match is None:
            raise LookupError(f"{owner.__name__}.{navigation}: unexpected type {annotation}")
        return classes[match.group(1)]

    objects: dict[str, list[str]] = {}
    navigations: dict[str, list[str]] = {}
    for path in INTUNE_COLLECTIONS:
        owner, collection = path.split("/")
        base = element_type(classes[owner[:1].upper() + owner[1:]], collection)
        objects[path] = subtypes(base)
        nav_names: set[str] = set()
        for navigation in tc.INLINED_NAVIGATIONS.get(path, ()):
            target = element_type(base, navigation)
            if entity in target.__mro__:
                nav_names.update(subtypes(target))
        navigations[path] = sorted(nav_names)
    # A navigation to another collection's objects (an Autopilot device's deployment profile)
    # is that collection's object.
    owned = {n for names in objects.values() for n in names}
    navigations = {
        path: [n for n in names if n not in owned] for path, names in navigations.items()
    }
    ours = owned | {n for names in navigations.values() for n in names}
    other = sorted({n.lower() for c, n in odata_names.items() if entity in c.__mro__} - ours)
    version = importlib.metadata.version(SDK_DISTRIBUTION)
    return {
        "generatedFrom": f"{SDK_DISTRIBUTION} {version} ({SDK_PACKAGE})",
        "objects": objects,
        "navigations": navigations,
        "other": other,
    }


def render(document: Mapping[str, Any]) -> str:
    """The committed text: one collection per line, stable, diff-friendly."""
    lines = ["{", f'  "generatedFrom": {json.dumps(document["generatedFrom"])},']
    for section in ("objects", "navigations"):
        lines.append(f'  "{section}": {{')
        entries = list(document[section].items())
        for index, (collection, names) in enumerate(entries):
            comma = "," if index < len(entries) - 1 else ""
            lines.append(f"    {json.dumps(collection)}: {_names(names)}{comma}")
        lines.append("  },")
    lines.append(f'  "other": {_names(document["other"])}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _names(names: Iterable[str]) -> str:
    return json.dumps(list(names), separators=(",", ":"))


def _in_graph_namespace(cls: type, module_parts: list[str]) -> bool:
    """Whether a model class is a type of the `microsoft.graph` namespace.

    Models of other namespaces (`microsoft.graph.deviceManagement.*`, `...callRecords.*`) sit in
    sub-packages; a sub-package's own name-sake module holds the `microsoft.graph` type of that
    name (`device_management/device_management.py` is `microsoft.graph.deviceManagement`).
    Abstract types carry no `odata_type` default; their name is the class name.
    """
    if not hasattr(cls, "get_field_deserializers"):
        return False
    default = getattr(cls, "odata_type", None)
    if isinstance(default, str) and default:
        name = default.removeprefix(NAMESPACE)
        return (
            default.startswith(NAMESPACE)
            and "." not in name
            and name.lower() == cls.__name__.lower()
        )
    return len(module_parts) == 1 or module_parts[-1] == module_parts[-2]


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitors.graph.type_hierarchy")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"regenerate {DATA_FILE.name}")
    action.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    try:
        text = render(generate())
    except ImportError:
        print(f"error: {SDK_DISTRIBUTION} is not installed (a development dependency)")
        return 2
    if args.write:
        DATA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {DATA_FILE.name}")
        return 0
    current = DATA_FILE.read_text(encoding="utf-8") if DATA_FILE.exists() else ""
    if current != text:
        print(f"{DATA_FILE.name} is stale: run python -m monitors.graph.type_hierarchy --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
