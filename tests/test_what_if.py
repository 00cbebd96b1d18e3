"""What-if: a proposed change, evaluated before and after, compared verdict by verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitors.cli import main
from monitors.what_if import compare_evaluations
from rules.findings import Finding, Scope, Severity, Status, Subject

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
BREAKING = REPO / "samples" / "what-if" / "pause-autopilot-all-devices.json"
HARMLESS = REPO / "samples" / "what-if" / "rename-autopilot-profile.json"
MAIN_GROUP = "Autopilot - All devices"
SCOPE = Scope("prf-1", "Profile one")


def verdict(
    status: Status,
    severity: Severity = Severity.ERROR,
    *,
    rule_id: str = "TST-001",
    subject_id: str = "obj-1",
    scope: Scope | None = SCOPE,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        status=status,
        severity=severity,
        subject=Subject("group", subject_id, subject_id),
        message=status.value,
        scope=scope,
    )


# --- comparing verdicts ---------------------------------------------------------------------


def test_pass_to_fail_is_newly_failing_and_fail_to_pass_is_resolved() -> None:
    before = [verdict(Status.PASS), verdict(Status.FAIL, subject_id="obj-2")]
    after = [verdict(Status.FAIL), verdict(Status.PASS, subject_id="obj-2")]

    newly_failing, resolved, unchanged = compare_evaluations(before, after)

    assert [c.key for c in newly_failing] == [("TST-001", "obj-1", "prf-1")]
    assert [c.key for c in resolved] == [("TST-001", "obj-2", "prf-1")]
    assert unchanged == 0


def test_becoming_unknown_is_newly_failing_and_unknown_to_fail_too() -> None:
    before = [verdict(Status.PASS), verdict(Status.UNKNOWN, subject_id="obj-2")]
    after = [verdict(Status.UNKNOWN), verdict(Status.FAIL, subject_id="obj-2")]

    newly_failing, resolved, _ = compare_evaluations(before, after)

    assert {c.key[1] for c in newly_failing} == {"obj-1", "obj-2"}
    assert resolved == ()


def test_fail_to_unknown_stays_not_green_and_is_unchanged() -> None:
    newly_failing, resolved, unchanged = compare_evaluations(
        [verdict(Status.FAIL)], [verdict(Status.UNKNOWN)]
    )

    assert (newly_failing, resolved, unchanged) == ((), (), 1)


def test_failing_at_a_higher_severity_is_newly_failing() -> None:
    newly_failing, _, _ = compare_evaluations(
        [verdict(Status.FAIL, Severity.WARNING)], [verdict(Status.FAIL, Severity.BLOCKER)]
    )

    assert [c.after_label for c in newly_failing] == ["fail (blocker)"]


def test_verdicts_are_keyed_by_scope_profile_too() -> None:
    other = Scope("prf-2", "Profile two")
    before = [verdict(Status.PASS), verdict(Status.PASS, scope=other)]
    after = [verdict(Status.PASS), verdict(Status.FAIL, scope=other)]

    newly_failing, _, unchanged = compare_evaluations(before, after)

    assert [c.key[2] for c in newly_failing] == ["prf-2"]
    assert unchanged == 1


def test_a_new_failing_subject_is_newly_failing_and_a_vanished_one_resolved() -> None:
    newly_failing, resolved, _ = compare_evaluations(
        [verdict(Status.FAIL, subject_id="gone")], [verdict(Status.FAIL, subject_id="new")]
    )

    assert [(c.before, c.key[1]) for c in newly_failing] == [(None, "new")]
    assert [(c.after, c.key[1]) for c in resolved] == [(None, "gone")]


# --- the command ----------------------------------------------------------------------------


def test_pausing_the_main_autopilot_group_breaks_readiness(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["check", "--snapshot", str(SAMPLE), "--what-if", str(BREAKING), "--format", "json"]
    )

    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(result) == {"newlyFailing", "resolved", "unchanged"}
    broken = {(c["ruleId"], c["subject"]["displayName"]) for c in result["newlyFailing"]}
    assert ("GRP-002", MAIN_GROUP) in broken
    assert result["resolved"] == []
    assert result["unchanged"] > 0


def test_a_harmless_change_exits_0_with_nothing_newly_failing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["check", "--snapshot", str(SAMPLE), "--what-if", str(HARMLESS), "--format", "json"]
    )

    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["newlyFailing"] == []
    assert result["resolved"] == []


def test_breaking_change_below_the_threshold_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            "--snapshot",
            str(SAMPLE),
            "--what-if",
            str(BREAKING),
            "--fail-on",
            "blocker",
            "--format",
            "markdown",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "GRP-002" in out
    assert "safe" in out


def test_terminal_what_if_names_the_broken_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--snapshot", str(SAMPLE), "--what-if", str(BREAKING)])

    out = capsys.readouterr().out
    assert code == 1
    assert "GRP-002 pass -> fail (error)" in out
    assert MAIN_GROUP in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{", "is not JSON"),
        ('{"format": "greenscreen.tenant-changes/2", "changes": []}', "format"),
        (
            '{"format": "greenscreen.tenant-changes/1", "changes": '
            '[{"op": "setGroupRule", "id": "no-such-group", "membershipRuleProcessingState": '
            '"Paused"}]}',
            "no object with id 'no-such-group'",
        ),
    ],
)
def test_bad_change_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    change = tmp_path / "change.json"
    change.write_text(content, encoding="utf-8")

    code = main(["check", "--snapshot", str(SAMPLE), "--what-if", str(change)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("greenscreen: ")
    assert expected in captured.err
    assert captured.err.count("\n") == 1
