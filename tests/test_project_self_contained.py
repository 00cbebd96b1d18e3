"""The repository stands on its own: nothing in it points at files outside it.

Whoever clones the project has only the repository, so docs, comments and code may cite public
URLs and the project's own files, never a sibling folder or a design note that is not in the tree.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Names of notes that live outside the repository, and paths that climb out of it.
OUTSIDE_REFERENCES = re.compile(
    r"\.\./shared|shared/docs|shared/graph-examples|ARCHITECTURE\.md|GRAPH-NOTES|"
    r"RULES-REFERENCE|ENGINEERING-NOTES|STYLE\.md"
)
TEXT_SUFFIXES = {
    ".py", ".md", ".json", ".toml", ".txt", ".yaml", ".yml", ".bicep", ".sh", ".ps1", ".cfg",
    ".ini", ".html", ".js", ".css",
}  # fmt: skip
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
THIS_FILE = Path(__file__).resolve()


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 - git from PATH, as make and CI run it
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8")
    files = [ROOT / name for name in listed.split("\0") if name]
    return [
        path
        for path in files
        if path.is_file()
        and (path.suffix in TEXT_SUFFIXES or path.name in {"Makefile", "run"})
        and path.resolve() != THIS_FILE
        and "package-lock" not in path.name
    ]


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    offenders = []
    for path in tracked_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_REFERENCES.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert offenders == []


@pytest.mark.parametrize(
    "markdown", sorted(path for path in tracked_text_files() if path.suffix == ".md"), ids=str
)
def test_relative_markdown_links_stay_inside_and_resolve(markdown: Path) -> None:
    broken = []
    for target in MARKDOWN_LINK.findall(markdown.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (https:, mailto:) or an anchor in the same page
        resolved = (markdown.parent / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == []
