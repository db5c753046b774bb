"""The order in which a map's elements print (OUTPUT.md §2), and print()'s top.

`ordered_for_print` also serves pytrace's `print_order = descending` setting
(docs/reference.md): the largest entries first, for top-style tools.

Entries come in as (key tuple, value) in the order the runtime read them
(hash iteration order). Sorts are stable, so ties keep that order, as close as
Python gets to bpftrace's unstable std::sort over the same iteration order.
"""

from __future__ import annotations

import functools
import gc
from operator import itemgetter

from pytrace.output.values import AvgValue, StatsValue
from pytrace.types import (
    AvgType,
    BoolType,
    CountType,
    HistType,
    IntType,
    LhistType,
    MinType,
    StatsType,
    StringType,
    SumType,
    Type,
)

_BY_VALUE = itemgetter(1)


def gc_paused(fn):
    """Run fn with the cyclic GC paused: formatting a 100k-key map allocates
    a few hundred thousand objects and the collections it would trigger keep
    rescanning the entries (about a third of the time)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
    return wrapper


def average(v: AvgValue | StatsValue) -> int:
    """Integer average truncated toward zero, 0 for no samples (bpftrace's avg)."""
    if v.count == 0:
        return 0
    q = abs(v.total) // v.count
    return -q if v.total < 0 else q


def _hist_total(entry) -> int:
    return sum(entry[1].buckets.values())


def _avg_key(entry) -> int:
    return average(entry[1])


def sorts_by_value(value_type: Type) -> bool:
    """count/sum/min/max/plain integers sort by value (MinType covers max)."""
    return isinstance(value_type, (CountType, SumType, MinType, IntType, BoolType))


def sort_entries(key_types: tuple[Type, ...], value_type: Type, entries: list) -> list:
    """A new list of entries in bpftrace's print order."""
    if sorts_by_value(value_type):
        return sorted(entries, key=_BY_VALUE)
    if isinstance(value_type, (HistType, LhistType)):
        return sorted(entries, key=_hist_total)
    if isinstance(value_type, AvgType):  # avg and stats
        return sorted(entries, key=_avg_key)
    return sort_by_key(key_types, entries)


def sort_by_key(key_types: tuple[Type, ...], entries: list) -> list:
    """First key field most significant: stable sorts from the last field to
    the first. Integers compare as unsigned of their width (so -7 sorts after
    5), strings bytewise; other field types do not take part."""
    out = list(entries)
    for pos in range(len(key_types) - 1, -1, -1):
        t = key_types[pos]
        if isinstance(t, (IntType, BoolType)):
            mask = (1 << (t.size * 8)) - 1
            out.sort(key=lambda e, p=pos, m=mask: e[0][p] & m)
        elif isinstance(t, StringType):
            out.sort(key=lambda e, p=pos: e[0][p])
    return out


def keep_top(entries: list, top: int, value_type: Type) -> list:
    """print(@m, top): the last `top` entries of the sorted order (the largest).
    bpftrace ignores top (and div) for stats maps, not for avg maps."""
    if top <= 0 or len(entries) <= top or isinstance(value_type, StatsType):
        return entries
    return entries[len(entries) - top:]


def _stats_total(entry) -> int:
    return entry[1].total


def ordered_for_print(key_types: tuple[Type, ...], value_type: Type, entries: list,
                      top: int = 0, descending: bool = False) -> list:
    """The entries print() or exit prints, in order. Descending (pytrace's
    extension): largest first, with `top` keeping the `top` largest for every
    map kind, and stats maps measured by their total (the busiest row), not
    by their average as in bpftrace's ascending order."""
    if not descending:
        return keep_top(sort_entries(key_types, value_type, entries), top, value_type)
    if isinstance(value_type, StatsType):
        ordered = sorted(entries, key=_stats_total)
    else:
        ordered = sort_entries(key_types, value_type, entries)
    if 0 < top < len(ordered):
        ordered = ordered[len(ordered) - top:]
    ordered.reverse()
    return ordered
