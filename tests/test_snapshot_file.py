"""The snapshot file contract: what loads, and the one-line errors for what does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitors.cli import main
from monitors.snapshot_file import (
    SnapshotFileError,
    load_snapshot,
    snapshot_schema,
    write_snapshot,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"


def minimal_snapshot(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "greenscreen.tenant-snapshot/1",
        "tenantId": "8b1d1a5e-0000-4000-8000-000000000001",
        "capturedAt": "2026-11-24T10:00:00Z",
        "collections": {
            "groups": [
                {
                    "id": "g1",
                    "displayName": "Autopilot devices",
                    "groupTypes": ["DynamicMembership"],
                    "membershipRule": '(device.devicePhysicalIds -any (_ -startsWith "[ZTDId]"))',
                    "membershipRuleProcessingState": "On",
                }
            ],
            "deviceAppManagement/mobileApps": [
                {
                    "@odata.type": "#microsoft.graph.win32LobApp",
                    "id": "a1",
                    "displayName": "Company Portal",
                    "assignments": [
                        {
                            "id": "a1_g1",
                            "intent": "required",
                            "target": {
                                "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                                "groupId": "g1",
                            },
                        }
                    ],
                    "relationships": [],
                }
            ],
        },
        "errors": {"policies/mobileDeviceManagementPolicies": {"status": 403, "message": "denied"}},
    }
    document.update(overrides)
    return document


def write_json(tmp_path: Path, document: Any, name: str = "snapshot.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_valid_snapshot_loads_unchanged(tmp_path: Path) -> None:
    document = minimal_snapshot()
    assert load_snapshot(write_json(tmp_path, document)) == document


def test_bundled_sample_tenant_is_a_valid_snapshot() -> None:
    document = load_snapshot(SAMPLE)
    jsonschema.validate(document, snapshot_schema())
    assert document["collections"]["deviceManagement/windowsAutopilotDeploymentProfiles"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([1, 2], "$: a snapshot is a JSON object, not an array"),
        (
            minimal_snapshot(format="greenscreen.tenant-snapshot/2"),
            "$.format: expected 'greenscreen.tenant-snapshot/1', found "
            "'greenscreen.tenant-snapshot/2'",
        ),
        (
            minimal_snapshot(collections={"deviceManagement/unknownThings": []}),
            '$.collections["deviceManagement/unknownThings"]: unknown collection path '
            "'deviceManagement/unknownThings'",
        ),
        (
            minimal_snapshot(collections={"groups": [{"id": 7}]}),
            "$.collections.groups[0].id: expected string, found a number",
        ),
        (
            minimal_snapshot(collections={"groups": {"id": "g1"}}),
            "$.collections.groups: expected array, found an object",
        ),
        (
            minimal_snapshot(capturedAt="yesterday"),
            "$.capturedAt: not an ISO 8601 date-time with a time zone: 'yesterday'",
        ),
        (
            minimal_snapshot(errors={"groups/x/y/z": {"status": 403, "message": "m"}}),
            "$.errors[\"groups/x/y/z\"]: unknown error path 'groups/x/y/z'",
        ),
        (
            minimal_snapshot(
                collections={"groups": [{"id": "g1"}, {"id": "g1"}]},
            ),
            "$.collections[\"groups\"][1].id: duplicate id 'g1'",
        ),
        (
            minimal_snapshot(
                errors={"groups": {"status": 403, "message": "m"}},
            ),
            '$.errors["groups"]: a collection cannot be both read and unreadable',
        ),
    ],
)
def test_bad_snapshot_names_file_and_json_path(
    tmp_path: Path, document: Any, expected: str
) -> None:
    path = write_json(tmp_path, document)
    with pytest.raises(SnapshotFileError) as caught:
        load_snapshot(path)
    assert str(caught.value) == f"{path}: {expected}"
    assert "\n" not in str(caught.value)


def test_assignment_without_target_type_is_rejected(tmp_path: Path) -> None:
    document = minimal_snapshot()
    app = document["collections"]["deviceAppManagement/mobileApps"][0]
    app["assignments"][0]["target"] = {"groupId": "g1"}
    path = write_json(tmp_path, document)
    with pytest.raises(SnapshotFileError, match=r"assignments\[0\]\.target: '@odata.type'"):
        load_snapshot(path)


def test_not_json_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "greenscreen.tenant-snapshot/1",\n  "tenantId": }', "utf-8")
    with pytest.raises(SnapshotFileError, match=r"broken.json: not JSON \(.* line 2 column 15\)"):
        load_snapshot(path)


def test_missing_file_and_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(SnapshotFileError, match=r"nope\.json: no such file"):
        load_snapshot(tmp_path / "nope.json")
    with pytest.raises(SnapshotFileError, match="is a directory"):
        load_snapshot(tmp_path)


def test_binary_file_is_rejected_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "blob.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SnapshotFileError, match="not UTF-8"):
        load_snapshot(path)


def test_write_is_atomic_and_refuses_invalid_documents(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_snapshot(path, minimal_snapshot())
    before = path.read_bytes()
    with pytest.raises(SnapshotFileError, match="refusing to write an invalid snapshot"):
        write_snapshot(path, minimal_snapshot(format="nope"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_cli_summary_exits_2_with_one_line_for_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path, minimal_snapshot(collections={"nope": []}))
    assert main(["summary", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f'greenscreen: {path}: $.collections["nope"]')


def test_cli_summary_reports_counts_and_unreadable_collections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json(tmp_path, minimal_snapshot())
    assert main(["summary", str(path), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"] == {"deviceAppManagement/mobileApps": 1, "groups": 1}
    assert summary["errors"]["policies/mobileDeviceManagementPolicies"]["status"] == 403


def test_cli_usage_error_is_one_line_exit_2() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "monitors.cli", "export"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "--out" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_cli_schema_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == snapshot_schema()
