"""Bucket indexes as the generated code computes them, to build test histograms
from the values a BEGIN program fed to hist()/lhist()."""

from pytrace.types import LhistType


def hist_buckets(*values: int, k: int = 0) -> dict[int, int]:
    """Bucket index -> count as the generated code would compute them."""
    out: dict[int, int] = {}
    for v in values:
        if v < 0:
            i = 0
        elif v < (1 << (k + 1)):
            i = v + 1
        else:
            log = v.bit_length() - 1
            i = 1 + ((log + 1 - k) << k) + ((v >> (log - k)) & ((1 << k) - 1))
        out[i] = out.get(i, 0) + 1
    return out


def lhist_buckets(t: LhistType, *values: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        if v < t.min:
            i = 0
        elif v >= t.max:
            i = t.buckets - 1
        else:
            i = (v - t.min) // t.step + 1
        out[i] = out.get(i, 0) + 1
    return out
