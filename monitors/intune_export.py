"""Importing an Intune backup (IntuneCD or IntuneManagement) as a tenant snapshot.

A backup holds Intune's configuration objects, one file per object, in folders named by object
type. It does not hold everything a live read does: no Autopilot device registrations, no Entra
devices, no directory policies, and (IntuneManagement) no groups. Everything the backup does not
contain is recorded in the snapshot's `errors` (status 0, code `notInExport`), so the rules answer
UNKNOWN there, never PASS. A folder the backup tool writes only when the tenant has objects of
that type counts as "not in the export" when absent: the export cannot tell "none" from "not
backed up".

IntuneCD (github.com/almenscorner/IntuneCD) removes ids and replaces references by names:
assignment targets carry `groupName`, `groupType` and (dynamic groups) `membershipRule` instead
of `groupId`; filter ids become filter names; an ESP's `selectedMobileAppIds` become
`selectedMobileAppNames` (`name`, `type`). The importer gives every object a stable id derived
from its collection and name, and turns the references back into ids. The groups are the ones
assignments name: a dynamic group is complete (its rule), an assigned group's members are not in
the export (`errors["groups/<id>/members"]`).

IntuneManagement (github.com/Micke-K/IntuneManagement) writes Graph's own objects (ids kept,
UTF-16 with a byte order mark from Windows PowerShell); OData annotations and action links are
dropped as the Graph reader drops them. Its `MigrationTable.json` names groups but not their
kind or members, so `groups` is not in the export.

Any file that is not a JSON object of the expected shape is refused with one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from monitors.reports.safe_text import one_line
from monitors.snapshot_file import (
    SNAPSHOT_FORMAT,
    JsonInputError,
    SnapshotFileError,
    first_problem,
    parse_json,
    read_bounded,
    write_snapshot,
)
from rules import tenant_collections as tc
from rules.tenant_objects import DEFAULT_ESP_CONFIGURATION_TYPE

EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 2
FORMATS: Final = ("intunecd", "intunemanagement")
MAX_OBJECT_BYTES: Final = 32 * 1024 * 1024
NOT_IN_EXPORT: Final = tc.NOT_IN_EXPORT
# Ids the importer makes up for objects an export stores without one: stable across runs.
_ID_NAMESPACE: Final = uuid.UUID("3f6c2a8e-5d1b-4c0e-9a77-2b9e41d0c6a5")
_ESP_TYPE: Final = "#microsoft.graph.windows10enrollmentcompletionpageconfiguration"
_EMPTY_FILTER_ID: Final = "00000000-0000-0000-0000-000000000000"


class ExportImportError(Exception):
    """An export that cannot be imported; the message is one line naming the file."""


@dataclass(frozen=True)
class Source:
    """A folder of the export holding objects of one collection."""

    collection: str
    folder: str
    recursive: bool = False


# IntuneCD's folders (src/IntuneCD/backup/Intune/*.py, `self.path`).
INTUNECD_SOURCES: Final[tuple[Source, ...]] = (
    Source(tc.AUTOPILOT_PROFILES, "Enrollment Profiles/Windows"),
    Source(tc.ENROLLMENT_CONFIGURATIONS, "Enrollment Profiles/Windows/ESP"),
    Source(tc.ENROLLMENT_CONFIGURATIONS, "Enrollment Configurations"),
    Source(tc.DEVICE_CONFIGURATIONS, "Device Configurations"),
    Source(tc.SETTINGS_CATALOG_POLICIES, "Settings Catalog"),
    Source(tc.PLATFORM_SCRIPTS, "Scripts/Powershell"),
    Source(tc.COMPLIANCE_POLICIES, "Compliance Policies/Policies"),
    Source(tc.ASSIGNMENT_FILTERS, "Filters"),
    Source(tc.MOBILE_APPS, "Applications", recursive=True),
    Source(tc.CONDITIONAL_ACCESS_POLICIES, "Conditional Access"),
)
# IntuneManagement's object type folders (Extensions/EndpointManager.psm1, view item `Id`): the
# enrollment configurations come in three folders (ESPs, restrictions, co-management settings).
INTUNEMANAGEMENT_SOURCES: Final[tuple[Source, ...]] = (
    Source(tc.AUTOPILOT_PROFILES, "AutoPilot"),
    Source(tc.ENROLLMENT_CONFIGURATIONS, "EnrollmentStatusPage"),
    Source(tc.ENROLLMENT_CONFIGURATIONS, "EnrollmentRestrictions"),
    Source(tc.ENROLLMENT_CONFIGURATIONS, "CoManagementSettings"),
    Source(tc.DEVICE_CONFIGURATIONS, "DeviceConfiguration"),
    Source(tc.SETTINGS_CATALOG_POLICIES, "SettingsCatalog"),
    Source(tc.PLATFORM_SCRIPTS, "PowerShellScripts"),
    Source(tc.COMPLIANCE_POLICIES, "CompliancePolicies"),
    Source(tc.ASSIGNMENT_FILTERS, "AssignmentFilters"),
    Source(tc.MOBILE_APPS, "Applications"),
    Source(tc.CONDITIONAL_ACCESS_POLICIES, "ConditionalAccess"),
)
# Never in either export: device registrations and directory data.
ALWAYS_MISSING: Final = (
    tc.AUTOPILOT_DEVICES,
    tc.DEVICES,
    tc.MDM_POLICIES,
    tc.DEVICE_REGISTRATION_POLICY,
    tc.DOMAIN_JOIN_CONNECTORS,
)


def import_export(
    directory: Path | str, export_format: str, *, tenant_id: str | None = None
) -> dict[str, Any]:
    """The export under `directory` as a snapshot document; `ExportImportError` if unusable."""
    root = Path(directory)
    if not root.is_dir():
        raise ExportImportError(f"{root}: not a directory")
    if export_format not in FORMATS:
        raise ExportImportError(f"unknown export format {export_format!r}")
    sources = INTUNECD_SOURCES if export_format == "intunecd" else INTUNEMANAGEMENT_SOURCES
    present = [s for s in sources if (root / s.folder).is_dir()]
    if not present:
        folders = ", ".join(sorted({f"'{s.folder}'" for s in sources}))
        raise ExportImportError(f"{root}: no {export_format} export here (none of {folders})")
    raw: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for source in present:
        for path in _object_files(root / source.folder, source.recursive):
            raw.setdefault(source.collection, []).append((path, _read_object(path)))
    collections: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, dict[str, Any]] = {}
    for collection in tc.ALL_COLLECTIONS:
        needed = [s for s in sources if s.collection == collection]
        if needed and all(s in present for s in needed):
            collections[collection] = []
        else:
            errors[collection] = _not_in_export(export_format, collection)
    if export_format == "intunecd":
        _import_intunecd(root, raw, collections, errors)
    else:
        _import_intunemanagement(raw, collections, errors)
    for collection in ALWAYS_MISSING:
        collections.pop(collection, None)
        errors[collection] = _not_in_export(export_format, collection)
    snapshot = {
        "format": SNAPSHOT_FORMAT,
        "tenantId": tenant_id or f"imported:{root.resolve().name}",
        "capturedAt": _captured_at(root),
        "collections": {
            path: collections[path] for path in tc.ALL_COLLECTIONS if path in collections
        },
        "errors": errors,
    }
    problem = first_problem(snapshot)
    if problem is not None:
        raise ExportImportError(f"{root}: the export does not make a valid snapshot: {problem}")
    return snapshot


# -- reading files ----------------------------------------------------------------------------


def _object_files(folder: Path, recursive: bool) -> Iterator[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    for path in sorted(candidates):
        if not path.is_file() or path.name.startswith("."):
            continue
        suffix = path.suffix.casefold()
        if suffix == ".json":
            yield path
        elif suffix in (".yaml", ".yml"):
            raise ExportImportError(f"{path}: YAML backups are not supported (back up as JSON)")


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = read_bounded(path, MAX_OBJECT_BYTES)
    except JsonInputError as error:
        raise ExportImportError(f"{path}: {error}") from None
    except OSError as error:
        raise ExportImportError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        text = _decode(data)
    except UnicodeDecodeError as error:
        raise ExportImportError(f"{path}: not UTF-8 or UTF-16 text ({error.reason})") from None
    try:
        document = parse_json(text)
    except json.JSONDecodeError as error:
        raise ExportImportError(
            f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except JsonInputError as error:
        raise ExportImportError(f"{path}: not usable JSON ({error})") from None
    if not isinstance(document, dict):
        raise ExportImportError(
            f"{path}: an exported object is a JSON object, not {_kind(document)}"
        )
    return document


def _decode(data: bytes) -> str:
    # Windows PowerShell writes UTF-16 LE with a byte order mark; IntuneCD writes UTF-8.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8")


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else type(value).__name__


def _not_in_export(export_format: str, collection: str) -> dict[str, Any]:
    tool = "IntuneCD" if export_format == "intunecd" else "IntuneManagement"
    return {
        "status": 0,
        "code": NOT_IN_EXPORT,
        "message": f"not in the {tool} export ({collection})",
    }


def _captured_at(root: Path) -> str:
    # The newest file of the export: when it was written, as near as the export tells.
    newest = max((p.stat().st_mtime for p in root.rglob("*.json") if p.is_file()), default=0.0)
    moment = datetime.fromtimestamp(newest, UTC) if newest else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "\x00".join(parts)))


def _require_type(obj: Mapping[str, Any], path: Path, collection: str) -> None:
    odata_type = obj.get("@odata.type")
    if collection in (tc.ASSIGNMENT_FILTERS, tc.CONDITIONAL_ACCESS_POLICIES):
        return
    if collection == tc.SETTINGS_CATALOG_POLICIES and odata_type is None:
        return
    if not isinstance(odata_type, str) or not odata_type.startswith("#microsoft.graph."):
        raise ExportImportError(f"{path}: not an Intune object (no '@odata.type')")


def _name_of(obj: Mapping[str, Any], path: Path) -> str:
    name = obj.get("displayName", obj.get("name"))
    if not isinstance(name, str):
        raise ExportImportError(f"{path}: an exported object without a 'displayName' or 'name'")
    return name


def _assignments_of(obj: Mapping[str, Any], path: Path) -> list[dict[str, Any]] | None:
    assignments = obj.get("assignments")
    if assignments is None:
        return None
    if not isinstance(assignments, list) or not all(
        isinstance(a, dict) and isinstance(a.get("target"), dict) for a in assignments
    ):
        raise ExportImportError(f"{path}: 'assignments' is not a list of assignments with a target")
    return assignments


# -- IntuneCD ---------------------------------------------------------------------------------


def _import_intunecd(
    root: Path,
    raw: Mapping[str, list[tuple[Path, dict[str, Any]]]],
    collections: dict[str, list[dict[str, Any]]],
    errors: dict[str, dict[str, Any]],
) -> None:
    # IntuneCD writes `assignments` only for an object that has some, and none at all when
    # the backup was made with assignments excluded.
    assignments_exported = any("assignments" in obj for items in raw.values() for _, obj in items)
    filter_ids: dict[str, str] = {}
    for path, obj in raw.get(tc.ASSIGNMENT_FILTERS, []):
        filter_ids[_name_of(obj, path)] = _stable_id(tc.ASSIGNMENT_FILTERS, _name_of(obj, path))
    groups: dict[str, dict[str, Any]] = {}
    unnamed_groups: list[Path] = []
    for collection, items in raw.items():
        for path, original in items:
            _require_type(original, path, collection)
            obj = dict(original)
            name = _name_of(obj, path)
            if collection not in collections:
                _assignments_of(obj, path)  # still a well-formed file
                continue
            kind = str(obj.get("@odata.type", "")).casefold()
            if (
                collection == tc.ENROLLMENT_CONFIGURATIONS
                and kind == _ESP_TYPE
                and obj.get("priority") == 0
            ):
                # The default ESP: Graph's id ends in the default configuration's type name.
                default_id = _stable_id(collection, path.relative_to(root).as_posix())
                obj["id"] = f"{default_id}_{DEFAULT_ESP_CONFIGURATION_TYPE}"
            elif collection == tc.MOBILE_APPS:
                obj["id"] = _app_id({"name": name, "type": obj["@odata.type"]}, path)
            elif collection == tc.ASSIGNMENT_FILTERS:
                obj["id"] = filter_ids[name]
            else:
                # One file per object: its path names it (display names need not be unique).
                obj["id"] = _stable_id(collection, path.relative_to(root).as_posix())
            if "selectedMobileAppNames" in obj:
                obj["selectedMobileAppIds"] = [
                    _app_id(app, path) for app in obj.pop("selectedMobileAppNames")
                ]
            assignments = _assignments_of(obj, path)
            if assignments is not None:
                obj["assignments"] = [
                    _intunecd_assignment(a, path, filter_ids, groups, unnamed_groups)
                    for a in assignments
                ]
            elif (
                collection in tc.INLINED_NAVIGATIONS
                and "assignments" in (tc.INLINED_NAVIGATIONS[collection])
            ):
                if assignments_exported:
                    obj["assignments"] = []
                else:
                    errors[f"{collection}/{obj['id']}/assignments"] = _not_in_export(
                        "intunecd", "assignments"
                    )
            if collection == tc.MOBILE_APPS and "relationships" not in obj:
                errors[f"{collection}/{obj['id']}/relationships"] = _not_in_export(
                    "intunecd", "app relationships"
                )
            if collection == tc.SETTINGS_CATALOG_POLICIES and "settings" not in obj:
                errors[f"{collection}/{obj['id']}/settings"] = _not_in_export(
                    "intunecd", "settings"
                )
            collections[collection].append(obj)
    if unnamed_groups:
        # IntuneCD drops `groupId` and adds `groupName` only for groups it could read: the
        # export cannot tell a deleted group from one that was not read.
        errors[tc.GROUPS] = {
            **_not_in_export("intunecd", tc.GROUPS),
            "message": f"an assignment in {unnamed_groups[0].name} names no group",
        }
    elif assignments_exported:
        collections[tc.GROUPS] = list(groups.values())
        errors.pop(tc.GROUPS, None)
        for group in groups.values():
            if "members" not in group and "DynamicMembership" not in group["groupTypes"]:
                errors[f"{tc.GROUPS}/{group['id']}/members"] = _not_in_export(
                    "intunecd", "members of an assigned group"
                )


def _app_id(app: Any, path: Path) -> str:
    if not isinstance(app, dict) or not isinstance(app.get("name"), str):
        raise ExportImportError(f"{path}: an app reference without a 'name'")
    return _stable_id(tc.MOBILE_APPS, str(app.get("type", "")).casefold(), app["name"])


def _intunecd_assignment(
    assignment: Mapping[str, Any],
    path: Path,
    filter_ids: Mapping[str, str],
    groups: dict[str, dict[str, Any]],
    unnamed_groups: list[Path],
) -> dict[str, Any]:
    result = dict(assignment)
    target = dict(assignment["target"])
    odata_type = str(target.get("@odata.type", "")).casefold()
    group_target = odata_type in (
        "#microsoft.graph.groupassignmenttarget",
        "#microsoft.graph.exclusiongroupassignmenttarget",
    )
    if group_target and "groupName" not in target and "groupId" not in target:
        unnamed_groups.append(path)
    group_name = target.pop("groupName", None)
    group_type = target.pop("groupType", None)
    rule = target.pop("membershipRule", None)
    if group_name is not None:
        if not isinstance(group_name, str):
            raise ExportImportError(f"{path}: an assignment's 'groupName' is not text")
        group_id = _stable_id(tc.GROUPS, group_name)
        target["groupId"] = group_id
        group = groups.setdefault(
            group_id, {"id": group_id, "displayName": group_name, "groupTypes": []}
        )
        if group_type == "DynamicMembership":
            group["groupTypes"] = ["DynamicMembership"]
            group["membershipRule"] = rule
    filter_ref = target.get("deviceAndAppManagementAssignmentFilterId")
    if isinstance(filter_ref, str) and filter_ref and filter_ref != _EMPTY_FILTER_ID:
        # IntuneCD stores the filter's name; a name not among the filters stays as it is
        # (a reference to a filter that is not in the export).
        target["deviceAndAppManagementAssignmentFilterId"] = filter_ids.get(filter_ref, filter_ref)
    result["target"] = target
    return result


# -- IntuneManagement -------------------------------------------------------------------------


def _import_intunemanagement(
    raw: Mapping[str, list[tuple[Path, dict[str, Any]]]],
    collections: dict[str, list[dict[str, Any]]],
    errors: dict[str, dict[str, Any]],
) -> None:
    # IntuneManagement writes `assignments` on every object (`[]` when there are none) when it
    # exports them; an object without the key was exported without its assignments.
    for collection, items in raw.items():
        for path, original in items:
            _require_type(original, path, collection)
            obj = _without_annotations(original)
            if not isinstance(obj.get("id"), str):
                raise ExportImportError(f"{path}: an exported object without an 'id'")
            _name_of(obj, path)
            assignments = _assignments_of(obj, path)
            if assignments is None and "assignments" in tc.INLINED_NAVIGATIONS.get(collection, ()):
                errors[f"{collection}/{obj['id']}/assignments"] = _not_in_export(
                    "intunemanagement", "assignments"
                )
            if collection in collections:
                collections[collection].append(obj)


def _without_annotations(value: Any) -> Any:
    """Graph's object without OData control information and action links (`#microsoft…`)."""
    if isinstance(value, dict):
        return {
            key: _without_annotations(item)
            for key, item in value.items()
            if key == "@odata.type" or not (key.startswith(("@odata.", "#")) or "@odata." in key)
        }
    if isinstance(value, list):
        return [_without_annotations(item) for item in value]
    return value


