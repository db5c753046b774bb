"""`-f json` lines, against what bpftrace 0.17 printed with -f json for the
BEGIN-only program quoted in each test."""

import json

from pytrace.output.json_format import json_escape, map_json, message_json, value_json
from pytrace.output.values import AvgValue, Buffer, Histogram, Stack, Frame, StatsValue, Symbol
from pytrace.types import (
    INT64,
    UINT32,
    AvgType,
    BufferType,
    CountType,
    HistType,
    LhistType,
    MinType,
    RecordField,
    RecordType,
    StackType,
    StatsType,
    StringType,
    SumType,
    SymbolType,
    TupleType,
)

from .buckets import hist_buckets, lhist_buckets

STR = StringType(64)


def test_scalar_and_keyed_maps():
    # BEGIN { @s = sum(-5); @mx[1] = max(7); @str = "hello";
    #         @c["a",1] = count(); @c["b",2] = count(); @c["b",2] = count(); }
    assert map_json("@s", (), SumType(signed=True), [((), -5)]) == \
        '{"type": "map", "data": {"@s": -5}}\n'
    assert map_json("@mx", (INT64,), MinType(signed=True), [((1,), 7)]) == \
        '{"type": "map", "data": {"@mx": {"1": 7}}}\n'
    assert map_json("@str", (), STR, [((), "hello")]) == \
        '{"type": "map", "data": {"@str": "hello"}}\n'
    assert map_json("@c", (STR, INT64), CountType(), [(("b", 2), 2), (("a", 1), 1)]) == \
        '{"type": "map", "data": {"@c": {"a,1": 1, "b,2": 2}}}\n'


def test_key_order_and_int64_keys():
    # BEGIN { @k[0]="d"; @k[5]="b"; @k[-7]="c"; @k[-1]="a"; @f[(uint64)5, (uint32)-1] = 1; }
    entries = [((-1,), "a"), ((-7,), "c"), ((5,), "b"), ((0,), "d")]
    assert map_json("@k", (INT64,), STR, entries) == \
        '{"type": "map", "data": {"@k": {"0": "d", "5": "b", "-7": "c", "-1": "a"}}}\n'
    assert map_json("@f", (INT64, UINT32), INT64, [((5, (1 << 32) - 1), 1)]) == \
        '{"type": "map", "data": {"@f": {"5,4294967295": 1}}}\n'
    assert map_json("@a", (INT64,), CountType(), [(((1 << 64) - 1,), 1)]) == \
        '{"type": "map", "data": {"@a": {"-1": 1}}}\n'


def test_tuples_are_arrays_without_spaces():
    # BEGIN { @tp[1] = (1, "two", (3, "x")); }
    t = TupleType((INT64, STR, TupleType((INT64, STR))))
    assert map_json("@tp", (INT64,), t, [((1,), (1, "two", (3, "x")))]) == \
        '{"type": "map", "data": {"@tp": {"1": [1,"two",[3,"x"]]}}}\n'


def test_stats_and_avg_use_type_stats():
    # BEGIN { @a = avg(7); @a = avg(8); @st = stats(5); @st = stats(10); }
    assert map_json("@a", (), AvgType(signed=True), [((), AvgValue(2, 15))]) == \
        '{"type": "stats", "data": {"@a": 7}}\n'
    assert map_json("@st", (), StatsType(signed=True), [((), StatsValue(2, 15))]) == \
        '{"type": "stats", "data": {"@st": {"count": 2, "average": 7, "total": 15}}}\n'
    # print(@s, 1, 3) on stats ignores top and div.
    entries = [((1,), StatsValue(1, 10)), ((2,), StatsValue(1, 20)), ((3,), StatsValue(1, -30))]
    assert map_json("@s", (INT64,), StatsType(signed=True), entries, top=1, div=3) == (
        '{"type": "stats", "data": {"@s": {"3": {"count": 1, "average": -30, "total": -30}, '
        '"1": {"count": 1, "average": 10, "total": 10}, '
        '"2": {"count": 1, "average": 20, "total": 20}}}}\n')
    # print(@a, 2, 3)
    entries = [((1,), AvgValue(1, 10)), ((2,), AvgValue(1, 20)), ((3,), AvgValue(2, -31))]
    assert map_json("@a", (INT64,), AvgType(signed=True), entries, top=2, div=3) == \
        '{"type": "stats", "data": {"@a": {"1": 3, "2": 6}}}\n'


def test_hist_buckets():
    # BEGIN { @h = hist(-1); hist(0); hist(1); hist(2); hist(3); hist(1<<20); }
    line = map_json("@h", (), HistType(), [((), Histogram(hist_buckets(-1, 0, 1, 2, 3, 1 << 20)))])
    zeros = "".join(f'{{"min": {1 << p}, "max": {(2 << p) - 1}, "count": 0}}, ' for p in range(2, 20))
    assert line == (
        '{"type": "hist", "data": {"@h": [{"max": -1, "count": 1}, '
        '{"min": 0, "max": 0, "count": 1}, {"min": 1, "max": 1, "count": 1}, '
        '{"min": 2, "max": 3, "count": 2}, ' + zeros +
        '{"min": 1048576, "max": 2097151, "count": 1}]}}\n')
    # BEGIN { @hk["a"] = hist(5); @hk["b"] = hist(100); @hk["b"] = hist(100); }
    entries = [(("b",), Histogram(hist_buckets(100, 100))), (("a",), Histogram(hist_buckets(5)))]
    assert map_json("@hk", (STR,), HistType(), entries) == (
        '{"type": "hist", "data": {"@hk": {"a": [{"min": 4, "max": 7, "count": 1}], '
        '"b": [{"min": 64, "max": 127, "count": 2}]}}}\n')


