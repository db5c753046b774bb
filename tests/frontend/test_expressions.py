"""Expressions parse into the AST nodes the compiler expects, with C precedence."""

import pytest

from pytrace import ast
from pytrace.parser import parse_text
from tests.frontend.shapes import shape


def expr_of(text: str) -> ast.Expr:
    """The value of `@ = EXPR` inside a BEGIN probe."""
    program = parse_text(f"BEGIN {{ @ = {text}; }}")
    stmt = program.probes[0].body.stmts[0]
    assert isinstance(stmt, ast.Assign)
    return stmt.value


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", ("+", 1, ("*", 2, 3))),
    ("1 - 2 - 3", ("-", ("-", 1, 2), 3)),
    ("1 << 2 + 3", ("<<", 1, ("+", 2, 3))),
    ("1 < 2 == 3 > 4", ("==", ("<", 1, 2), (">", 3, 4))),
    ("1 & 2 ^ 3 | 4", ("|", ("^", ("&", 1, 2), 3), 4)),
    ("1 || 2 && 3", ("||", 1, ("&&", 2, 3))),
    ("1 | 2 && 3", ("&&", ("|", 1, 2), 3)),
    ("$a ? $b : $c ? 1 : 2", ("?:", "$a", "$b", ("?:", "$c", 1, 2))),
    ("-$x * !$y", ("*", ("-", "$x"), ("!", "$y"))),
    ("~*$p", ("~", ("*", "$p"))),
    ("&$x", ("&", "$x")),
    ("4 / 2 % 3", ("%", ("/", 4, 2), 3)),
    ("(1 + 2) * 3", ("*", ("+", 1, 2), 3)),
    ("(uint8)$x + 1", ("+", ("cast", "uint8", "$x"), 1)),
    ("(struct task_struct *)curtask", ("cast", "struct task_struct *", "curtask")),
    ("(uint64 *)$p", ("cast", "uint64 *", "$p")),
    ("*(uint32 *)$p", ("*", ("cast", "uint32 *", "$p"))),
    ("args->filename", ("->", "args", "filename")),
    ("args.count", (".", "args", "count")),
    ("curtask->mm->owner.pid", (".", ("->", ("->", "curtask", "mm"), "owner"), "pid")),
    ("$t.0 + $t.1", ("+", (".", "$t", 0), (".", "$t", 1))),
    ("(1, \"a\", $x)", ("tuple", [1, "'a'", "$x"])),
    ("$arr[2]", ("[]", "$arr", 2)),
    ("@m[1, 2]", ("@m", [1, 2])),
    ("@m[(1, 2)]", ("@m", [("tuple", [1, 2])])),
    ("count()", ("call", "count", [])),
    ("hist($x, 2)", ("call", "hist", ["$x", 2])),
    ("str(arg0)", ("call", "str", ["arg0"])),
    ("$x++", ("++", "post", "$x")),
    ("--@c[1]", ("--", "pre", ("@c", [1]))),
    ("1_000_000", 1000000),
    ("0x10", 16),
    ("017", 15),
    ("'a'", 97),
    ("5e3", 5000),
    ("\"a\\tb\\n\\x41\\101\"", repr("a\tb\nAA")),
])
def test_expression_shapes(text, expected):
    assert shape(expr_of(text)) == expected


def test_builtins_and_identifiers_are_told_apart():
    for name in ("pid", "tid", "comm", "nsecs", "retval", "arg0", "arg12", "sarg3",
                 "args", "curtask", "kstack", "probe", "func", "cpu", "username"):
        assert isinstance(expr_of(name), ast.Builtin), name
    assert isinstance(expr_of("SOME_ENUM"), ast.Identifier)


def test_positional_parameters():
    program = parse_text('BEGIN { printf("%d %s\\n", $#, str($1)); @ = $2 }')
    call = program.probes[0].body.stmts[0].expr
    assert isinstance(call.args[1], ast.PositionalCount)
    assert shape(call.args[2]) == ("call", "str", ["PositionalParam"])
    assert call.args[2].args[0].index == 1


def test_booleans():
    assert expr_of("true") == ast.Boolean(True)
    assert expr_of("false") == ast.Boolean(False)


def test_sizeof_and_offsetof():
    size = expr_of("sizeof(struct task_struct)")
    assert isinstance(size, ast.Sizeof) and str(size.target) == "struct task_struct"
    size = expr_of("sizeof($x)")
    assert isinstance(size.target, ast.Variable)
    off = expr_of("offsetof(struct sk_buff, len)")
    assert str(off.type) == "struct sk_buff" and off.field == "len"


def test_division_and_predicate_slashes():
    program = parse_text("kprobe:f /pid / 2 == 1/ { @ = 4 / 2 }")
    probe = program.probes[0]
    assert shape(probe.predicate) == ("==", ("/", "pid", 2), 1)
    assert shape(probe.body.stmts[0].value) == ("/", 4, 2)


def test_spans_cover_the_written_text():
    program = parse_text("BEGIN { @x[1] = 1 + 22; }")
    assign = program.probes[0].body.stmts[0]
    assert (assign.span.col, assign.span.end_col) == (9, 23)
    assert (assign.value.right.span.col, assign.value.right.span.end_col) == (21, 23)
