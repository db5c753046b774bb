"""`args` of a tracepoint typed from its format file (as tracefs gives it)."""

from __future__ import annotations

import glob

import pytest

from pytrace.kernel import tracefs
from pytrace.probes.tracepoint_format import DataLocType, parse_format
from pytrace.types import ArrayType, IntType, PointerType, StringType

ROOT = "/sys/kernel/tracing/events"


def _record(category: str, event: str):
    with open(f"{ROOT}/{category}/{event}/format") as f:
        return {fld.name: fld for fld in parse_format(f.read()).fields}


def test_syscall_arguments_are_longs_signed_by_their_c_type():
    fields = _record("syscalls", "sys_enter_openat")
    assert fields["dfd"].type == IntType(64, True)        # `int dfd`, size 8, signed:0
    assert fields["flags"].type == IntType(64, True)
    assert fields["mode"].type == IntType(64, False)      # umode_t
    assert isinstance(fields["filename"].type, PointerType)
    assert fields["__syscall_nr"].type == IntType(32, True)


def test_char_arrays_are_strings_and_data_loc_fields_are_located_strings():
    switch = _record("sched", "sched_switch")
    assert switch["prev_comm"].type == StringType(16)
    assert switch["prev_pid"].type == IntType(32, True)
    exe = _record("sched", "sched_process_exec")
    assert isinstance(exe["filename"].type, DataLocType)


def test_every_format_on_this_machine_types_each_non_common_field():
    paths = glob.glob(f"{ROOT}/*/*/format")
    assert len(paths) > 1000
    for path in paths:
        text = open(path).read()
        fmt = tracefs.parse_format(text)
        record = parse_format(text)
        assert [(f.name, f.offset) for f in record.fields] == \
            [(f.name, f.offset) for f in fmt.args], path
        for fld, src in zip(record.fields, fmt.args):
            if src.data_loc:
                assert isinstance(fld.type, DataLocType), (path, src)
            elif src.array_len is not None:
                assert isinstance(fld.type, (StringType, ArrayType)), (path, src)
            elif "*" in src.c_type:
                assert isinstance(fld.type, PointerType), (path, src)
            else:
                assert isinstance(fld.type, IntType), (path, src)
                assert fld.type.bits == 8 * src.size or src.size not in (1, 2, 4, 8)


@pytest.mark.parametrize("decl,size,expected", [
    ("unsigned char data[8]", 8, ArrayType(IntType(8, False), 8)),
    ("u32 vals[4]", 16, ArrayType(IntType(32, False), 4)),
    ("char name[]", 0, StringType(0)),
])
def test_arrays_from_a_format_text(decl, size, expected):
    text = ("name: demo\nID: 1\nformat:\n"
            "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            f"\tfield:{decl};\toffset:8;\tsize:{size};\tsigned:0;\n")
    (field,) = parse_format(text).fields
    assert field.type == expected and field.offset == 8
