"""Intune backups as the backup tools write them: a real tenant and two authored exports.

`tests/real_exports/` holds one real IntuneCD export (a public, MIT-licensed backup) and two
exports written for these tests in the shapes of IntuneCD and IntuneManagement, reproducing what
real backups showed (sources in its README). Each is imported with `greenscreen import`, checked
with the whole catalog, and:

- every file of the export is loaded (nothing skipped silently);
- what the export does not contain is unreadable, and every UNKNOWN verdict depends on it;
- the real failures are exactly the ones named below, each with the reason it is right;
- the healthy variant (the export with only those settings repaired, as the patch file next to
  the export records) has no failure at all.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitors.cli import main as greenscreen
from monitors.intune_export import (
    ALWAYS_MISSING,
    INTUNECD_SOURCES,
    INTUNEMANAGEMENT_SOURCES,
    NOT_IN_EXPORT,
    ExportImportError,
    import_export,
)
from monitors.snapshot_file import load_snapshot
from rules.catalog import all_rules
from rules.checks.tenant_and_devices import (
    com_002_cloud_management_gateway_reachable,
    grp_002_dynamic_processing_on,
)
from rules.engine import evaluate_snapshot
from rules.findings import Finding, Status
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import ENROLLMENT_CONFIGURATIONS, GROUPS
from rules.tenant_objects import EnrollmentConfigurationKind
from tests.tenant_builder import AP_GROUP_ID, REMOVE, healthy_tenant, include_group
from tests.test_rules_tenant_and_devices import COMANAGEMENT_ID, comanagement

EXPORTS = Path(__file__).parent / "real_exports"
CD_AUTHORED = "intunecd-authored"
IM_AUTHORED = "intunemanagement-authored"
TENANTS = {
    CD_AUTHORED: "intunecd",
    "intunecd-ennnbeee-ces2026": "intunecd",
    IM_AUTHORED: "intunemanagement",
}

# Every FAIL the catalog reports on each export: (rule id, subject) -> why it is right. The
# authored IntuneCD export reproduces the shapes of a real backup that showed these three.
REAL_FAILURES: dict[str, dict[tuple[str, str], str]] = {
    CD_AUTHORED: {
        ("PRF-011", "imported:intunecd-authored"): (
            "the only profile allowing pre-provisioning (FAB_Hybrid_Legacy) has no "
            "assignment: no device of the tenant can be pre-provisioned"
        ),
        ("PRF-003", "FAB_Hybrid_Legacy"): (
            "a pre-provisioning profile of type activeDirectoryWindowsAutopilotDeploymentProfile: "
            "Microsoft recommends Entra join for new devices (warning)"
        ),
        ("ESP-007", "FAB_ESP_AllDevices"): (
            "the All devices ESP (priority 1) allows device use on installation failure, so a "
            "technician can get past a failed required app (warning)"
        ),
    },
    "intunecd-ennnbeee-ces2026": {
        ("PRF-011", "imported:intunecd-ennnbeee-ces2026"): (
            "the backup has the Windows enrollment profile folder (the ESP) but no Autopilot "
            "profile: nothing can be pre-provisioned"
        ),
    },
    # Groups are not in an IntuneManagement export: what depends on them is unknown, and what
    # the export holds (an Entra join pre-provisioning profile, ESPs, unassigned co-management
    # settings, a System script) passes.
    IM_AUTHORED: {},
}


def copy_export(name: str, destination: Path) -> Path:
    target = destination / name
    shutil.copytree(EXPORTS / name, target)
    return target


def healthy_variant(name: str, destination: Path) -> Path:
    """The export with the documented repairs of `<name>.healthy-patch.json` applied."""
    target = copy_export(name, destination)
    patch = json.loads((EXPORTS / f"{name}.healthy-patch.json").read_text(encoding="utf-8"))
    for change in patch["changes"]:
        assert change["why"], "every repair says why"
        path = target / change["file"]
        if "create" in change:
            assert not path.exists()
            path.write_text(json.dumps(change["create"]), encoding="utf-8")
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        assert set(change["set"]) <= set(document), "a repair changes existing settings only"
        document.update(change["set"])
        path.write_text(json.dumps(document), encoding="utf-8")
    return target


def findings_of(directory: Path, export_format: str) -> list[Finding]:
    snapshot = TenantSnapshot.from_document(import_export(directory, export_format))
    return list(evaluate_snapshot(snapshot).findings)


def failures(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.rule_id, f.subject.display_name) for f in findings if f.status is Status.FAIL}


def exported_files(name: str, collections: Collection[str]) -> Iterator[Path]:
    """The export's object files of the given collections."""
    sources = INTUNECD_SOURCES if TENANTS[name] == "intunecd" else INTUNEMANAGEMENT_SOURCES
    for source in sources:
        folder = EXPORTS / name / source.folder
        if source.collection not in collections:
            continue
        if folder.is_dir():
            found = folder.rglob("*.json") if source.recursive else folder.glob("*.json")
            yield from (path for path in found if path.is_file())


