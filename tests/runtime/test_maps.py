"""Whole-map reads: keys decoded, per-CPU slots merged, hist buckets grouped by user key."""

import struct

from pytrace import types as T
from pytrace.output.values import Histogram
from pytrace.resources import MapSpec
from pytrace.runtime.decode import NoSymbols
from pytrace.runtime.maps import read_map


class BatchTarget:
    """A Target that only answers map_lookup_batch, with fixed entries."""

    def __init__(self, entries):
        self.entries = entries
        self.asked = None

    def map_lookup_batch(self, fd, key_size, value_size, max_entries, delete=False):
        self.asked = (key_size, value_size)
        return self.entries


def test_hist_entries_group_by_user_key_and_merge_cpus():
    spec = MapSpec("@h", "percpu_hash", (T.StringType(4),), T.HistType(), 16, 8, 64,
                   has_bucket_key=True)

    def key(s, bucket):
        return s.ljust(8, b"\0") + struct.pack("<Q", bucket)
    cpus = lambda a, b: struct.pack("<QQ", a, b)  # noqa: E731
    target = BatchTarget([(key(b"ab", 3), cpus(1, 2)), (key(b"cd", 0), cpus(0, 1)),
                          (key(b"ab", 5), cpus(4, 0))])
    entries = read_map(target, 3, spec, 2, NoSymbols())
    # The Target is asked for the element size; it expands per-CPU values itself.
    assert target.asked == (16, 8)
    assert entries == [(("ab",), Histogram({3: 3, 5: 4})), (("cd",), Histogram({0: 1}))]


def test_keyless_map_has_the_empty_key_and_multi_keys_are_tuples():
    count = MapSpec("@", "percpu_hash", (), T.CountType(), 8, 8, 1)
    assert read_map(BatchTarget([(bytes(8), struct.pack("<QQ", 2, 3))]), 3, count, 2,
                    NoSymbols()) == [((), 5)]
    keyed = MapSpec("@m", "hash", (T.INT64, T.StringType(3)), T.INT32, 16, 4, 8)
    raw_key = struct.pack("<q", -2) + b"xy\0" + bytes(5)
    assert read_map(BatchTarget([(raw_key, struct.pack("<i", -9))]), 3, keyed, 2,
                    NoSymbols()) == [((-2, "xy"), -9)]


def test_min_max_avg_values_merge_over_cpus():
    mn = MapSpec("@mn", "percpu_hash", (), T.MinType(signed=True), 8, 16, 1)
    data = struct.pack("<qQqQ", -4, 1, 0, 0)
    assert read_map(BatchTarget([(bytes(8), data)]), 3, mn, 2, NoSymbols()) == [((), -4)]
    st = MapSpec("@s", "percpu_hash", (T.UINT64,), T.StatsType(), 8, 16, 1)
    data = struct.pack("<QQQQ", 2, 10, 1, 5)
    [(key, value)] = read_map(BatchTarget([(struct.pack("<Q", 7), data)]), 3, st, 2,
                              NoSymbols())
    assert key == (7,) and (value.count, value.total) == (3, 15)
