"""Attach points split into provider, parts and offset by bpftrace's rules."""

import pytest

from pytrace.attach_points import parse_attach_point, split_parts
from pytrace.diagnostics import PytraceError
from pytrace.parser import parse_text


@pytest.mark.parametrize("raw, provider, parts, offset", [
    ("BEGIN", "BEGIN", [], None),
    ("end", "END", [], None),
    ("k:vfs_read", "kprobe", ["vfs_read"], None),
    ("kprobe:vfs_read+0x10", "kprobe", ["vfs_read"], 16),
    ("kr:f+8", "kretprobe", ["f"], 8),
    ("kprobe:btrfs:btrfs_sync_file", "kprobe", ["btrfs", "btrfs_sync_file"], None),
    ("uprobe:/bin/bash:readline", "uprobe", ["/bin/bash", "readline"], None),
    ("ur:/bin/bash:readline+4", "uretprobe", ["/bin/bash", "readline"], 4),
    ("u:/bin/bash:0x4a0c0", "uprobe", ["/bin/bash", "0x4a0c0"], None),
    ('uprobe:"/opt/app:v2/my app":main', "uprobe", ["/opt/app:v2/my app", "main"], None),
    ('uprobe:/bin/app:cpp:"ns::f"', "uprobe", ["/bin/app", "cpp", "ns::f"], None),
    ("t:syscalls:sys_enter_*", "tracepoint", ["syscalls", "sys_enter_*"], None),
    ("tracepoint:sched:sched_{switch,wakeup}", "tracepoint",
     ["sched", "sched_{switch,wakeup}"], None),
    ("kprobe:ext4_?et_*", "kprobe", ["ext4_?et_*"], None),
    ("rt:sched_switch", "rawtracepoint", ["sched_switch"], None),
    ("usdt:/path:provider:name", "usdt", ["/path", "provider", "name"], None),
    ("U:/path:name", "usdt", ["/path", "name"], None),
    ("profile:hz:99", "profile", ["hz", "99"], None),
    ("p:ms:10", "profile", ["ms", "10"], None),
    ("interval:s:1", "interval", ["s", "1"], None),
    ("i:ms:100", "interval", ["ms", "100"], None),
    ("software:page-faults:100", "software", ["page-faults", "100"], None),
    ("s:cpu-clock", "software", ["cpu-clock"], None),
    ("h:cache-misses:1000000", "hardware", ["cache-misses", "1000000"], None),
    ("kfunc:vfs_read", "fentry", ["vfs_read"], None),
    ("f:vmlinux:vfs_read", "fentry", ["vmlinux", "vfs_read"], None),
    ("kretfunc:vfs_read", "fexit", ["vfs_read"], None),
    ("fr:vfs_read", "fexit", ["vfs_read"], None),
    ("watchpoint:0x1234:8:rw", "watchpoint", ["0x1234", "8", "rw"], None),
    ("w:0x1234:4:w", "watchpoint", ["0x1234", "4", "w"], None),
    ("asyncwatchpoint:0x1234:8:w", "asyncwatchpoint", ["0x1234", "8", "w"], None),
    ("it:task_file", "iter", ["task_file"], None),
    ("iter:task", "iter", ["task"], None),
])
def test_attach_point_split(raw, provider, parts, offset):
    point = parse_attach_point(raw)
    assert (point.provider, point.parts, point.offset, point.raw) == (provider, parts, offset, raw)


def test_offsets_only_for_function_probes():
    # `+` in a tracepoint or software event name is not an offset.
    assert parse_attach_point("tracepoint:a:b+1").parts == ["a", "b+1"]


def test_quotes_protect_colons_and_are_removed():
    assert split_parts('"a:b":c') == ["a:b", "c"]
    assert split_parts('x:"q\\"uote"') == ["x", 'q"uote']


@pytest.mark.parametrize("raw, message", [
    ("foo:bar", "Invalid probe type: foo"),
    ("BEGIN:x", "BEGIN probe type requires 0 arguments"),
])
def test_bad_attach_points(raw, message):
    with pytest.raises(PytraceError, match=message):
        parse_attach_point(raw)


def test_attach_points_in_programs_keep_their_spans():
    program = parse_text("kprobe:a,\n  kretprobe:b+4 { }")
    a, b = program.probes[0].attach_points
    assert (a.span.line, a.span.col, a.span.end_col) == (1, 1, 9)
    assert (b.span.line, b.span.col, b.span.end_col) == (2, 3, 16)
    assert (b.provider, b.parts, b.offset) == ("kretprobe", ["b"], 4)


def test_predicate_needs_a_blank_after_the_attach_point():
    # As in bpftrace, a `/` right after an attach point is part of its path.
    with pytest.raises(PytraceError):
        parse_text("kprobe:f/pid == 1/ { }")
    assert parse_text("kprobe:f /pid == 1/ { }").probes[0].predicate is not None
