"""The `greenscreen check` process ends as soon as its report is out (`monitors.cli.run`).

It skips the interpreter's clean-up (`os._exit`) and never turns the cyclic collector back on,
so these tests hold what a normal exit would have guaranteed: the report file is whole, the
exit codes are the documented ones, a reader that stops reading gets no traceback, and an
error is still one line with exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitors.cli import main
from tests.tenant_builder import healthy_tenant

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "contoso-sample.json"
COMMAND = (sys.executable, "-m", "monitors.cli", "check")


def greenscreen_check(*argv: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command
        [*COMMAND, *argv], capture_output=True, text=True, cwd=REPO, check=False, **options
    )


def assert_one_line_error(stderr: str) -> None:
    assert stderr.startswith("greenscreen: ")
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr


@pytest.mark.parametrize("report_format", ["json", "html", "sarif"])
def test_the_report_file_is_whole_when_the_process_ends(
    report_format: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file written by the command's own process is byte for byte what `main` writes in
    a process that exits normally (this one)."""
    ended, returned = tmp_path / "ended", tmp_path / "returned"

    completed = greenscreen_check(
        "--snapshot", str(SAMPLE), "--format", report_format, "--out", str(ended)
    )
    code = main(
        ["check", "--snapshot", str(SAMPLE), "--format", report_format, "--out", str(returned)]
    )
    capsys.readouterr()

    assert (completed.returncode, code) == (1, 1)
    assert ended.read_bytes() == returned.read_bytes()
    assert completed.stderr.startswith(f"wrote {ended} ({report_format}, ")
    assert completed.stderr.count("\n") == 1
    assert completed.stdout == ""


def test_the_report_on_stdout_is_whole(capsys: pytest.CaptureFixture[str]) -> None:
    completed = greenscreen_check("--snapshot", str(SAMPLE), "--format", "json", "--all")
    main(["check", "--snapshot", str(SAMPLE), "--format", "json", "--all"])
    returned = capsys.readouterr().out

    assert completed.returncode == 1
    assert len(completed.stdout) > 100_000  # more than a pipe holds at once
    assert completed.stdout == returned
    assert completed.stderr == ""


def test_exit_codes_0_1_and_2(tmp_path: Path) -> None:
    healthy = tmp_path / "healthy.json"
    healthy.write_text(json.dumps(healthy_tenant().document()), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")

    ready = greenscreen_check("--snapshot", str(healthy))
    failing = greenscreen_check("--snapshot", str(SAMPLE))
    broken = greenscreen_check("--snapshot", str(bad))
    refused = greenscreen_check("--snapshot", str(SAMPLE), "--format", "json", "--devices")

    assert [ready.returncode, failing.returncode, broken.returncode, refused.returncode] == [
        0,
        1,
        2,
        2,
    ]
    assert "Greenscreen pre-provisioning readiness" in ready.stdout
    assert "Greenscreen pre-provisioning readiness" in failing.stdout
    for error in (broken, refused):
        assert error.stdout == ""
        assert_one_line_error(error.stderr)


def test_a_reader_that_stops_reading_gets_no_traceback() -> None:
    """`greenscreen check ... | head -c 100`: the rest is not written, the exit code is the
    verdict's and stderr says nothing."""
    with subprocess.Popen(  # noqa: S603 - our own command
        [*COMMAND, "--snapshot", str(SAMPLE), "--format", "json", "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        first = process.stdout.read(100)
        process.stdout.close()
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=120)

    assert first.startswith(b'{"format":"greenscreen.findings/2"')
    assert stderr == ""
    assert code == 1


def test_a_pipe_closed_before_the_first_byte_gets_no_traceback() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(  # noqa: S603 - our own command
            [*COMMAND, "--snapshot", str(SAMPLE)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            check=False,
        )
    finally:
        os.close(write_end)

    assert completed.stderr == ""
    assert completed.returncode == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_stdout_that_cannot_take_the_report_is_one_line_and_exit_2() -> None:
    with Path("/dev/full").open("w") as full:
        completed = subprocess.run(  # noqa: S603 - our own command
            [*COMMAND, "--snapshot", str(SAMPLE), "--format", "json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            check=False,
        )

    assert completed.returncode == 2
    assert_one_line_error(completed.stderr)
    assert "standard output" in completed.stderr
