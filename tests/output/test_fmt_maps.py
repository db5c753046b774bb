"""Map printing in text: line shapes, ordering, scalar aggregates, empty maps,
stacks and symbols. Expected texts are what bpftrace 0.17 printed for the
BEGIN-only (or one-event) program quoted in each test."""

from pytrace.output.text import map_text, print_value_text, value_text
from pytrace.output.values import AvgValue, Buffer, Frame, Named, Stack, StatsValue, Symbol
from pytrace.types import (
    INT32,
    INT64,
    UINT8,
    UINT32,
    UINT64,
    ArrayType,
    AvgType,
    BufferType,
    CountType,
    IntType,
    MinType,
    MaxType,
    PointerType,
    RecordField,
    RecordType,
    SpecialType,
    StackType,
    StatsType,
    StringType,
    SumType,
    SymbolType,
    TupleType,
)

STR = StringType(64)


def test_keyless_and_keyed_lines():
    # BEGIN { @s = sum(-5); @str = "hello"; @mx[1] = max(7); @mn = min(-5); }
    assert map_text("@s", (), SumType(signed=True), [((), -5)]) == "@s: -5\n"
    assert map_text("@str", (), STR, [((), "hello")]) == "@str: hello\n"
    assert map_text("@mx", (INT64,), MaxType(signed=True), [((1,), 7)]) == "@mx[1]: 7\n"
    assert map_text("@mn", (), MinType(signed=True), [((), -5)]) == "@mn: -5\n"


def test_multi_key_fields_joined_with_comma_space():
    # BEGIN { @c["a",1] = count(); @c["b",2] = count(); @c["b",2] = count(); }
    entries = [(("b", 2), 2), (("a", 1), 1)]
    assert map_text("@c", (STR, INT64), CountType(), entries) == "@c[a, 1]: 1\n@c[b, 2]: 2\n"


def test_tuple_values_nest_and_leave_strings_unquoted():
    # BEGIN { @tp[1] = (1, "two", (3, "x")); }
    t = TupleType((INT64, STR, TupleType((INT64, STR))))
    assert map_text("@tp", (INT64,), t, [((1,), (1, "two", (3, "x")))]) == \
        "@tp[1]: (1, two, (3, x))\n"


def test_integer_keys_print_as_int64_whatever_their_width():
    # BEGIN { @a[(uint64)-1] = 1; @b[(uint8)255] = 1; @c[(int32)-1] = 1;
    #         @f[(uint64)5, (uint32)-1] = 1; @h[(uint32)-1] = count(); }
    assert map_text("@a", (UINT64,), INT64, [(((1 << 64) - 1,), 1)]) == "@a[-1]: 1\n"
    assert map_text("@b", (UINT8,), INT64, [((255,), 1)]) == "@b[255]: 1\n"
    assert map_text("@c", (INT32,), INT64, [((-1,), 1)]) == "@c[-1]: 1\n"
    assert map_text("@f", (UINT64, UINT32), INT64, [((5, (1 << 32) - 1), 1)]) == \
        "@f[5, 4294967295]: 1\n"
    assert map_text("@h", (UINT32,), CountType(), [(((1 << 32) - 1,), 1)]) == \
        "@h[4294967295]: 1\n"


def test_counts_sort_ascending_by_value():
    entries = [((3,), 30), ((1,), 10), ((2,), 5)]
    assert map_text("@", (INT64,), CountType(), entries) == "@[2]: 5\n@[1]: 10\n@[3]: 30\n"


def test_signed_sums_sort_negative_first():
    # BEGIN { @x[-3] = sum(-3); @x[4] = sum(4); }
    entries = [((4,), 4), ((-3,), -3)]
    assert map_text("@x", (INT64,), SumType(signed=True), entries) == "@x[-3]: -3\n@x[4]: 4\n"


def test_non_aggregate_values_sort_by_unsigned_key():
    # BEGIN { @k[0]="d"; @k[5]="b"; @k[-7]="c"; @k[-1]="a"; }
    entries = [((-1,), "a"), ((-7,), "c"), ((5,), "b"), ((0,), "d")]
    assert map_text("@k", (INT64,), STR, entries) == \
        "@k[0]: d\n@k[5]: b\n@k[-7]: c\n@k[-1]: a\n"


def test_string_keys_sort_bytewise_and_first_field_wins():
    # BEGIN { @s["b"]=...; @s["a"]; @s["ab"]; @s[""]; } with string values
    entries = [(("b",), "1"), (("a",), "2"), (("ab",), "3"), (("",), "4")]
    assert map_text("@s", (STR,), STR, entries) == "@s[]: 4\n@s[a]: 2\n@s[ab]: 3\n@s[b]: 1\n"
    # BEGIN { @mk[1, "b"] = "p"; @mk[1, "a"] = "q"; @mk[-1, "a"] = "r"; }
    entries = [((-1, "a"), "r"), ((1, "b"), "p"), ((1, "a"), "q")]
    assert map_text("@mk", (INT64, STR), STR, entries) == \
        "@mk[1, a]: q\n@mk[1, b]: p\n@mk[-1, a]: r\n"


