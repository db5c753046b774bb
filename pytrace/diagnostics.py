"""Errors and warnings as values with a source span, and their bpftrace-shaped text.

Every stage raises `PytraceError` (or collects `Diagnostic`s); only the CLI turns
them into text, so library users get structured errors and the CLI never shows a
Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

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


class PytraceError(Exception):
    """A user-facing error; `span` points into the program when it has a place."""

    severity = "ERROR"

    def __init__(self, message: str, span: Span | None = None):
        super().__init__(message)
        self.message = message
        self.span = span

    def render(self, source: Source | None = None) -> str:
        return render_diagnostic(self.severity, self.message, self.span, source)


class PytraceWarning(PytraceError):
    severity = "WARNING"


def render_diagnostic(severity: str, message: str, span: Span | None,
                      source: Source | None) -> str:
    """bpftrace's shape: `FILE:L:C1-C2: ERROR: msg`, the line, then `~` under the span.

    Tabs in the echoed line are expanded to 4 spaces, as bpftrace does, and the
    marker is shifted to match. A span over several lines prints only
    `FILE:L1-L2: ERROR: msg`.
    """
    if span is None or source is None:
        return f"{severity}: {message}"
    if span.end_line != span.line:
        return f"{source.name}:{span.line}-{span.end_line}: {severity}: {message}"
    raw = source.line_text(span.line)
    end_col = max(span.end_col, span.col)
    header = f"{source.name}:{span.line}:{span.col}-{end_col}: {severity}: {message}"
    shown = raw.replace("\t", "    ")
    # Recompute columns after tab expansion so the marker sits under the span.
    prefix = raw[: span.col - 1].replace("\t", "    ")
    body = raw[span.col - 1: end_col - 1].replace("\t", "    ")
    marker = " " * len(prefix) + "~" * len(body)
    return f"{header}\n{shown}\n{marker}"
