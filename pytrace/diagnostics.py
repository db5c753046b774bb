"""Errors and warnings as values with a source span, and their bpftrace-shaped text.

Every stage raises `PytraceError` (or collects `Diagnostic`s); only the CLI turns
them into text, so library users get structured errors and the CLI never shows a
Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytrace.kernel.errors import PytraceError, render_diagnostic  # noqa: F401 - re-exported
from pytrace.types import Frozen, value_type


@value_type
class Span(Frozen):
    """A region of the source: 1-based lines and columns, end column exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def merge(self, other: "Span | None") -> "Span":
        if other is None:
            return self
        start = min((self.line, self.col), (other.line, other.col))
        end = max((self.end_line, self.end_col), (other.end_line, other.end_col))
        return Span(start[0], start[1], end[0], end[1])


@dataclass
class Source:
    """The program text and the name errors call it by (`stdin` for -e)."""

    text: str
    name: str = "stdin"

    def line_text(self, lineno: int) -> str:
        lines = self.text.split("\n")
        if 1 <= lineno <= len(lines):
            return lines[lineno - 1]
        return ""


class PytraceWarning(PytraceError):
    severity = "WARNING"
