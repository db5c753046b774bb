"""Malformed programs: each names the place and what is wrong, in bpftrace's words and shape.

Messages follow bison as bpftrace 0.17 prints them ("syntax error, unexpected
X, expecting Y", listing Y only when there are at most four choices) and the
location is the offending token (the end of the text for "end of file").
"""

import pytest

from pytrace.diagnostics import PytraceError, Source
from pytrace.parser import parse_text

MALFORMED = [
    # (program, "line:col-endcol", message)
    ('BEGIN { printf("hi")', "1:21-21", "syntax error, unexpected end of file, expecting }"),
    ("BEGIN {", "1:8-8", "syntax error, unexpected end of file, expecting }"),
    ("BEGIN", "1:6-6", "syntax error, unexpected end of file, expecting / or {"),
    ("BEGIN { @x = 1 +; }", "1:17-18", "syntax error, unexpected ;"),
    ("BEGIN { $x = ; }", "1:14-15", "syntax error, unexpected ;"),
    ("BEGIN { @x = ~; }", "1:15-16", "syntax error, unexpected ;"),
    ("BEGIN { 1 = 2 }", "1:11-12", "syntax error, unexpected =, expecting ; or }"),
    ("BEGIN { $x.y = 1; }", "1:14-15", "syntax error, unexpected =, expecting ; or }"),
    ("BEGIN { ;; }", "1:9-10", "syntax error, unexpected ;, expecting }"),
    ("BEGIN { if 1 { } }", "1:12-13", "syntax error, unexpected integer, expecting ("),
    ("BEGIN { unroll 5 { } }", "1:16-17", "syntax error, unexpected integer, expecting ("),
    ("BEGIN { while (1 { } }", "1:18-19", "syntax error, unexpected {, expecting )"),
    ("BEGIN { if (1) { } else }", "1:25-26", "syntax error, unexpected }, expecting if or {"),
    ("BEGIN { if (1) { } else if { } }", "1:28-29", "syntax error, unexpected {, expecting ("),
    ("BEGIN { for ($kv in @m) { } }", "1:18-20",
     "syntax error, unexpected identifier, expecting :"),
    ("BEGIN { for (@x : @m) { } }", "1:14-16", "syntax error, unexpected map, expecting variable"),
    ("BEGIN { @a = 1 @b = 2 }", "1:16-18", "syntax error, unexpected map, expecting }"),
    ("BEGIN { @a = 1 $b = 2 }", "1:16-18", "syntax error, unexpected variable, expecting }"),
    ("BEGIN { @a = 1 pid }", "1:16-19", "syntax error, unexpected builtin, expecting }"),
    ('BEGIN { @a = 1 "s" }', "1:16-19", "syntax error, unexpected string, expecting }"),
    ("kprobe:f /pid == 1/ { @[1 = 2; }", "1:27-28", "syntax error, unexpected =, expecting , or ]"),
    ("BEGIN { @x[1,2 = 3; }", "1:16-17", "syntax error, unexpected =, expecting , or ]"),
    ("BEGIN { @x[] = 1; }", "1:12-13", "syntax error, unexpected ]"),
    ("BEGIN { @x = (1 + 2; }", "1:20-21", "syntax error, unexpected ;, expecting ) or ,"),
    ("BEGIN { @x = (1 2); }", "1:17-18", "syntax error, unexpected integer, expecting ) or ,"),
    ("BEGIN { @x = 1 + 2); }", "1:19-20", "syntax error, unexpected ), expecting }"),
    ('BEGIN { printf("%d" 1); }', "1:21-22", "syntax error, unexpected integer, expecting ) or ,"),
    ("BEGIN { @x = 1 ? 2; }", "1:19-20", "syntax error, unexpected ;, expecting :"),
    ("BEGIN { 5++; }", "1:10-12", "syntax error, unexpected ++"),
    ("BEGIN { $x = (struct foo *); }", "1:28-29", "syntax error, unexpected ;"),
    ("BEGIN { $x = sizeof(); }", "1:21-22", "syntax error, unexpected )"),
    ("BEGIN { $x = offsetof(struct foo); }", "1:33-34", "syntax error, unexpected ), expecting ,"),
    ("BEGIN { return 1 2; }", "1:18-19", "syntax error, unexpected integer, expecting }"),
    ("BEGIN { @x = 1; } }", "1:19-20", "syntax error, unexpected }"),
    ("BEGIN { } ;", "1:11-12", "syntax error, unexpected ;"),
    ("{ @x = 1; }", "1:1-2", "syntax error, unexpected {"),
    ("kprobe:f /pid == 1 { }", "1:20-21", "syntax error, unexpected {, expecting /"),
    ("kprobe:f, { }", "1:11-12", "syntax error, unexpected {, expecting attach point"),
    ("config = { max_map_keys = ; }\nBEGIN { }", "1:27-28", "syntax error, unexpected ;"),
    ("BEGIN { @ = 1 }\nBEGIN { @ = 2 }\nkprobe:f { @x = }", "3:17-18", "syntax error, unexpected }"),
    ("BEGIN {\n  @x = 1;\n  @y = (2 + ;\n}", "3:13-14", "syntax error, unexpected ;"),
    # lexical errors
    ("BEGIN { @ = `; }", "1:13-14", "invalid character '`'"),
    ("BEGIN { @x = $; }", "1:14-15", "invalid character '$'"),
    ('BEGIN { "abc }', "1:9-15", "unterminated string"),
    ('BEGIN { printf("a\n"); }', "1:16-18", "unterminated string"),
    ("BEGIN { /* never closed", "1:9-11", "unterminated comment"),
    ("BEGIN { @x = 'ab'; }", "1:14-15", "invalid character literal"),
    ('BEGIN { printf("\\q"); }', "1:16-20", "invalid escape character '\\q'"),
    ("BEGIN { @x = 08; }", "1:14-16", "invalid octal integer '08'"),
    ('BEGIN { printf("\\x{"); }', "1:16-21", "invalid escape character '\\x'"),
    # attach points
    ("foo:bar { }", "1:1-4", "Invalid probe type: foo"),
    ("BEGINx { }", "1:1-7", "Invalid probe type: BEGINx"),
    ("BEGIN:x { }", "1:1-8", "BEGIN probe type requires 0 arguments"),
    ("kprobe { }", "1:1-7", "kprobe probe type requires 1 argument"),
    ("BEGIN { }\nu { }", "2:1-2", "u probe type requires 2 arguments"),
    # the wrong number of fields, in bpftrace 0.17's words and places
    ("tracepoint:x { }", "1:1-13", "tracepoint probe type requires 2 arguments"),
    ("t:a:b:c { }", "1:1-8", "tracepoint probe type requires 2 arguments"),
    ("i:s:1:2 { }", "1:1-8", "interval probe type requires 2 arguments"),
    ("usdt:x { }", "1:1-7", "usdt probe type requires 2 or 3 arguments"),
    ("watchpoint:0x1 { }", "1:1-15", "watchpoint probe type requires 3 arguments"),
    ("hardware:cycles:1:2 { }", "1:1-20", "hardware probe type requires 1 or 2 arguments"),
    ("software:a:b:c { }", "1:1-15", "software probe type requires 1 or 2 arguments"),
    ("kretfunc:a:b:c { }", "1:1-15", "kretfunc probe type requires 1 or 2 arguments"),
    ("ur:/bin/bash { }", "1:1-13", "uretprobe probe type requires 2 arguments"),
    ("END:x { }", "1:1-6", "END probe type requires 0 arguments"),
    ("kprobe: { }", "1:1-8", "kprobes should be attached to a function"),
    ("uprobe:/bin/bash: { }", "1:1-18", "uprobe should be attached to a function and/or address"),
    ("uprobe::readline { }", "1:1-17", "uprobe should have a target"),
    # C definitions and config
    ("struct foo { int a; }\nBEGIN { }", "1:1-7",
     "syntax error, incomplete struct definition, expecting struct NAME { ... };"),
    ("typedef int x\nBEGIN { }", "1:1-8",
     "syntax error, incomplete typedef definition, expecting typedef TYPE NAME;"),
    ("struct foo { int; };\nBEGIN { }", "1:1-21", "Could not parse C declaration 'int'"),
    ("enum e { A = x };\nBEGIN { }", "1:1-18", "Expected an integer constant, got 'x'"),
    ("config = { a = 1 }\nconfig = { b = 2 }\nBEGIN { }", "2:1-19",
     "Only one config block is allowed"),
]


