"""Decoded values that need more than a Python int/str/tuple to print.

The runtime turns bytes into these (resolving symbols through the Target's
facts); the formatters turn them into text. Plain values: int for integers,
str for strings (decoded with surrogateescape so any byte survives), tuple for
tuples, list for arrays, dict for records.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Frame:
    addr: int
    name: str | None = None  # None when the address could not be resolved
    offset: int = 0
    # ustack perf mode prints the object file: `sym+off (/usr/lib/libc.so.6)`;
    # None prints `[unknown]`.
    module: str | None = None


@dataclass(frozen=True)
class Stack:
    frames: tuple[Frame, ...]
    mode: str = "bpftrace"  # bpftrace, perf, raw
    kernel: bool = True


@dataclass(frozen=True)
class Symbol:
    """ksym()/usym(): prints the bare name (or 0x address when unresolved)."""

    addr: int
    name: str | None = None


@dataclass(frozen=True)
class Named:
    """A value that prints as given text: probe names, usernames, inet addresses."""

    text: str


@dataclass(frozen=True)
class Buffer:
    data: bytes


@dataclass
class Histogram:
    """Bucket index -> count for one key of a hist/lhist map (merged over CPUs)."""

    buckets: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AvgValue:
    count: int
    total: int


@dataclass(frozen=True)
class StatsValue:
    count: int
    total: int
