"""Bytes -> values: what a user sees printed depends on these being exact."""

import struct

from pytrace import types as T
from pytrace.output import values as V
from pytrace.runtime.decode import NoSymbols, decode, merge_percpu, split_percpu


def test_integers_keep_their_width_and_sign():
    assert decode(T.INT64, struct.pack("<q", -5)) == -5
    assert decode(T.UINT64, struct.pack("<q", -5)) == 2**64 - 5
    assert decode(T.IntType(32, True), struct.pack("<i", -7) + b"junk") == -7
    assert decode(T.IntType(8, False), b"\xff") == 255
    assert decode(T.IntType(16, True), b"\xfe\xff") == -2


def test_strings_stop_at_the_first_nul_and_keep_odd_bytes():
    assert decode(T.StringType(8), b"abc\0zzzz") == "abc"
    assert decode(T.StringType(4), b"abcd") == "abcd"
    raw = decode(T.StringType(4), b"a\xffb\0")
    assert raw.encode("utf-8", "surrogateescape") == b"a\xffb"


def test_tuples_use_natural_alignment_offsets():
    tup = T.TupleType((T.UINT8, T.INT64, T.StringType(3), T.IntType(32, True)))
    assert tup.offsets == (0, 8, 16, 20)
    data = bytearray(tup.size)
    data[0] = 7
    struct.pack_into("<q", data, 8, -1)
    data[16:19] = b"hi\0"
    struct.pack_into("<i", data, 20, 42)
    assert decode(tup, bytes(data)) == (7, -1, "hi", 42)


def test_nested_tuples_arrays_records_and_buffers():
    inner = T.TupleType((T.UINT32, T.StringType(4)))
    outer = T.TupleType((inner, T.UINT64))
    data = struct.pack("<I4sQ", 3, b"ab\0\0", 9)
    assert decode(outer, data) == ((3, "ab"), 9)
    assert decode(T.ArrayType(T.UINT32, 3), struct.pack("<3I", 1, 2, 3)) == [1, 2, 3]
    rec = T.RecordType("struct s", (T.RecordField("a", T.UINT32, 0),
                                    T.RecordField("b", T.UINT8, 4, bit_offset=1, bit_size=3)),
                       byte_size=8)
    assert decode(rec, struct.pack("<IB3x", 5, 0b1010)) == {"a": 5, "b": 0b101}
    assert decode(T.BufferType(4), b"\x02\x01\x02\x03\x04") == V.Buffer(b"\x01\x02")


def test_probe_ids_print_as_probe_names():
    names = NoSymbols(["BEGIN", "tracepoint:syscalls:sys_enter_getppid"])
    assert decode(T.SpecialType("probe"), struct.pack("<Q", 1), names) == \
        V.Named("tracepoint:syscalls:sys_enter_getppid")


def slots(fmt, *values):
    return [struct.pack(fmt, *v) if isinstance(v, tuple) else struct.pack(fmt, v)
            for v in values]


def test_count_and_sum_add_every_cpu_slot():
    assert merge_percpu(T.CountType(), slots("<Q", 3, 0, 4)) == 7
    assert merge_percpu(T.SumType(signed=True), slots("<q", -10, 3)) == -7


def test_min_max_ignore_cpus_that_never_saw_a_value():
    data = slots("<qQ", (5, 1), (0, 0), (9, 1))
    assert merge_percpu(T.MinType(signed=True), data) == 5
    assert merge_percpu(T.MaxType(signed=True), data) == 9
    assert merge_percpu(T.MinType(signed=True), slots("<qQ", (-3, 1), (0, 0))) == -3
    assert merge_percpu(T.MaxType(), slots("<qQ", (0, 0))) == 0


def test_avg_and_stats_merge_counts_and_totals():
    data = slots("<Qq", (2, 10), (1, -4))
    assert merge_percpu(T.AvgType(signed=True), data) == V.AvgValue(3, 6)
    assert merge_percpu(T.StatsType(signed=True), data) == V.StatsValue(3, 6)


def test_percpu_values_are_split_on_8_byte_slots():
    raw = struct.pack("<I4xI4x", 1, 2)
    assert split_percpu(raw, 4, 2) == [struct.pack("<I", 1), struct.pack("<I", 2)]
