"""Attach-point text (`kprobe:f+0x10`, `uprobe:"/a b":main`) split into provider, parts, offset.

Only the splitting and bpftrace's provider aliases live here; what the parts
mean (a path, a symbol, a frequency) is the business of each provider in
pytrace.probes.
"""

from __future__ import annotations

import re

from pytrace.ast import AttachPoint
from pytrace.diagnostics import PytraceError, Span

# Every spelling bpftrace accepts, mapped to the canonical provider name.
PROVIDER_ALIASES = {
    "kprobe": "kprobe", "k": "kprobe",
    "kretprobe": "kretprobe", "kr": "kretprobe",
    "uprobe": "uprobe", "u": "uprobe",
    "uretprobe": "uretprobe", "ur": "uretprobe",
    "tracepoint": "tracepoint", "t": "tracepoint",
    "rawtracepoint": "rawtracepoint", "rt": "rawtracepoint",
    "usdt": "usdt", "U": "usdt",
    "profile": "profile", "p": "profile",
    "interval": "interval", "i": "interval",
    "software": "software", "s": "software",
    "hardware": "hardware", "h": "hardware",
    "fentry": "fentry", "kfunc": "fentry", "f": "fentry",
    "fexit": "fexit", "kretfunc": "fexit", "fr": "fexit",
    "watchpoint": "watchpoint", "w": "watchpoint",
    "asyncwatchpoint": "asyncwatchpoint", "aw": "asyncwatchpoint",
    "iter": "iter", "it": "iter",
    "BEGIN": "BEGIN", "begin": "BEGIN",
    "END": "END", "end": "END",
}

# How many colon-separated fields follow each provider: (fewest, most or None for
# no limit, bpftrace's words for it). `interval:1s` (one field) is read as
# `interval:s:1` by the provider; an unquoted C++ uprobe name has more colons.
PART_COUNTS = {
    "kprobe": (1, 2, "1 or 2 arguments"), "kretprobe": (1, 2, "1 or 2 arguments"),
    "uprobe": (2, None, "2 arguments"), "uretprobe": (2, None, "2 arguments"),
    "tracepoint": (2, 2, "2 arguments"), "rawtracepoint": (1, 2, "1 or 2 arguments"),
    "usdt": (2, 3, "2 or 3 arguments"),
    "profile": (1, 2, "2 arguments"), "interval": (1, 2, "2 arguments"),
    "software": (1, 2, "1 or 2 arguments"), "hardware": (1, 2, "1 or 2 arguments"),
    "fentry": (1, 2, "1 or 2 arguments"), "fexit": (1, 2, "1 or 2 arguments"),
    "watchpoint": (3, 3, "3 arguments"), "asyncwatchpoint": (3, 3, "3 arguments"),
    "iter": (1, 1, "1 argument"),
}

# Providers whose function part may end in `+OFFSET`.
OFFSET_PROVIDERS = {"kprobe", "kretprobe", "uprobe", "uretprobe"}

_OFFSET = r"^(?P<func>.*[^+])\+(?P<off>0[xX][0-9a-fA-F]+|[0-9]+)$"


def split_parts(text: str) -> list[str]:
    """Split on `:` except inside double quotes; quotes are removed."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quoted and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ":" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


def parse_attach_point(raw: str, span: Span | None = None) -> AttachPoint:
    """One attach point as written, e.g. `kr:vfs_read` -> kretprobe, ["vfs_read"]."""
    if raw in ("BEGIN", "END", "begin", "end"):
        return AttachPoint(PROVIDER_ALIASES[raw], [], raw=raw, span=span)
    name, sep, rest = raw.partition(":")
    provider = PROVIDER_ALIASES.get(name)
    if provider is None:
        raise PytraceError(f"Invalid probe type: {name}", _prefix_span(span, len(name)))
    if provider in ("BEGIN", "END"):
        raise PytraceError(f"{provider} probe type requires 0 arguments", span)
    parts = split_parts(rest)
    offset = None
    if provider in OFFSET_PROVIDERS and parts and "+" in parts[-1]:
        m = re.match(_OFFSET, parts[-1])
        if m:
            parts[-1] = m.group("func")
            text = m.group("off")
            # The perf event's probe offset is a u64 (and int() refuses 4300+ digits).
            offset = int(text, 0) if len(text.lstrip("0xX")) <= 20 else 1 << 64
            if offset >= 1 << 64:
                raise PytraceError(f"Invalid offset: {m.group('off')} does not fit in 64 bits",
                                   span)
    if not sep:
        # Nothing after the provider: bpftrace names it as written, with the fewest fields.
        fewest = PART_COUNTS[provider][0]
        raise PytraceError(f"{name} probe type requires {fewest} argument"
                           f"{'' if fewest == 1 else 's'}", span)
    _check_shape(name if len(name) > 2 else provider, provider, parts, span)
    return AttachPoint(provider, parts, raw=raw, offset=offset, span=span)


def _check_shape(name: str, provider: str, parts: list[str], span: Span | None) -> None:
    """bpftrace's errors for a probe given the wrong number of fields, or an empty
    function where one is needed; `name` is the provider as the user spelled it
    (a one- or two-letter alias reads as the full name)."""
    fewest, most, words = PART_COUNTS[provider]
    if len(parts) < fewest or (most is not None and len(parts) > most):
        raise PytraceError(f"{name} probe type requires {words}", span)
    if provider in ("kprobe", "kretprobe") and not parts[-1]:
        raise PytraceError("kprobes should be attached to a function", span)
    if provider in ("uprobe", "uretprobe"):
        if not parts[0]:
            raise PytraceError(f"{name} should have a target", span)
        if not parts[-1]:
            raise PytraceError(f"{name} should be attached to a function and/or address",
                               span)


def _prefix_span(span: Span | None, length: int) -> Span | None:
    if span is None or span.line != span.end_line:
        return span
    return Span(span.line, span.col, span.line, span.col + max(length, 1))
