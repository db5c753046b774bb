"""The corpus (tests/corpus) parses, into the shapes a reader of the program expects.

Every program parses; a representative subset is checked node by node
against hand-written shapes; and the cached-table driver must build exactly
what Lark's own LALR parser builds from the same grammar.
"""

import glob
import os

import pytest

from pytrace import ast
from pytrace.ast_dump import dump_ast
from pytrace.parser import parse_text
from tests.corpus.one_liners import ONE_LINERS
from tests.frontend.shapes import block_shape, probe_shape, shape

SCRIPTS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "corpus",
                                        "scripts", "*.bt")))


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_corpus_is_large_enough():
    assert len(ONE_LINERS) + len(SCRIPTS) >= 150
    assert len(set(ONE_LINERS)) == len(ONE_LINERS)


@pytest.mark.parametrize("program", ONE_LINERS)
def test_one_liner_parses(program):
    parsed = parse_text(program)
    assert parsed.probes, "every corpus program has at least one probe"
    for node in ast.walk(parsed):
        if not isinstance(node, ast.Program):
            assert node.span is not None, f"{type(node).__name__} without a span"


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_script_parses(path):
    parsed = parse_text(read(path), os.path.basename(path))
    assert len(parsed.probes) >= 1


SHAPES = [
    ("kprobe:do_nanosleep { printf(\"%s\\n\", comm); }",
     [([("kprobe", "do_nanosleep")], None, [("call", "printf", ["'%s\\n'", "comm"])])]),
    ("kr:vfs_read /retval > 0/ { @ = sum(retval); }",
     [([("kretprobe", "vfs_read")], (">", "retval", 0),
       [("=", "@", ("call", "sum", ["retval"]))])]),
    ("kprobe:vfs_read+0x10 { @ = count(); }",
     [([("kprobe", "vfs_read", ("+", 16))], None, [("=", "@", ("call", "count", []))])]),
    ('uprobe:"/opt/app:v2/bin/app":start { @ = count(); }',
     [([("uprobe", "/opt/app:v2/bin/app", "start")], None,
       [("=", "@", ("call", "count", []))])]),
    ("U:/tmp/app:provider:name { }", [([("usdt", "/tmp/app", "provider", "name")], None, [])]),
    ("p:hz:49 { } i:ms:100 { } s:page-faults:100 { } w:0x7fff0000:4:w { }",
     [([("profile", "hz", "49")], None, []), ([("interval", "ms", "100")], None, []),
      ([("software", "page-faults", "100")], None, []),
      ([("watchpoint", "0x7fff0000", "4", "w")], None, [])]),
    ("kfunc:vfs_read { } kretfunc:vfs_read { } f:a { } fr:b { } it:task { } rt:x { }",
     [([("fentry", "vfs_read")], None, []), ([("fexit", "vfs_read")], None, []),
      ([("fentry", "a")], None, []), ([("fexit", "b")], None, []),
      ([("iter", "task")], None, []), ([("rawtracepoint", "x")], None, [])]),
    ("tracepoint:syscalls:sys_enter_read,\n tracepoint:syscalls:sys_enter_write\n{ @[probe] = count(); }",
     [([("tracepoint", "syscalls", "sys_enter_read"),
        ("tracepoint", "syscalls", "sys_enter_write")], None,
       [("=", ("@", ["probe"]), ("call", "count", []))])]),
    ("begin { } END { }", [([("BEGIN",)], None, []), ([("END",)], None, [])]),
    ("kprobe:f /pid / 2 == 1/ { @ = 4 / 2 }",
     [([("kprobe", "f")], ("==", ("/", "pid", 2), 1), [("=", "@", ("/", 4, 2))])]),
    ("BEGIN { $x = 1; $x += 2; $x <<= 1; @c[1] |= 4; }",
     [([("BEGIN",)], None, [("=", "$x", 1), ("+=", "$x", 2), ("<<=", "$x", 1),
                            ("|=", ("@c", [1]), 4)])]),
    ("BEGIN { if (pid == 1) { @a = 1 } else if (pid == 2) { @a = 2 } else { @a = 3 } }",
     [([("BEGIN",)], None, [
         ("if", ("==", "pid", 1), [("=", "@a", 1)],
          [("if", ("==", "pid", 2), [("=", "@a", 2)], [("=", "@a", 3)])])])]),
    ("BEGIN { if (1) { } @x = 1; }",
     [([("BEGIN",)], None, [("if", 1, [], None), ("=", "@x", 1)])]),
    ("BEGIN { unroll(5) { @i++; } }",
     [([("BEGIN",)], None, [("unroll", 5, [("++", "post", "@i")])])]),
    ("BEGIN { while ($i < 5) { $i++; if ($i > 3) { break; } continue; } }",
     [([("BEGIN",)], None, [
         ("while", ("<", "$i", 5), [("++", "post", "$i"),
                                   ("if", (">", "$i", 3), [("break",)], None),
                                   ("continue",)])])]),
    ("END { for ($kv : @m) { print($kv.0); } }",
     [([("END",)], None, [("for", "$kv", "@m", [("call", "print", [(".", "$kv", 0)])])])]),
    ("kprobe:f { if (pid == 1) { return; } @ = count(); }",
     [([("kprobe", "f")], None, [("if", ("==", "pid", 1), [("return",)], None),
                                ("=", "@", ("call", "count", []))])]),
    ("BEGIN { let $x = 1; let $y: uint64; }",
     [([("BEGIN",)], None, [("let", "$x", None, 1), ("let", "$y", "uint64", None)])]),
    ("END { print(@m, 10, 1000); delete(@m[1]); }",
     [([("END",)], None, [("call", "print", ["@m", 10, 1000]),
                          ("call", "delete", [("@m", [1])])])]),
    ("kprobe:f { @ = ((struct task_struct *)curtask)->real_parent->pid; }",
     [([("kprobe", "f")], None, [
         ("=", "@", ("->", ("->", ("cast", "struct task_struct *", "curtask"),
                                  "real_parent"), "pid"))])]),
]


