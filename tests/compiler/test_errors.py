"""Programs the compiler must refuse, with bpftrace's message and the right place marked."""

from __future__ import annotations

import pytest

from pytrace.diagnostics import PytraceError

from tests.compiler.harness import compile_error

CASES = [
    ('BEGIN { @x = 1; @x = "a"; }',
     "stdin:1:17-19: ERROR: Type mismatch for @x: trying to assign value of type 'string[2]' "
     "when map already contains a value of type 'int64'",
     "                ~~"),
    ('BEGIN { @x = "a"; @x = pid; }',
     "stdin:1:19-21: ERROR: Type mismatch for @x: trying to assign value of type "
     "'unsigned int64' when map already contains a value of type 'string[2]'",
     "                  ~~"),
    ('BEGIN { @x = count(); @x = sum(1); }',
     "stdin:1:23-25: ERROR: Type mismatch for @x: trying to assign value of type 'sum' "
     "when map already contains a value of type 'count'", None),
    ('BEGIN { foo(); }', "stdin:1:9-12: ERROR: Unknown function: foo", "        ~~~"),
    ('BEGIN { printf("%d\\n", xyz); }', "stdin:1:24-27: ERROR: Unknown identifier: 'xyz'", None),
    ('BEGIN { @ = xyz_var + 1; }', "ERROR: Unknown identifier: 'xyz_var'", None),
    ('BEGIN { printf("%d %d\\n", 1); }',
     "stdin:1:9-29: ERROR: printf: Not enough arguments for format string (1 supplied, 2 expected)",
     None),
    ('BEGIN { printf("%d\\n", 1, 2); }',
     "ERROR: printf: Too many arguments for format string (2 supplied, 1 expected)", None),
    ('BEGIN { printf("%d\\n", "a"); }',
     "ERROR: printf: %d specifier expects a value of type integer (string supplied)", None),
    ('BEGIN { printf("%s\\n", 1); }',
     "ERROR: printf: %s specifier expects a value of type string (integer supplied)", None),
    ('BEGIN { $x = 1; $x = "a"; }',
     "stdin:1:20-21: ERROR: Type mismatch for $x: trying to assign value of type 'string[2]' "
     "when variable already contains a value of type 'int64'", "                   ~"),
    ('BEGIN { @x[1] = 1; @x["a"] = 1; }',
     "stdin:1:20-27: ERROR: Argument mismatch for @x: trying to access with arguments: "
     "[string[2]] when map expects arguments: [int64]", None),
    ('BEGIN { count(); }', "ERROR: count() should be directly assigned to a map", None),
    ('BEGIN { @ = lhist(1, 10, 0, 1); }',
     "ERROR: lhist() min must be less than max (provided min 10 and max 0)", None),
    ('BEGIN { @ = args->x; }', "ERROR: The args builtin can only be used with", None),
    ('tracepoint:syscalls:sys_enter_openat { @ = args->nofield; }',
     "ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_openat' does not "
     "contain a field named 'nofield'", None),
    ('BEGIN { @ = $y; }', "ERROR: Undefined or undeclared variable: $y", None),
    ('BEGIN { print(@nope); }', "ERROR: Undefined map: @nope", None),
    ('BEGIN { @ = hist(1); printf("%d\\n", @); }', "can not be read as a value", None),
    ('BEGIN { @ = sum("a"); }', "ERROR: sum() only supports integer arguments", None),
    ('BEGIN { @ = 1 + "a"; }', "ERROR: Type mismatch for '+'", None),
    ('BEGIN { @ = pid; } END { @ = comm; }', "ERROR: Type mismatch for @", None),
    ('BEGIN { @ = unknownvar; }', "Unknown identifier", None),
    ('BEGIN { @ = nosuchbuiltin_x; }', "Unknown identifier", None),
    ('BEGIN { break; }', "ERROR: break used outside of a loop", None),
    ('BEGIN { unroll(101) { @ = 1; } }', "ERROR: unroll maximum value is 100", None),
    ('BEGIN { @ = (1, 2).5; }', "ERROR: Invalid tuple index: 5. Found 2 elements in tuple.", None),
    ('BEGIN { $x = (1, "a"); $x = (1, 2); }', "ERROR: Type mismatch for $x", None),
    ('BEGIN { printf("%d\\n", $1); }', 'ERROR: $1 used numerically but given "abc". '
     'Try using str($1).', None),
    ('tracepoint:nosuchcat:nosuchevent { }', "tracepoint not found: nosuchcat:nosuchevent", None),
    ('tracepoint:syscalls:sys_nomatch_* { }', "No tracepoints matched", None),
    ('interval:xs:1 { }', "interval", None),
    ('software:nosuch { }', "ERROR: Unknown software event: nosuch", None),
    ('nosuchprobe:x { }', "Invalid probe type", None),
]


