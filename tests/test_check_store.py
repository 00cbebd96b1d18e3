"""`greenscreen check --store` remembers verdicts; `greenscreen history` shows the transition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitors.cli import main as greenscreen
from monitors.snapshot_file import load_snapshot, write_snapshot
from monitors.tenant_changes import apply_changes
from tests.azurite import Azurite

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
PAUSE = REPO / "samples" / "what-if" / "pause-autopilot-all-devices.json"


def test_a_stored_breaking_change_shows_up_in_history(
    azurite: Azurite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    before = load_snapshot(SAMPLE)
    before["tenantId"] = "0c5e7a52-1111-4d2e-9d6b-5b1d2c3e4f50"  # a tenant no other test uses
    after = apply_changes(before, json.loads(PAUSE.read_text(encoding="utf-8"))).snapshot
    after["capturedAt"] = "2026-11-24T10:00:00Z"
    paths = [tmp_path / "before.json", tmp_path / "after.json"]
    write_snapshot(paths[0], before)
    write_snapshot(paths[1], after)
    for path in paths:
        status = greenscreen(
            [
                "check",
                "--snapshot",
                str(path),
                "--store",
                "--format",
                "json",
                "--out",
                str(tmp_path / "findings.json"),
            ]
        )
        assert status == 1  # the sample has deliberate problems
    err = capsys.readouterr().err
    assert "recorded: 0 transition(s)" in err  # the first evaluation is the baseline
    assert "recorded: 1 transition(s)" in err
    assert greenscreen(["history", "--tenant", before["tenantId"], "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    items = history["items"] if isinstance(history, dict) else history
    assert [(item["ruleId"], item["from"], item["to"]) for item in items] == [
        ("GRP-002", "pass", "fail")
    ]


def test_storage_that_cannot_be_reached_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "GREENSCREEN_STORAGE_CONNECTION",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    status = greenscreen(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--store",
            "--format",
            "json",
            "--out",
            str(tmp_path / "f.json"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("greenscreen: could not record the evaluation:")
    assert (tmp_path / "f.json").exists()  # the report stands
