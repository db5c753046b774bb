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

# The fewest colon-separated fields after each provider (`interval:1s` has one).
MIN_ARGUMENTS = {
    "kprobe": 1, "kretprobe": 1, "uprobe": 2, "uretprobe": 2, "tracepoint": 2,
    "rawtracepoint": 1, "usdt": 2, "profile": 1, "interval": 1, "software": 1,
    "hardware": 1, "fentry": 1, "fexit": 1, "watchpoint": 3, "asyncwatchpoint": 3,
    "iter": 1,
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
    if not sep and provider not in ("BEGIN", "END"):
        needed = MIN_ARGUMENTS[provider]
        plural = "" if needed == 1 else "s"
        raise PytraceError(f"{name} probe type requires {needed} argument{plural}", span)
    if provider in ("BEGIN", "END"):
        raise PytraceError(f"{provider} probes take no arguments", span)
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
    return AttachPoint(provider, parts, raw=raw, offset=offset, span=span)


def _prefix_span(span: Span | None, length: int) -> Span | None:
    if span is None or span.line != span.end_line:
        return span
    return Span(span.line, span.col, span.line, span.col + max(length, 1))