@pytest.mark.parametrize("prog,message,marker", CASES)
def test_refused_with_located_message(prog, message, marker):
    params = ["abc"] if "$1" in prog else []
    text = compile_error(prog, params)
    first = text.splitlines()[0]
    assert message in first
    if marker is not None:
        assert text.splitlines()[2] == marker


def test_tuple_map_key_refused_like_bpftrace():
    text = compile_error('BEGIN { @[(1, "a"), 2] = 3; }')
    assert text.splitlines()[0] == (
        "stdin:1:9-23: ERROR: tuple cannot be used as a map key. Try a multi-key associative"
        " array instead (eg `@map[$1, $2] = ...)`.")


def test_printf_counts_specifiers_as_bpftrace_017():
    # 0.17 does not treat %+d as a specifier, so 7 arguments are one too many.
    text = compile_error('BEGIN { printf("%d|%s|%c|%o|%X|%03d|%+d\\n", -3, "ab", 66, 8, 255, 7, 5); }')
    assert "Too many arguments for format string (7 supplied, 6 expected)" in text


def test_signed_division_warns_at_the_operator():
    from pytrace.diagnostics import Source

    from tests.compiler.harness import compile_text
    prog = 'BEGIN { $x = 10; $x /= 2; @a = -7 % 3; @b = 10 / 2; @c = pid / 2; }'
    rendered = [w.render(Source(prog)).splitlines() for w in compile_text(prog).warnings]
    assert [r[0] for r in rendered] == [
        "stdin:1:21-23: WARNING: signed operands for '/' can lead to undefined behavior "
        "(cast to unsigned to silence warning)",
        "stdin:1:35-36: WARNING: signed operands for '%' can lead to undefined behavior "
        "(cast to unsigned to silence warning)"]
    assert rendered[1][2] == " " * 34 + "~"


def test_cpid_needs_a_child_command():
    text = compile_error('BEGIN { @ = cpid; }')
    assert text.splitlines()[0] == "stdin:1:13-17: ERROR: cpid cannot be used without child command"


def test_positional_parameters_substitute_into_attach_points():
    from tests.compiler.harness import compile_text
    c = compile_text('interval:ms:$1 { exit(); } tracepoint:syscalls:$2 { }',
                     params=["250", "sys_enter_getppid"])
    names = [a.name for p in c.resources.programs for a in p.attach]
    assert names == ["interval:ms:250", "tracepoint:syscalls:sys_enter_getppid"]
    assert c.resources.programs[0].attach[0].options["sample_period"] == 250_000_000


@pytest.mark.kernel
def test_a_misspelt_tracepoint_names_the_closest_ones_at_its_place():
    from pytrace.diagnostics import Source
    from pytrace.compiler import compile_program
    from pytrace.parser import parse
    from pytrace.target.local import LocalTarget

    source = Source("tracepoint:syscalls:sys_enter_opnat { }")
    with pytest.raises(PytraceError) as caught:
        compile_program(parse(source), LocalTarget(), params=[], source=source)
    assert caught.value.message == (
        "tracepoint not found: syscalls:sys_enter_opnat; did you mean "
        "syscalls:sys_enter_openat, syscalls:sys_enter_openat2, syscalls:sys_enter_open?")
    assert (caught.value.span.col, caught.value.span.end_col) == (1, 36)