# -- `greenscreen import` ---------------------------------------------------------------------


def add_import_command(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "import",
        help="turn an IntuneCD or IntuneManagement backup into a snapshot file",
        description=(
            "Read a backup folder written by IntuneCD or IntuneManagement and write a tenant "
            "snapshot. What the backup does not hold (Autopilot devices, Entra devices, "
            "directory policies, and groups for IntuneManagement) is recorded as unreadable, so "
            "`check` answers UNKNOWN there."
        ),
    )
    parser.add_argument("--from", dest="export_format", required=True, choices=FORMATS)
    parser.add_argument("directory", type=Path, metavar="DIR", help="the backup folder")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="snapshot to write")
    parser.add_argument("--tenant", metavar="ID", help="tenant id to record in the snapshot")
    parser.set_defaults(handler=_import_command)
    return parser


def _import_command(args: argparse.Namespace) -> int:
    out: Path = args.out
    try:
        if out.is_dir():
            raise ExportImportError(f"--out {out}: is a directory")
        snapshot = import_export(args.directory, args.export_format, tenant_id=args.tenant)
        write_snapshot(out, snapshot)
    except (ExportImportError, SnapshotFileError) as error:
        print(f"greenscreen: {one_line(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    counts = sum(len(items) for items in snapshot["collections"].values())
    print(
        f"wrote {out}: {counts} objects in {len(snapshot['collections'])} collections, "
        f"{len([k for k in snapshot['errors'] if k in tc.ALL_COLLECTIONS])} not in the export",
        file=sys.stderr,
    )
    return EXIT_OK