def test_min_max_maps_sort_by_value():
    entries = [((1,), 50), ((2,), -5), ((3,), 7)]
    assert map_text("@m", (INT64,), MinType(signed=True), entries) == \
        "@m[2]: -5\n@m[3]: 7\n@m[1]: 50\n"


def test_avg_and_stats_lines_with_blank_line_after_the_map():
    # BEGIN { @a = avg(7); @a = avg(8); @st = stats(5); @st = stats(10); }
    assert map_text("@a", (), AvgType(signed=True), [((), AvgValue(2, 15))]) == "@a: 7\n\n"
    assert map_text("@st", (), StatsType(signed=True), [((), StatsValue(2, 15))]) == \
        "@st: count 2, average 7, total 15\n\n"


def test_avg_truncates_toward_zero_and_sorts_by_average():
    entries = [((1,), AvgValue(2, -31)), ((2,), AvgValue(1, 3)), ((3,), AvgValue(0, 0))]
    assert map_text("@a", (INT64,), AvgType(signed=True), entries) == \
        "@a[1]: -15\n@a[3]: 0\n@a[2]: 3\n\n"


def test_print_top_and_div_on_scalar_maps():
    # BEGIN { @c[1]=sum(10); @c[2]=sum(25); @c[3]=sum(-7); @c[4]=sum(99);
    #         print(@c, 2); print(@c, 0, 10); print(@c, 2, 10); }
    entries = [((1,), 10), ((2,), 25), ((3,), -7), ((4,), 99)]
    t = SumType(signed=True)
    assert map_text("@c", (INT64,), t, entries, top=2) == "@c[2]: 25\n@c[4]: 99\n"
    assert map_text("@c", (INT64,), t, entries, div=10) == \
        "@c[3]: 0\n@c[1]: 1\n@c[2]: 2\n@c[4]: 9\n"
    assert map_text("@c", (INT64,), t, entries, top=2, div=10) == "@c[2]: 2\n@c[4]: 9\n"
    # @m[1] = min(-5); @m[2] = min(50); print(@m, 1, 2);
    assert map_text("@m", (INT64,), MinType(signed=True), [((1,), -5), ((2,), 50)],
                    top=1, div=2) == "@m[2]: 25\n"
    # Integer division truncates toward zero as in C.
    assert map_text("@n", (), SumType(signed=True), [((), -7)], div=2) == "@n: -3\n"


def test_print_top_div_on_avg_but_not_on_stats():
    # @a[1]=avg(10); @a[2]=avg(20); @a[3]=avg(-30); @a[3]=avg(-1); print(@a, 2, 3);
    entries = [((1,), AvgValue(1, 10)), ((2,), AvgValue(1, 20)), ((3,), AvgValue(2, -31))]
    assert map_text("@a", (INT64,), AvgType(signed=True), entries, top=2, div=3) == \
        "@a[1]: 3\n@a[2]: 6\n\n"
    # @s[1]=stats(10); @s[2]=stats(20); @s[3]=stats(-30); print(@s, 1, 3);
    entries = [((1,), StatsValue(1, 10)), ((2,), StatsValue(1, 20)), ((3,), StatsValue(1, -30))]
    assert map_text("@s", (INT64,), StatsType(signed=True), entries, top=1, div=3) == (
        "@s[3]: count 1, average -30, total -30\n"
        "@s[1]: count 1, average 10, total 10\n"
        "@s[2]: count 1, average 20, total 20\n\n")


def test_empty_maps():
    # BEGIN { @c[1] = count(); clear(@c); @st[1] = stats(5); clear(@st); }
    assert map_text("@c", (INT64,), CountType(), []) == "\n"
    assert map_text("@never", (), INT64, []) == "\n"
    assert map_text("@st", (INT64,), StatsType(), []) == "\n\n"
    assert map_text("@a", (INT64,), AvgType(), []) == "\n\n"


def test_zeroed_and_cleared_keyless_count():
    # BEGIN { @z[1] = count(); @z[2] = count(); zero(@z); @kc = count(); clear(@kc); }
    assert map_text("@z", (INT64,), CountType(), [((1,), 0), ((2,), 0)]) == "@z[1]: 0\n@z[2]: 0\n"
    assert map_text("@kc", (), CountType(), [((), 0)]) == "@kc: 0\n"


KSTACK = Stack((Frame(0xffffffff814c254b, "perf_syscall_enter", 475),
                Frame(0xffffffff81423c90, "syscall_trace_enter", 384)))


def test_kstack_as_key_indents_4():
    # tracepoint:syscalls:sys_enter_getppid { @k[kstack(2), comm] = count(); }
    assert map_text("@k", (StackType(), StringType(16)), CountType(),
                    [((KSTACK, "python3"), 1)]) == (
        "@k[\n"
        "    perf_syscall_enter+475\n"
        "    syscall_trace_enter+384\n"
        ", python3]: 1\n")


