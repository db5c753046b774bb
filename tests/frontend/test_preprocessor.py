"""The preprocessor subset: what survives, where, and what the lexer expands."""

from __future__ import annotations

import pytest

from pytrace import ast
from pytrace.diagnostics import PytraceError, Source
from pytrace.parser import parse
from pytrace.preprocessor import PreprocessOptions, preprocess

TOOL_HEAD = """#ifndef BPFTRACE_HAVE_BTF
#include <linux/sched.h>
struct cfs_rq { unsigned long nr_running; };
#else
#include <sys/socket.h>
#endif
BEGIN { }
"""


def test_directives_and_dead_branches_become_empty_lines():
    out = preprocess(TOOL_HEAD, PreprocessOptions(defines={"BPFTRACE_HAVE_BTF": "1"}))
    assert out.text.split("\n") == ["", "", "", "", "#include <sys/socket.h>", "",
                                    "BEGIN { }", ""]
    assert out.macros["AF_INET"] == "2"


def test_without_btf_the_other_branch_is_taken():
    out = preprocess(TOOL_HEAD)
    lines = out.text.split("\n")
    assert lines[1] == "#include <linux/sched.h>"
    assert lines[2].startswith("struct cfs_rq")
    assert out.macros["TASK_RUNNING"] == "0"


@pytest.mark.parametrize("expr, taken", [
    ("1", True), ("0", False), ("defined(X)", True), ("defined Y", False),
    ("X == 3 && !defined(Y)", True), ("X * 2 > 7 || 0", False), ("(X << 2) == 12", True),
    ("0x10 == 16U", True), ("UNDEFINED_NAME", False), ("X > 2 ? 1 : 0", True),
])
def test_if_expressions(expr, taken):
    out = preprocess(f"#define X 3\n#if {expr}\nkept\n#endif\n")
    assert (out.text.split("\n")[2] == "kept") is taken


def test_elif_else_and_nesting():
    text = ("#if 0\na\n#elif 1\n#ifdef NOPE\nb\n#else\nc\n#endif\n#elif 1\nd\n#else\ne\n"
            "#endif\n")
    kept = [line for line in preprocess(text).text.split("\n") if line]
    assert kept == ["c"]


def test_continued_directives_and_directives_in_comments():
    text = "#define LONG 1 + \\\n  2\n/*\n#define HIDDEN 1\n*/\nx\n"
    out = preprocess(text)
    assert out.macros["LONG"] == "1 +    2"
    assert "HIDDEN" not in out.macros
    assert out.text.split("\n")[5] == "x"


def test_macros_expand_as_tokens_with_the_names_span():
    program = parse(Source('#define LIMIT (2 * 3)\nBEGIN { @x = LIMIT; }'))
    value = program.probes[0].body.stmts[0].value
    assert isinstance(value, ast.Binary) and value.op == "*"
    assert (value.span.line, value.span.col) == (2, 14)


def test_a_macro_does_not_expand_inside_itself_or_strings():
    program = parse(Source('#define SELF SELF + 1\nBEGIN { @x = SELF; printf("SELF"); }'))
    value = program.probes[0].body.stmts[0].value
    assert isinstance(value.left, ast.Identifier) and value.left.name == "SELF"
    assert program.probes[0].body.stmts[1].expr.args[0].value == "SELF"


@pytest.mark.parametrize("text, message", [
    ("#if 1\n", "unterminated #if: missing #endif"),
    ("#else\n", "#else without #if"),
    ("#ifdef\n", "macro name missing after #ifdef"),
    ("#if (1\n#endif\n", "invalid expression in #if"),
    ('#error "stop here"\n', '#error "stop here"'),
    ("#include foo\n", "#include expects \"FILE\" or <FILE>"),
])
def test_bad_directives_are_located_errors(text, message):
    with pytest.raises(PytraceError) as caught:
        preprocess(text)
    assert caught.value.message == message
    assert caught.value.span is not None


def test_user_headers_nest_and_give_definitions(tmp_path):
    (tmp_path / "a.h").write_text('#include "b.h"\n#define FROM_A B_VALUE\n')
    (tmp_path / "b.h").write_text("#ifndef B_H\n#define B_H\n#define B_VALUE 5\n"
                                  "struct from_b { int x; };\n#endif\n")
    out = preprocess('#include "a.h"\n#include "b.h"\n',
                     PreprocessOptions(script_dir=str(tmp_path)))
    assert out.macros["FROM_A"] == "5"
    assert [text for _, text in out.header_definitions] == ["struct from_b { int x; };"]


def test_system_headers_come_from_the_targets_multiarch_directory():
    # AF_INET6 lives in /usr/include/<machine>-linux-gnu/bits/socket.h: an aarch64
    # target does not read this x86_64 machine's copy.
    text = "#include <sys/socket.h>\nBEGIN { }\n"
    here = preprocess(text, PreprocessOptions(machine="x86_64"))
    other = preprocess(text, PreprocessOptions(machine="aarch64"))
    assert here.macros.get("AF_INET6") == "10"
    assert "AF_INET6" not in other.macros