@pytest.mark.parametrize("program, expected", SHAPES)
def test_corpus_shapes(program, expected):
    parsed = parse_text(program)
    assert [probe_shape(p) for p in parsed.probes] == expected


def test_script_shapes_top_level():
    parsed = parse_text(read(os.path.join(os.path.dirname(SCRIPTS[0]), "structs.bt")))
    assert [i.path for i in parsed.includes] == ["<linux/path.h>", "<linux/dcache.h>"]
    kinds = [(d.kind, d.name) for d in parsed.c_definitions]
    assert kinds == [("struct", "my_header"), ("union", "my_value"), ("enum", "my_kind"),
                     ("typedef", "header_t"), ("typedef", "u64_t")]
    header = parsed.c_definitions[0]
    assert [(str(m.type), m.name, m.bits) for m in header.members] == [
        ("unsigned int", "magic", None), ("unsigned short", "version", 4),
        ("unsigned short", "flags", 12), ("char[32]", "name", None),
        ("struct my_header *", "next", None), ("unsigned long long[4]", "stamps", None)]
    assert parsed.c_definitions[2].enumerators == [
        ("KIND_NONE", 0), ("KIND_READ", 4), ("KIND_WRITE", 5), ("KIND_ANY", 256)]
    assert str(parsed.c_definitions[3].aliased) == "struct my_header"

    config = parse_text(read(os.path.join(os.path.dirname(SCRIPTS[0]),
                                          "control_flow.bt"))).config
    assert [(name, shape(value)) for name, value in config.settings] == [
        ("max_map_keys", 4096), ("stack_mode", "bpftrace")]


def test_block_shape_of_while_in_script():
    parsed = parse_text(read(os.path.join(os.path.dirname(SCRIPTS[0]), "control_flow.bt")))
    begin = block_shape(parsed.probes[0].body)
    assert begin[2][0] == "while" and begin[3][0] == "unroll"


# ---- the driver against Lark itself ------------------------------------------

@pytest.fixture(scope="module")
def lark_parser():
    lark = pytest.importorskip("lark")
    from pytrace.ast_builder import AstBuilder
    from pytrace.parse_tables import grammar_text
    return lark.Lark(grammar_text(), parser="lalr", lexer="contextual",
                     keep_all_tokens=True, maybe_placeholders=False,
                     transformer=AstBuilder())


def spans(program):
    return [(type(n).__name__, n.span) for n in ast.walk(program)]


@pytest.mark.parametrize("program", ONE_LINERS + [read(p) for p in SCRIPTS])
def test_driver_builds_what_lark_builds(lark_parser, program, monkeypatch):
    # The driver is under test, not the preprocessor: no kernel-header constants
    # (TASK_RUNNING) expanded, since Lark sees the identifiers.
    monkeypatch.setattr("pytrace.preprocessor.KERNEL_HEADER_MACROS", {})
    ours = parse_text(program)
    theirs = lark_parser.parse(program)
    assert ours == theirs
    assert dump_ast(ours) == dump_ast(theirs)
    assert spans(ours) == spans(theirs)
