"""Tracepoint facts from this machine's tracefs: listing with wildcards and the
record layout of `args` (offsets, sizes, signedness, arrays, __data_loc)."""

from __future__ import annotations

import pytest

from pytrace.kernel import tracefs, wildcard
from pytrace.target.local import LocalTarget

# A LocalTarget mounts tracefs when the machine has none mounted, as a user's
# run does: these facts must hold on a fresh machine too, not be skipped there.
TARGET = LocalTarget()
ROOT = tracefs.tracefs_root(TARGET)


def raw_field_lines(category, event):
    text = TARGET.read_file(f"{ROOT}/events/{category}/{event}/format").decode()
    return [line.strip() for line in text.splitlines() if line.strip().startswith("field:")]


def test_sys_enter_openat_fields():
    fmt = tracefs.read_format(TARGET, "syscalls", "sys_enter_openat")
    assert fmt.category == "syscalls" and fmt.event == "sys_enter_openat"
    assert fmt.id == int(TARGET.read_file(f"{ROOT}/events/syscalls/sys_enter_openat/id"))
    args = {f.name: f for f in fmt.args}
    assert list(args) == ["__syscall_nr", "dfd", "filename", "flags", "mode"]
    dfd = args["dfd"]
    assert (dfd.c_type, dfd.offset) == ("int", 16)
    # Syscall tracepoints store every argument in a long-sized slot.
    assert dfd.size == 8
    assert args["filename"].c_type == "const char *"
    assert args["filename"].offset == 24 and args["filename"].array_len is None
    assert args["flags"].offset == 32 and args["mode"].c_type == "umode_t"
    # The common header is parsed but kept out of args.
    common = [f for f in fmt.fields if f.is_common]
    assert [f.name for f in common] == ["common_type", "common_flags",
                                        "common_preempt_count", "common_pid"]
    assert fmt.field("common_pid").signed and fmt.field("common_pid").size == 4


def test_sched_process_exec_data_loc_filename():
    fmt = tracefs.read_format(TARGET, "sched", "sched_process_exec")
    filename = fmt.field("filename")
    assert filename.data_loc and filename.is_dynamic and filename.is_string
    assert filename.c_type == "char" and filename.size == 4
    pid = fmt.field("pid")
    assert pid.c_type == "pid_t" and pid.signed and pid.size == 4
    # A record with the string at offset 24, 6 bytes long: loc = len << 16 | off.
    record = bytearray(32)
    record[filename.offset:filename.offset + 4] = ((6 << 16) | 24).to_bytes(4, "little")
    record[24:30] = b"/bin\0\0"
    assert tracefs.dynamic_location(filename, bytes(record)) == (24, 6)


def test_char_array_field():
    fmt = tracefs.read_format(TARGET, "sched", "sched_switch")
    comm = fmt.field("prev_comm")
    assert comm.c_type == "char" and comm.array_len == comm.size == 16 and comm.is_string
    assert not fmt.field("prev_pid").is_string


def test_every_format_file_parses_completely():
    """Each `field:` line of every tracepoint becomes one field with the
    offset and size the kernel printed."""
    pairs = tracefs.list_tracepoints(TARGET)
    assert len(pairs) > 100
    for category, event in pairs[::7]:  # a spread of every kind of category
        fmt = tracefs.read_format(TARGET, category, event)
        lines = raw_field_lines(category, event)
        assert len(fmt.fields) == len(lines), (category, event)
        for f, line in zip(fmt.fields, lines):
            assert f"offset:{f.offset};" in line and f"size:{f.size};" in line
            assert f.name in line
            if f.array_len:
                assert f.size % f.array_len == 0


def test_listing_and_wildcards():
    categories = tracefs.list_categories(TARGET)
    assert "sched" in categories and "syscalls" in categories
    events = tracefs.list_events(TARGET, "sched")
    assert "sched_switch" in events and "sched_process_exec" in events
    matched = tracefs.match_tracepoints(TARGET, "sched", "sched_process_*")
    assert ("sched", "sched_process_exec") in matched
    assert all(c == "sched" and e.startswith("sched_process_") for c, e in matched)
    opens = tracefs.match_tracepoints(TARGET, "sys*", "sys_enter_open{at,}")
    assert opens == [("syscalls", "sys_enter_open"), ("syscalls", "sys_enter_openat")]
    assert tracefs.match_tracepoints(TARGET, "sched", "no_such_*") == []
    assert tracefs.tracepoint_exists(TARGET, "sched", "sched_switch")
    assert not tracefs.tracepoint_exists(TARGET, "sched", "sched_nope")


def test_missing_tracepoint_raises_file_not_found():
    with pytest.raises(FileNotFoundError):
        tracefs.read_format(TARGET, "sched", "no_such_event")


def test_wildcard_rules():
    assert wildcard.match("sys_enter_*", "sys_enter_openat")
    assert wildcard.match("sys_?nter_open", "sys_enter_open")
    assert not wildcard.match("sys_enter_open", "sys_enter_openat")
    assert wildcard.match("vfs_{read,write}", "vfs_write")
    assert not wildcard.match("vfs_{read,write}", "vfs_readv")
    assert wildcard.match("a[1]*", "a[1]b")  # brackets are literal
    assert wildcard.filter_names("*", ["b", "a"]) == ["b", "a"]


def test_parse_format_text_without_tracefs():
    """Formats fetched from another machine parse the same way, including
    __rel_loc and flexible arrays."""
    text = (
        "name: demo\nID: 42\nformat:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n"
        "\tfield:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;\n"
        "\tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n"
        "\tfield:char buf[];\toffset:80;\tsize:0;\tsigned:1;\n"
        "\nprint fmt: \"%s\", __get_rel_str(msg)\n")
    fmt = tracefs.parse_format(text, "demo_cat")
    assert (fmt.category, fmt.event, fmt.id) == ("demo_cat", "demo", 42)
    msg, caller, buf = fmt.args
    assert msg.rel_loc and msg.is_string
    # __rel_loc offsets count from the end of the field itself.
    record = bytearray(32)
    record[8:12] = ((5 << 16) | 4).to_bytes(4, "little")
    assert tracefs.dynamic_location(msg, bytes(record)) == (16, 5)
    assert (caller.c_type, caller.array_len, caller.size) == ("unsigned long", 8, 64)
    assert buf.array_len == 0 and buf.signed
    assert fmt.print_fmt.startswith('"%s"')