def test_kstack_as_value_indents_8_and_has_no_separator():
    # ... { @v = kstack(2); }
    assert map_text("@v", (), StackType(), [((), KSTACK)]) == (
        "@v: \n"
        "        perf_syscall_enter+475\n"
        "        syscall_trace_enter+384\n"
        "\n")
    one = Stack((Frame(0x10, "a", 1),))
    two = Stack((Frame(0x20, "b", 2),))
    assert map_text("@v", (INT64,), StackType(), [((1,), one), ((2,), two)]) == \
        "@v[1]: \n        a+1\n@v[2]: \n        b+2\n\n"


def test_perf_mode_stacks():
    # ... { @p = kstack(perf, 2); @up = ustack(perf, 2); }
    assert map_text("@p", (), StackType(mode="perf"),
                    [((), Stack(KSTACK.frames, mode="perf"))]) == (
        "@p: \n"
        "\tffffffff814c254b perf_syscall_enter+475\n"
        "\tffffffff81423c90 syscall_trace_enter+384\n"
        "\n")
    ustack = Stack((Frame(0x7f35a98f34f7), Frame(0x55d0c0ffee, "main", 16, "/usr/bin/true")),
                   mode="perf", kernel=False)
    assert map_text("@up", (), StackType(kernel=False, mode="perf"), [((), ustack)]) == (
        "@up: \n"
        "\t7f35a98f34f7 0x7f35a98f34f7 ([unknown])\n"
        "\t55d0c0ffee main+16 (/usr/bin/true)\n"
        "\n")


def test_unresolved_user_frames_print_as_hex():
    # ... { @u = ustack(2); }
    ustack = Stack((Frame(0x7f35a98f34f7), Frame(0x7f35a9e5b000)), kernel=False)
    assert map_text("@u", (), StackType(kernel=False), [((), ustack)]) == (
        "@u: \n"
        "        0x7f35a98f34f7\n"
        "        0x7f35a9e5b000\n"
        "\n")


def test_raw_mode_stack_is_bare_hex():
    raw = Stack((Frame(0xffffffff814c254b, "x", 1), Frame(0xffffffff81423c90)), mode="raw")
    assert value_text(StackType(mode="raw"), raw) == "\nffffffff814c254b\nffffffff81423c90\n"


def test_stack_inside_a_tuple_value():
    # ... { @t = (1, kstack(1)); }
    t = TupleType((INT64, StackType()))
    assert map_text("@t", (), t, [((), (1, Stack(KSTACK.frames[:1])))]) == \
        "@t: (1, \n        perf_syscall_enter+475\n)\n"


def test_ksym_values_are_glued_without_separator():
    # BEGIN { @k[1] = ksym(0); @k[2] = ksym(1234); } -> bpftrace 0.17 prints them
    # on one line; ksym of an address it cannot resolve is hex, of 0 is "0".
    entries = [((1,), Symbol(0)), ((2,), Symbol(1234))]
    assert map_text("@k", (INT64,), SymbolType(), entries) == "@k[1]: 0@k[2]: 0x4d2\n"
    assert map_text("@c", (), SymbolType(), [((), Symbol(0xffffffff81000005, "_text"))]) == \
        "@c: _text\n"
    assert map_text("@k", (SymbolType(),), INT64, [((Symbol(0),), 1)]) == "@k[0]: 1\n"


def test_buffers_hex_escape_non_printable_bytes():
    # BEGIN { @b["a\x01\tb"] = buf("ab\x01\xffc\"\\ ~", 9); @bk[buf("k\x02", 2)] = 1; }
    assert map_text("@b", (STR,), BufferType(9), [(("a\x01\tb",), Buffer(b'ab\x01\xffc"\\ ~'))]) \
        == '@b[a\x01\tb]: ab\\x01\\xffc"\\ ~\n'
    assert map_text("@bk", (BufferType(2),), INT64, [((Buffer(b"k\x02"),), 1)]) == \
        "@bk[k\\x02]: 1\n"


def test_records_arrays_pointers_and_named_values():
    rec = RecordType("struct x", (RecordField("a", INT64, 0), RecordField("b", INT64, 8)), 16)
    assert value_text(rec, {"a": 1, "b": 2}) == "{ .a = 1, .b = 2 }"
    assert map_text("@r", (rec,), INT64, [(({"a": 1, "b": 2},), 3)]) == "@r[{.a=1,.b=2}]: 3\n"
    assert value_text(ArrayType(INT32, 3), [1, 2, 3]) == "[1,2,3]"
    assert value_text(PointerType(), 0xffff8881) == str(0xffff8881)
    assert value_text(SpecialType("inet", 24), Named("127.0.0.1")) == "127.0.0.1"
    assert value_text(SpecialType("probe"), Named("tracepoint:syscalls:sys_enter_read")) == \
        "tracepoint:syscalls:sys_enter_read"


def test_print_value():
    # BEGIN { print(5); print("str"); print((1, "a", (2, "b"))); }
    assert print_value_text(INT64, 5) == "5\n"
    assert print_value_text(STR, "str") == "str\n"
    t = TupleType((INT64, STR, TupleType((INT64, STR))))
    assert print_value_text(t, (1, "a", (2, "b"))) == "(1, a, (2, b))\n"
    assert print_value_text(IntType(32, True), -3) == "-3\n"