# -- the importer loads every real file --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TENANTS))
def test_every_file_of_the_real_export_becomes_one_object(name: str, tmp_path: Path) -> None:
    out = tmp_path / "snapshot.json"
    code = greenscreen(["import", "--from", TENANTS[name], str(EXPORTS / name), "--out", str(out)])
    assert code == 0
    snapshot = load_snapshot(out)  # valid against the schema
    objects = sum(len(items) for path, items in snapshot["collections"].items() if path != GROUPS)
    # Objects of a collection the export holds only in part (IntuneManagement without
    # co-management settings: enrollment configurations) are parsed but not kept.
    files = list(exported_files(name, snapshot["collections"]))
    assert files
    assert objects == len(files)
    names = {
        obj.get("displayName", obj.get("name"))
        for items in snapshot["collections"].values()
        for obj in items
    }
    for path in files:
        data = path.read_bytes()
        text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8")
        document = json.loads(text)
        assert document.get("displayName", document.get("name")) in names


def test_import_command_reports_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "blueprint.json"
    code = greenscreen(
        [
            "import",
            "--from",
            "intunecd",
            str(EXPORTS / CD_AUTHORED),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert err.startswith(f"wrote {out}: ")
    assert "not in the export" in err


@pytest.mark.parametrize("name", sorted(TENANTS))
def test_what_the_export_lacks_is_unreadable_never_assumed(name: str) -> None:
    snapshot = import_export(EXPORTS / name, TENANTS[name])
    for collection in ALWAYS_MISSING:
        assert collection not in snapshot["collections"]
        assert snapshot["errors"][collection]["code"] == NOT_IN_EXPORT
    # A folder that is not in the export is unreadable too, never an empty collection.
    sources = INTUNECD_SOURCES if TENANTS[name] == "intunecd" else INTUNEMANAGEMENT_SOURCES
    for source in sources:
        if not (EXPORTS / name / source.folder).is_dir():
            assert source.collection not in snapshot["collections"]
            assert source.collection in snapshot["errors"]


def test_intunecd_groups_come_from_the_assignments_and_assigned_members_are_unread(
    tmp_path: Path,
) -> None:
    snapshot = import_export(EXPORTS / CD_AUTHORED, "intunecd")
    groups = {g["displayName"]: g for g in snapshot["collections"][GROUPS]}
    assert set(groups) == {"FAB Sales Devices", "FAB Autopilot Devices"}
    static, dynamic = groups["FAB Sales Devices"], groups["FAB Autopilot Devices"]
    assert "members" not in static
    assert snapshot["errors"][f"{GROUPS}/{static['id']}/members"]["code"] == NOT_IN_EXPORT
    # A dynamic group keeps its rule, and IntuneCD does not read its processing state.
    assert dynamic["groupTypes"] == ["DynamicMembership"]
    assert dynamic["membershipRule"].startswith("(device.devicePhysicalIDs -any")
    assert "membershipRuleProcessingState" not in dynamic
    assert f"{GROUPS}/{dynamic['id']}/members" not in snapshot["errors"]
    profiles = snapshot["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    sales = next(p for p in profiles if p["displayName"] == "FAB_Entra_Sales")
    (target,) = [a["target"] for a in sales["assignments"]]
    assert target["groupId"] == static["id"]
    # The filter's name became the imported filter's id.
    (corporate,) = snapshot["collections"]["deviceManagement/assignmentFilters"]
    assert target["deviceAndAppManagementAssignmentFilterId"] == corporate["id"]
    # IntuneCD writes no `assignments` for an object that has none: it is unassigned.
    kiosk = next(p for p in profiles if p["displayName"] == "FAB_Entra_Kiosk")
    assert kiosk["assignments"] == []
    # Once the dynamic group's profile allows pre-provisioning, GRP-002 judges the group: its
    # processing state is not in the export, so it is unknown, never "on".
    findings = findings_of(healthy_variant(CD_AUTHORED, tmp_path), "intunecd")
    assert {f.status for f in findings if f.rule_id == "GRP-002"} == {Status.UNKNOWN}


def test_intunecd_dynamic_group_keeps_its_rule_and_a_backup_without_assignments_is_unread(
    tmp_path: Path,
) -> None:
    variant = healthy_variant("intunecd-ennnbeee-ces2026", tmp_path)
    snapshot = import_export(variant, "intunecd")
    (group,) = snapshot["collections"][GROUPS]
    assert group["groupTypes"] == ["DynamicMembership"]
    assert group["membershipRule"].startswith("(device.devicePhysicalIDs -any")
    assert not [key for key in snapshot["errors"] if key.startswith(f"{GROUPS}/")]
    # Backed up with assignments excluded: no object has them, so they are unknown, not none.
    stripped = copy_export(CD_AUTHORED, tmp_path / "stripped")
    for path in stripped.rglob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        document.pop("assignments", None)
        path.write_text(json.dumps(document), encoding="utf-8")
    blind = import_export(stripped, "intunecd")
    profiles = blind["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    assert all("assignments" not in p for p in profiles)
    assert all(
        f"deviceManagement/windowsAutopilotDeploymentProfiles/{p['id']}/assignments"
        in blind["errors"]
        for p in profiles
    )
    assert GROUPS in blind["errors"]


@pytest.mark.parametrize("name", [CD_AUTHORED, IM_AUTHORED])
def test_the_default_esp_is_recognised_in_both_exports(name: str) -> None:
    # Graph (and both backups) give the default ESP deviceEnrollmentConfigurationType
    # 'windows10EnrollmentCompletionPageConfiguration', like custom ones; only its id (ending
    # in the default configuration's type name) marks it. IntuneCD drops ids.
    snapshot = TenantSnapshot.from_document(import_export(EXPORTS / name, TENANTS[name]))
    configurations = snapshot.enrollment_configurations or ()
    assert configurations
    defaults = [c for c in configurations if c.kind is EnrollmentConfigurationKind.DEFAULT_ESP]
    assert [c.display_name for c in defaults] == ["All users and all devices"]
    assert all(
        c.kind is EnrollmentConfigurationKind.ESP
        for c in configurations
        if c.raw.get("@odata.type")
        == "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration"
        and c not in defaults
    )


# -- the check on real tenants -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TENANTS))
def test_real_failures_are_exactly_the_named_ones(name: str) -> None:
    assert failures(findings_of(EXPORTS / name, TENANTS[name])) == set(REAL_FAILURES[name])


@pytest.mark.parametrize("name", sorted(TENANTS))
def test_healthy_variant_has_no_failure(name: str, tmp_path: Path) -> None:
    findings = findings_of(healthy_variant(name, tmp_path), TENANTS[name])
    assert failures(findings) == set()
    assert findings  # the catalog ran


@pytest.mark.parametrize("healthy", [False, True])
@pytest.mark.parametrize("name", sorted(TENANTS))
def test_unknown_only_where_the_export_lacks_what_the_rule_reads(
    name: str, healthy: bool, tmp_path: Path
) -> None:
    directory = healthy_variant(name, tmp_path) if healthy else EXPORTS / name
    document = import_export(directory, TENANTS[name])
    unread = {_collection_of(key) for key in document["errors"]}
    if TENANTS[name] == "intunecd":
        # IntuneCD keeps only displayName, groupTypes and membershipRule of a group: its
        # security, mail and role flags and its processing state are not in the export.
        unread.add(GROUPS)
    reads = {rule.metadata.id: set(rule.metadata.graph_reads) for rule in all_rules()}
    snapshot = TenantSnapshot.from_document(document)
    for finding in evaluate_snapshot(snapshot).findings:
        if finding.status is Status.UNKNOWN:
            assert not finding.rule_error, finding
            assert reads[finding.rule_id] & unread, finding
            # An export lacks data; nothing refused it (no "delegated-only" wording).
            assert "delegated" not in finding.message, finding


def _collection_of(error_key: str) -> str:
    parts = error_key.split("/")
    for length in range(len(parts), 0, -1):
        candidate = "/".join(parts[:length])
        if candidate in _ALL:
            return candidate
    raise AssertionError(error_key)


_ALL = {source.collection for source in (*INTUNECD_SOURCES, *INTUNEMANAGEMENT_SOURCES)} | {
    GROUPS,
    *ALWAYS_MISSING,
}


# -- COM-002: unassigned co-management settings install nothing ----------------------------------


def _com_002(settings: dict[str, Any]) -> set[tuple[str, Status]]:
    tenant = healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, settings)
    evaluation = evaluate_snapshot(
        tenant.snapshot(), rules=[_rule(com_002_cloud_management_gateway_reachable)]
    )
    return {(f.subject.id, f.status) for f in evaluation.findings}


def _rule(module: Any) -> Any:
    from rules.engine import Rule

    return Rule.from_module(module)


def test_unassigned_comanagement_settings_are_not_judged_for_a_gateway() -> None:
    # The real case: CES2026's co-management settings keep Microsoft's placeholder command line
    # but are assigned to nobody, so they install the client nowhere.
    assigned = comanagement(include_group("grp-configmgr-clients"))
    assert _com_002(assigned) == {(COMANAGEMENT_ID, Status.FAIL)}
    assert _com_002(assigned | {"assignments": []}) == {(COMANAGEMENT_ID, Status.NOT_APPLICABLE)}
    tenant = healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, assigned)
    tenant.navigation_unreadable(ENROLLMENT_CONFIGURATIONS, COMANAGEMENT_ID, "assignments")
    evaluation = evaluate_snapshot(
        tenant.snapshot(), rules=[_rule(com_002_cloud_management_gateway_reachable)]
    )
    assert {(f.subject.id, f.status) for f in evaluation.findings} == {
        (COMANAGEMENT_ID, Status.UNKNOWN)
    }


# -- GRP-002: a group whose processing state was not read is not green ------------------------


def test_dynamic_group_without_a_processing_state_is_unknown_not_on() -> None:
    # The real case: IntuneCD reads groups with $select=displayName,id,groupTypes,membershipRule,
    # so an imported dynamic group has no membershipRuleProcessingState.
    def verdicts(state: Any) -> set[tuple[str, Status]]:
        tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRuleProcessingState=state)
        evaluation = evaluate_snapshot(
            tenant.snapshot(), rules=[_rule(grp_002_dynamic_processing_on)]
        )
        return {(f.subject.id, f.status) for f in evaluation.findings}

    assert verdicts("On") == {(AP_GROUP_ID, Status.PASS)}
    assert verdicts("Paused") == {(AP_GROUP_ID, Status.FAIL)}
    assert verdicts(REMOVE) == {(AP_GROUP_ID, Status.UNKNOWN)}
    assert verdicts(None) == {(AP_GROUP_ID, Status.UNKNOWN)}


# -- bad input: one line naming the file, exit 2 -----------------------------------------------


def _bad_export(tmp_path: Path, relative: str, content: bytes) -> Path:
    root = copy_export(CD_AUTHORED, tmp_path)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return root


@pytest.mark.parametrize(
    ("relative", "content", "expected"),
    [
        ("Enrollment Profiles/Windows/broken.json", b"[1, 2]", "is a JSON object, not an array"),
        ("Enrollment Profiles/Windows/broken.json", b'{"displayName": ', "not JSON"),
        ("Enrollment Profiles/Windows/broken.json", b'{"displayName": "x"}', "no '@odata.type'"),
        (
            "Enrollment Profiles/Windows/broken.json",
            b'{"@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"}',
            "without a 'displayName'",
        ),
        (
            "Enrollment Profiles/Windows/broken.json",
            b'{"@odata.type": "#microsoft.graph.x", "displayName": "x", "assignments": 3}',
            "'assignments' is not a list",
        ),
        ("Filters/broken.yaml", b"displayName: x\n", "YAML backups are not supported"),
        ("Filters/broken.json", b"\xff\xfe\x00\xd8", "not UTF-8 or UTF-16 text"),
    ],
)
def test_unknown_structures_are_one_line_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    relative: str,
    content: bytes,
    expected: str,
) -> None:
    root = _bad_export(tmp_path, relative, content)
    out = tmp_path / "out.json"
    code = greenscreen(["import", "--from", "intunecd", str(root), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert str(root / relative) in err
    assert expected in err
    assert not out.exists()


def test_a_folder_that_is_no_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportImportError, match="no intunemanagement export here"):
        import_export(EXPORTS / CD_AUTHORED, "intunemanagement")
    with pytest.raises(ExportImportError, match="not a directory"):
        import_export(tmp_path / "missing", "intunecd")


def test_a_hostile_file_name_cannot_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _bad_export(tmp_path, "Filters/\x1b[2Jwipe.json", b"[]")
    code = greenscreen(["import", "--from", "intunecd", str(root), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "\x1b" not in err
    assert "?[2Jwipe.json" in err


def test_an_intunemanagement_object_without_assignments_has_unknown_assignments(
    tmp_path: Path,
) -> None:
    export = copy_export(IM_AUTHORED, tmp_path)
    path = export / "DeviceConfiguration" / "FAB Windows custom settings.json"
    document = json.loads(path.read_bytes().decode("utf-16"))
    assert "assignments" in document
    del document["assignments"]
    path.write_bytes(json.dumps(document).encode("utf-16"))
    snapshot = import_export(export, "intunemanagement")
    key = f"deviceManagement/deviceConfigurations/{document['id']}/assignments"
    assert snapshot["errors"][key]["code"] == NOT_IN_EXPORT
    (obj,) = [
        o
        for o in snapshot["collections"]["deviceManagement/deviceConfigurations"]
        if o["id"] == document["id"]
    ]
    assert "assignments" not in obj


def test_an_intunecd_group_target_without_a_name_makes_the_groups_unknown(
    tmp_path: Path,
) -> None:
    # IntuneCD removes groupId and adds groupName only for groups it could read, so a target
    # without a name is a group that was deleted or not read: not known to be either.
    export = copy_export(CD_AUTHORED, tmp_path)
    profiles = export / "Enrollment Profiles" / "Windows"
    path = profiles / "FAB_Entra_Sales_azureADWindowsAutopilotDeploymentProfile.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for key in ("groupName", "groupType"):
        del document["assignments"][0]["target"][key]
    path.write_text(json.dumps(document), encoding="utf-8")
    snapshot = import_export(export, "intunecd")
    assert GROUPS not in snapshot["collections"]
    assert path.name in snapshot["errors"][GROUPS]["message"]
    findings = evaluate_snapshot(TenantSnapshot.from_document(snapshot)).findings
    assert not [f for f in findings if f.rule_id == "GRP-006" and f.status is Status.FAIL]


def test_intunemanagement_graph_objects_lose_their_annotations_and_a_missing_folder_is_unread(
    tmp_path: Path,
) -> None:
    snapshot = import_export(EXPORTS / IM_AUTHORED, "intunemanagement")
    text = json.dumps(snapshot["collections"])
    assert "@odata.context" not in text
    assert "#microsoft.graph.assign" not in text
    assert "assignments@odata" not in text
    (profile,) = snapshot["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]
    assert profile["preprovisioningAllowed"] is True
    assert profile["assignments"][0]["target"]["groupId"]
    # Without the co-management folder the enrollment configurations are incomplete: unread.
    export = copy_export(IM_AUTHORED, tmp_path)
    shutil.rmtree(export / "CoManagementSettings")
    partial = import_export(export, "intunemanagement")
    assert ENROLLMENT_CONFIGURATIONS not in partial["collections"]
    assert partial["errors"][ENROLLMENT_CONFIGURATIONS]["code"] == NOT_IN_EXPORT
