"""printf(): every specifier bpftrace 0.17 accepts, with the text it printed for
the same format and arguments (BEGIN { printf(...); })."""

import pytest

from pytrace.output.printf import format_printf, parse_format
from pytrace.output.values import Buffer, Frame, Stack, Symbol
from pytrace.types import (
    INT32,
    INT64,
    UINT8,
    UINT32,
    BufferType,
    IntType,
    StackType,
    StringType,
    SymbolType,
)

STR = StringType(64)
INT8 = IntType(8, True)


def args(*values):
    return [(STR, v) if isinstance(v, str) else (INT64, v) for v in values]


@pytest.mark.parametrize("fmt, values, expected", [
    ("d[%d] u[%u] x[%x] X[%X] o[%o]\n", (-5, -5, 255, 255, 8),
     "d[-5] u[4294967291] x[ff] X[FF] o[10]\n"),
    # Without a length modifier C reads the low 32 bits.
    ("big d[%d] u[%u] x[%x] ld[%ld] lu[%lu] llx[%llx] lld[%lld] llu[%llu]\n",
     (1 << 40, 1 << 40, 1 << 40, 1 << 40, -1, -1, -1, -1),
     "big d[0] u[0] x[0] ld[1099511627776] lu[18446744073709551615] llx[ffffffffffffffff] "
     "lld[-1] llu[18446744073709551615]\n"),
    ("hh[%hhd] h[%hd] hhu[%hhu] hu[%hu] zd[%zd] zu[%zu]\n", (300, 70000, 300, 70000, -3, -3),
     "hh[44] h[4464] hhu[44] hu[4464] zd[-3] zu[18446744073709551613]\n"),
    ("s[%s] -10s[%-10s] 10s[%10s] .3s[%.3s] 10.3s[%10.3s] -10.3s[%-10.3s]\n",
     ("hello", "hi", "hi", "hello", "hello", "hello"),
     "s[hello] -10s[hi        ] 10s[        hi] .3s[hel] 10.3s[       hel] -10.3s[hel       ]\n"),
    ("5d[%5d] 05d[%05d] -5d[%-5d] %% c[%c] p[%p]\n", (42, 42, 42, 65, 4096),
     "5d[   42] 05d[00042] -5d[42   ] % c[A] p[0x1000]\n"),
    ("x neg[%x] X neg[%X] o neg[%o] lx[%lx]\n", (-1, -2, -1, -1),
     "x neg[ffffffff] X neg[FFFFFFFE] o neg[37777777777] lx[ffffffffffffffff]\n"),
    (".5d[%.5d] 8.3d[%8.3d] -08d[%-08d] 0x[%08x] c0[%c] cbig[%c] p0[%p] pneg[%p]\n",
     (42, 42, 42, 255, 0, 321, 0, -1),
     ".5d[00042] 8.3d[     042] -08d[42      ] 0x[000000ff] c0[] cbig[A] p0[(nil)] "
     "pneg[0xffffffffffffffff]\n"),
    ("[%td]\n", (5,), "[5]\n"),
    ("[%jd] [%ju]\n", (5, -1), "[5] [18446744073709551615]\n"),
    ("[%lld]\n", (65,), "[65]\n"),
    ("[%-d]\n", (5,), "[5]\n"),
    ("[%.0d]\n", (0,), "[]\n"),
    ("[%.10d]\n", (-5,), "[-0000000005]\n"),
    ("[%.3x]\n", (5,), "[005]\n"),
    ("[%lo]\n", (-1,), "[1777777777777777777777]\n"),
    ("[%lX]\n", (-1,), "[FFFFFFFFFFFFFFFF]\n"),
    ("[%hhu]\n", (-1,), "[255]\n"),
    ("[%llp] [%lp] [%5p] [%5.1p]\n", (65, 65, 65, 65), "[0x41] [0x41] [ 0x41] [ 0x41]\n"),
    ("[%-5c]\n", (65,), "[A    ]\n"),
    ("[%05s] [%-05s]\n", ("a", "a"), "[    a] [a    ]\n"),
    # A NUL from %c ends the C string of that piece (the padding after it too).
    ("[%5c]\n", (0,), "[    ]\n"),
    ("[%-5c]\n", (0,), "[]\n"),
])
def test_specifiers_match_bpftrace(fmt, values, expected):
    assert format_printf(fmt, args(*values)) == expected