@pytest.mark.parametrize("program, where, message", MALFORMED)
def test_malformed_program_names_place_and_problem(program, where, message):
    with pytest.raises(PytraceError) as info:
        parse_text(program)
    err = info.value
    assert err.message == message
    line, cols = where.split(":")
    col, end_col = (int(c) for c in cols.split("-"))
    assert (err.span.line, err.span.col, err.span.end_line, err.span.end_col) == \
        (int(line), col, int(line), end_col)


def test_at_least_forty_malformed_programs():
    assert len(MALFORMED) >= 40


def test_rendered_error_has_bpftrace_shape():
    program = "kprobe:f /pid == 1/ { @[1 = 2; }"
    with pytest.raises(PytraceError) as info:
        parse_text(program)
    assert info.value.render(Source(program)) == (
        "stdin:1:27-28: ERROR: syntax error, unexpected =, expecting , or ]\n"
        "kprobe:f /pid == 1/ { @[1 = 2; }\n"
        "                          ~")


def test_error_in_a_script_names_the_file_and_line():
    program = "BEGIN {\n\t@x = 1;\n\t@y = (2 + ;\n}\n"
    with pytest.raises(PytraceError) as info:
        parse_text(program, "tool.bt")
    rendered = info.value.render(Source(program, "tool.bt"))
    # bpftrace expands tabs in the echoed line and moves the marker with them.
    assert rendered == ("tool.bt:3:12-13: ERROR: syntax error, unexpected ;\n"
                        "    @y = (2 + ;\n"
                        "              ~")
