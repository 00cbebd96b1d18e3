"""`greenscreen history` over a store in Azurite: filters, formats, exit codes."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest

from monitors.history_command import add_history_command
from monitors.store.verdict_store import VerdictStore
from rules.findings import Status
from tests.conftest import Azurite, evaluation, finding, run_info


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="greenscreen")
    add_history_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def recorded(
    azurite: Azurite, store: VerdictStore, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", azurite.table_connection)
    for at, status in (
        ("2026-11-20T10:00:00Z", Status.PASS),
        ("2026-11-21T10:00:00Z", Status.FAIL),
    ):
        findings = [finding("=cmd|' /C calc'!A0", status), finding("app-2", Status.PASS)]
        store.record_evaluation(tenant_id, evaluation(tenant_id, at, findings), run_info())
    return tenant_id


def test_history_as_json_lists_the_transitions(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", "--tenant", recorded, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(i["from"], i["to"]) for i in document["items"]] == [("pass", "fail")]


def test_history_as_csv_cannot_smuggle_a_spreadsheet_formula(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", "--tenant", recorded, "--format", "csv", "--status", "fail"]) == 0
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["subject"].startswith("'=")
    assert (row["from"], row["to"], row["rule"]) == ("pass", "fail", "PRF-001")


def test_history_table_says_when_nothing_matches(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", "--tenant", recorded, "--rule", "APP-001"]) == 0
    assert "nothing recorded" in capsys.readouterr().out


def test_history_table_shows_one_line_per_transition(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", "--tenant", recorded]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["AT", "RULE", "PROFILE"]
    assert len(lines) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "x' or ''='"],
        ["--tenant", "contoso.com", "--status", "broken"],
        ["--tenant", "contoso.com", "--since", "last week"],
        ["--tenant", "contoso.com", "--page-size", "100000"],
        ["--tenant", "contoso.com", "--actor", "someone"],
        ["--tenant", "contoso.com", "--changes", "--rule", "PRF-001"],
        ["--tenant", "contoso.com", "--continuation", "not a token"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    recorded: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", *argv]) == 2
    error = capsys.readouterr().err
    assert error.startswith("greenscreen: ")
    assert error.count("\n") == 1


def test_changes_listing_filters_by_actor(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["history", "--tenant", recorded, "--changes", "--actor", "nobody@x.com"]) == 0
    assert "nothing recorded" in capsys.readouterr().out


def test_unreachable_storage_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    monkeypatch.setenv("GREENSCREEN_STORAGE_CONNECTION", closed)
    assert run(["history", "--tenant", "contoso.com"]) == 1
    assert "storage is unreachable" in capsys.readouterr().err