def test_lhist_buckets_underflow_overflow():
    # BEGIN { @l1 = lhist(5, 10, 50, 10); @l1 = lhist(1000, 10, 50, 10); }
    t = LhistType(min=10, max=50, step=10)
    assert map_json("@l1", (), t, [((), Histogram(lhist_buckets(t, 5, 1000)))]) == (
        '{"type": "hist", "data": {"@l1": [{"max": 9, "count": 1}, '
        '{"min": 10, "max": 19, "count": 0}, {"min": 20, "max": 29, "count": 0}, '
        '{"min": 30, "max": 39, "count": 0}, {"min": 40, "max": 49, "count": 0}, '
        '{"min": 50, "count": 1}]}}\n')
    # @l2 = lhist(1000000, 0, 2000000, 50000)
    t = LhistType(min=0, max=2000000, step=50000)
    assert map_json("@l2", (), t, [((), Histogram(lhist_buckets(t, 1000000)))]) == \
        '{"type": "hist", "data": {"@l2": [{"min": 1000000, "max": 1049999, "count": 1}]}}\n'


def test_zeroed_hist_is_an_empty_array_and_empty_maps_print_nothing():
    # BEGIN { @h[1] = hist(5); @h[2] = hist(7); zero(@h); @c[1] = count(); clear(@c); }
    entries = [((1,), Histogram({4: 0})), ((2,), Histogram({4: 0}))]
    assert map_json("@h", (INT64,), HistType(), entries) == \
        '{"type": "hist", "data": {"@h": {"1": [], "2": []}}}\n'
    assert map_json("@c", (INT64,), CountType(), []) == ""
    assert map_json("@s", (INT64,), StatsType(), []) == ""
    assert map_json("@h", (), HistType(), []) == ""


def test_escaping_matches_bpftrace_bytes():
    # BEGIN { printf("a\"b\\c\td\re\x01f\x1fé\x7f\n"); @m["é\"x"] = 1; }
    assert message_json("printf", 'a"b\\c\td\re\x01f\x1fé\x7f\n') == \
        '{"type": "printf", "data": "a\\"b\\\\c\\td\\re\\u0001f\\u001f\\uffffffc3\\uffffffa9\x7f\\n"}\n'
    assert map_json("@m", (STR,), INT64, [(('é"x',), 1)]) == \
        '{"type": "map", "data": {"@m": {"\\uffffffc3\\uffffffa9\\"x": 1}}}\n'
    # BEGIN { @e["\t"] = "v\n"; }
    assert map_json("@e", (STR,), STR, [(("\t",), "v\n")]) == \
        '{"type": "map", "data": {"@e": {"\\t": "v\\n"}}}\n'
    # Bytes that are not UTF-8 (kept as surrogate escapes) come out the same way.
    assert json_escape(b"\xff".decode("utf-8", "surrogateescape")) == "\\uffffffff"


def test_ascii_output_is_valid_json():
    line = map_json("@c", (STR, INT64), CountType(), [(('q"\\\n', 2), 2)])
    assert json.loads(line) == {"type": "map", "data": {"@c": {'q"\\\n,2': 2}}}


def test_print_values():
    # BEGIN { print(5); print("str\""); print((1, "a")); }
    assert value_json(INT64, 5) == '{"type": "value", "data": 5}\n'
    assert value_json(STR, 'str"') == '{"type": "value", "data": "str\\""}\n'
    assert value_json(TupleType((INT64, STR)), (1, "a")) == '{"type": "value", "data": [1,"a"]}\n'


def test_quoted_value_types():
    # BEGIN { @k[1] = ksym(0); @k[2] = ksym(1234); @b["a"] = buf("ab\x01\xffc", 5);
    #         @bt = (buf("x\n", 2), 1); }
    assert map_json("@k", (INT64,), SymbolType(), [((1,), Symbol(0)), ((2,), Symbol(1234))]) == \
        '{"type": "map", "data": {"@k": {"1": "0", "2": "0x4d2"}}}\n'
    assert map_json("@b", (STR,), BufferType(5), [(("a",), Buffer(b"ab\x01\xffc"))]) == \
        '{"type": "map", "data": {"@b": {"a": "ab\\\\x01\\\\xffc"}}}\n'
    assert map_json("@bt", (), TupleType((BufferType(2), INT64)), [((), (Buffer(b"x\n"), 1))]) == \
        '{"type": "map", "data": {"@bt": ["x\\\\x0a",1]}}\n'
    stack = Stack((Frame(0x10, "f", 3),))
    assert value_json(StackType(), stack) == \
        '{"type": "value", "data": "\\n        f+3\\n"}\n'


def test_records():
    rec = RecordType("struct x", (RecordField("a", INT64, 0), RecordField("b", STR, 8)), 72)
    assert value_json(rec, {"a": 1, "b": "z"}) == \
        '{"type": "value", "data": { "a": 1, "b": "z" }}\n'
