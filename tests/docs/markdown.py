"""Reading the documentation's markdown as data: sections, table rows, code blocks.

The docs tests check docs/reference.md and docs/tutorial.md against the code;
they find what a page says through these few functions, not through ad-hoc regexes.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The text under `heading` (e.g. "### Functions") up to the next heading of
    the same or a higher level; an AssertionError if the page has no such heading.
    A `#` line inside a fenced code block (a shell prompt) is not a heading."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines(keepends=True)
    start = next((i + 1 for i, line in enumerate(lines) if line.rstrip() == heading), None)
    assert start is not None, f"no section {heading!r}"
    fenced = False
    for end in range(start, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in `text`, as lists of cells
    (`\\|` inside a cell is a literal bar); header and rule rows are left out."""
    rows = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|") or re.match(r"^\|[-| ]+\|$", line):
            continue
        if i + 1 < len(lines) and re.match(r"^\|[-| ]+\|$", lines[i + 1]):
            continue  # a header row
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def code_spans(cell: str) -> list[str]:
    """The `code` spans of a table cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


def code_blocks(text: str, info: str | None = None) -> list[str]:
    """The fenced code blocks of `text` (only those with info string `info`, if
    given), without their fences."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```\s*$", text, re.M | re.S)
    return [body for kind, body in blocks if info is None or kind == info]
