"""hist()/lhist() buckets: labels, JSON bounds and the text bar chart.

Bucket indexes are the ones the generated code computes (OUTPUT.md §4, §5):
hist index 0 holds negative values, indexes 1 .. 2^(k+1) hold the single
values 0 .. 2^(k+1)-1, and every later run of 2^k indexes splits one power of
two; lhist index 0 is the underflow, 1..B the linear buckets, B+1 the overflow.
Both kinds print only the range from the first to the last non-zero bucket.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from pytrace.types import HistType, LhistType

BAR_WIDTH = 52
_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")
_F32 = struct.Struct("f")


def _f32(x: float) -> float:
    return _F32.unpack(_F32.pack(x))[0]


def bar_length(count: int, max_count: int) -> int:
    """Number of '@' for a bucket.

    bpftrace computes count / (float)max * 52 in single precision; doing it
    in double gives one more '@' for e.g. 15 of 52 (15 vs 14), so emulate
    float32 rounding at every step.
    """
    if max_count <= 0:
        return 0
    return int(_f32(_f32(_f32(float(count)) / _f32(float(max_count))) * BAR_WIDTH))


# ---- hist (log2, with k sub-buckets per power of two) ---------------------------

def _hist_start(i: int, k: int) -> tuple[int, str]:
    """Lowest value of the bucket at position i = index - 1 (i >= 2^k), as a
    number and as a label scaled by the largest power of 1024 that keeps it
    exact (the power is counted without the k sub-bucket bits)."""
    n = 1 << k
    power = (i >> k) - 1
    mult = n + (i & (n - 1))
    decade = power // 10
    scaled = (1 << (power - 10 * decade)) * mult
    return (1 << power) * mult, f"{scaled}{_SUFFIXES[decade]}"


@lru_cache(maxsize=4096)
def hist_label(index: int, k: int = 0) -> str:
    if index == 0:
        return "(..., 0)"
    if index <= (2 << k):
        return f"[{index - 1}]"
    return f"[{_hist_start(index - 1, k)[1]}, {_hist_start(index, k)[1]})"


@lru_cache(maxsize=4096)
def hist_bounds(index: int, k: int = 0) -> tuple[int | None, int | None]:
    """(min, max) inclusive for JSON; None where the bucket is unbounded."""
    if index == 0:
        return None, -1
    if index <= (2 << k):
        return index - 1, index - 1
    return _hist_start(index - 1, k)[0], _hist_start(index, k)[0] - 1


# ---- lhist (linear) -------------------------------------------------------------

def _lhist_number(number: int, step: int) -> str:
    # K/M suffixes only when the step is a multiple of 1024 (bpftrace's rule).
    if step % 1024 != 0 or number == 0:
        return str(number)
    if number % (1 << 20) == 0:
        return f"{number >> 20}M"
    if number % 1024 == 0:
        return f"{number >> 10}K"
    return str(number)


def lhist_label(index: int, t: LhistType) -> str:
    buckets = (t.max - t.min) // t.step
    if index == 0:
        return f"(..., {_lhist_number(t.min, t.step)})"
    if index == buckets + 1:
        return f"[{_lhist_number(t.max, t.step)}, ...)"
    lo = t.min + (index - 1) * t.step
    return f"[{_lhist_number(lo, t.step)}, {_lhist_number(lo + t.step, t.step)})"


def lhist_bounds(index: int, t: LhistType) -> tuple[int | None, int | None]:
    buckets = (t.max - t.min) // t.step
    if index == 0:
        return None, t.min - 1
    if index == buckets + 1:
        return t.max, None
    lo = t.min + (index - 1) * t.step
    return lo, lo + t.step - 1


# ---- shared -------------------------------------------------------------------

def bucket_range(buckets: dict[int, int]) -> tuple[int, int] | None:
    """First and last index with a non-zero count, or None if all are zero."""
    used = [i for i, c in buckets.items() if c > 0]
    if not used:
        return None
    return min(used), max(used)


def label(index: int, t: HistType | LhistType) -> str:
    if isinstance(t, LhistType):
        return lhist_label(index, t)
    return hist_label(index, t.k)


def bounds(index: int, t: HistType | LhistType) -> tuple[int | None, int | None]:
    if isinstance(t, LhistType):
        return lhist_bounds(index, t)
    return hist_bounds(index, t.k)


def _divide(count: int, t: HistType | LhistType, div: int) -> int:
    # print(@m, top, div) divides hist counts but not lhist counts (bpftrace).
    if div > 1 and not isinstance(t, LhistType):
        return count // div
    return count


def hist_text(buckets: dict[int, int], t: HistType | LhistType, div: int = 0) -> str:
    """The bucket lines of one key's histogram ('' when every bucket is 0)."""
    span = bucket_range(buckets)
    if span is None:
        return ""
    max_count = max(buckets.values())
    lines = []
    for i in range(span[0], span[1] + 1):
        count = buckets.get(i, 0)
        bar = "@" * bar_length(count, max_count)
        lines.append(f"{label(i, t):<16}{_divide(count, t, div):>8} |{bar:<52}|\n")
    return "".join(lines)


def hist_json(buckets: dict[int, int], t: HistType | LhistType, div: int = 0) -> str:
    """A JSON array of bucket objects ('[]' when every bucket is 0)."""
    span = bucket_range(buckets)
    if span is None:
        return "[]"
    parts = []
    for i in range(span[0], span[1] + 1):
        lo, hi = bounds(i, t)
        fields = []
        if lo is not None:
            fields.append(f'"min": {lo}')
        if hi is not None:
            fields.append(f'"max": {hi}')
        fields.append(f'"count": {_divide(buckets.get(i, 0), t, div)}')
        parts.append("{" + ", ".join(fields) + "}")
    return "[" + ", ".join(parts) + "]"