@pytest.mark.parametrize("fmt, values, expected", [
    # bpftrace splits the format after each specifier and gives each piece to
    # snprintf, so %% is only unescaped in a piece that ends with a specifier.
    ("[%%]\n", (), "[%%]\n"),
    ("[%%d]\n", (5,), "[%d]\n"),
    ("[100%%] %d\n", (5,), "[100%] 5\n"),
    ("[%d%%]\n", (5,), "[5%%]\n"),
    ("[%5%%d]\n", (5,), "[%5]\n"),
    ("[%%%d]\n", (5,), "[%5]\n"),
    # Not specifiers to bpftrace 0.17: printed as written.
    ("[%i] [%+d] [%#x] [% d] [%e] [%ls] [%-5]\n", (), "[%i] [%+d] [%#x] [% d] [%e] [%ls] [%-5]\n"),
    ("no specifier at all\n", (), "no specifier at all\n"),
    ("tail after last %s: 100%%\n", ("spec",), "tail after last spec: 100%%\n"),
])
def test_percent_handling_matches_bpftrace(fmt, values, expected):
    assert format_printf(fmt, args(*values)) == expected


def test_argument_count_of_a_format():
    assert parse_format("%d %s %%d %i %llx %-5.3s %p %c %r").arg_count == 8
    assert parse_format("%%d").arg_count == 1  # bpftrace 0.17 counts it too


def test_integers_are_extended_by_their_own_type():
    # BEGIN { printf("u32[%d] i8[%d] u8[%u] s8x[%x]\n", (uint32)-1, (int8)-1, (uint8)-1, (int8)-1);
    #         printf("ld32[%ld] lu32[%lu] lx i32[%lx] hd i32[%hd] d i64[%d] hhx[%hhx] hx[%hx]\n",
    #                (int32)-1, (int32)-1, (int32)-1, (int32)-70000, (int64)-1, 0x1234, 0x123456); }
    out = format_printf("u32[%d] i8[%d] u8[%u] s8x[%x]\n",
                        [(UINT32, (1 << 32) - 1), (INT8, -1), (UINT8, 255), (INT8, -1)])
    assert out == "u32[-1] i8[-1] u8[255] s8x[ffffffff]\n"
    out = format_printf("ld32[%ld] lu32[%lu] lx i32[%lx] hd i32[%hd] d i64[%d] hhx[%hhx] hx[%hx]\n",
                        [(INT32, -1), (INT32, -1), (INT32, -1), (INT32, -70000), (INT64, -1),
                         (INT64, 0x1234), (INT64, 0x123456)])
    assert out == ("ld32[-1] lu32[18446744073709551615] lx i32[ffffffffffffffff] hd i32[-4464] "
                   "d i64[-1] hhx[34] hx[3456]\n")
    assert format_printf("%x\n", [(IntType(16, True), -1)]) == "ffffffff\n"


def test_string_arguments_are_not_reinterpreted():
    # BEGIN { printf("comm[%s] %s\n", comm, "tail%%x"); }
    assert format_printf("comm[%s] %s\n", [(StringType(16), "bpftrace"), (STR, "tail%%x")]) == \
        "comm[bpftrace] tail%%x\n"


def test_width_and_precision_count_bytes_not_characters():
    # "é" is two bytes in UTF-8: %.1s cuts it in half, as C does.
    assert format_printf("[%3s]", args("é")) == "[ é]"
    assert format_printf("[%.1s]", args("é")).encode("utf-8", "surrogateescape") == b"[\xc3]"


def test_buffers_with_r_and_symbols_and_stacks_with_s():
    # BEGIN { printf("%s|%r\n", "x", buf("a\x03", 2)); }
    assert format_printf("%s|%r\n", [(STR, "x"), (BufferType(2), Buffer(b"a\x03"))]) == \
        "x|a\\x03\n"
    # printf("[%s][%s]\n", ksym(0), kstack(1)) in a tracepoint
    stack = Stack((Frame(0xffffffff814c254b, "perf_syscall_enter", 475),))
    assert format_printf("[%s][%s]\n", [(SymbolType(), Symbol(0)), (StackType(limit=1), stack)]) \
        == "[0][\n        perf_syscall_enter+475\n]\n"
    assert format_printf("%s|%s\n", [(SymbolType(), Symbol(1234)),
                                     (SymbolType(kernel=False), Symbol(1234))]) == \
        "0x4d2|0x4d2\n"


def test_format_parse_is_cached():
    assert parse_format("%d-%d") is parse_format("%d-%d")
