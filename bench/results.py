"""Where benchmark results go: a marked section of a Markdown page, rewritten by each run."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, begin: str, end: str, block: str, heading: str = "") -> None:
    """Replace what lies between the markers (append markers, under `heading`, if missing).

    `block` may carry the markers itself; they are not doubled.
    """
    block = block.strip("\n").removeprefix(begin).removesuffix(end).strip("\n")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = f"{begin}\n{block}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + heading + section + "\n"
    path.write_text(text, encoding="utf-8")
