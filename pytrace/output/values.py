"""Decoded values that need more than a Python int/str/tuple to print.

The runtime turns bytes into these (resolving symbols through the Target's
facts); the formatters turn them into text. Plain values: int for integers,
str for strings (decoded with surrogateescape so any byte survives), tuple for
tuples, list for arrays, dict for records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytrace.types import Frozen, value_type


@value_type
class Frame(Frozen):
    addr: int
    name: str | None = None  # None when the address could not be resolved
    offset: int = 0
    # ustack perf mode prints the object file: `sym+off (/usr/lib/libc.so.6)`;
    # None prints `[unknown]`.
    module: str | None = None


@value_type
class Stack(Frozen):
    frames: tuple[Frame, ...]
    mode: str = "bpftrace"  # bpftrace, perf, raw
    kernel: bool = True


@value_type
class Symbol(Frozen):
    """ksym()/usym(): prints the bare name (or 0x address when unresolved)."""

    addr: int
    name: str | None = None


@value_type
class Named(Frozen):
    """A value that prints as given text: probe names, usernames, inet addresses."""

    text: str


@value_type
class Buffer(Frozen):
    data: bytes


@dataclass
class Histogram:
    """Bucket index -> count for one key of a hist/lhist map (merged over CPUs)."""

    buckets: dict[int, int] = field(default_factory=dict)


@value_type
class AvgValue(Frozen):
    count: int
    total: int


@value_type
class StatsValue(Frozen):
    count: int
    total: int
