"""A tracepoint's format (parsed by kernel/tracefs.py) as the record type of `args`.

Field types come from the declared C type plus the size/signed columns: char arrays
and `__data_loc char[]` are strings, `T *` are pointers, everything else an integer
of the stated size. Syscall tracepoints declare `int dfd` with size 8 (the kernel
stores every syscall argument as a long), so signedness comes from the C type name
as well as the signed column, which says 0 for those.
"""

from __future__ import annotations

import re

from pytrace.kernel.tracefs import TracepointField
from pytrace.kernel.tracefs import parse_format as parse_format_file
from pytrace.types import (ArrayType, IntType, PointerType, RecordField, RecordType,
                           StringType, value_type)

_SIGNED_NAMES = {"int", "long", "short", "long long", "signed char", "pid_t", "ssize_t",
                 "off_t", "loff_t", "s8", "s16", "s32", "s64", "__s8", "__s16", "__s32",
                 "__s64", "int8_t", "int16_t", "int32_t", "int64_t", "time64_t", "clockid_t"}


@value_type
class DataLocType(StringType):
    """A `__data_loc char[]` field: a u32 (len << 16 | offset) locating a string."""


def field_type(field: TracepointField):
    if field.data_loc:
        return DataLocType(64)
    base = re.sub(r"\b(const|volatile|__user)\b", "", field.c_type)
    base = " ".join(base.split())
    if field.array_len is not None:
        count = field.array_len
        if base == "char":
            return StringType(count or field.size)
        elem_size = field.size // count if count else 1
        elem = IntType(elem_size * 8 if elem_size in (1, 2, 4, 8) else 8, field.signed)
        return ArrayType(elem, count or field.size // max(elem_size, 1))
    if "*" in field.c_type:
        return PointerType(None, c_name=base if base.endswith("*") else base + " *")
    bits = field.size * 8 if field.size in (1, 2, 4, 8) else 64
    return IntType(bits, field.signed or base in _SIGNED_NAMES)


def parse_format(text: str) -> RecordType:
    """The non-common fields of a format file as a record (offsets from the ctx start)."""
    fmt = parse_format_file(text)
    size = max((f.offset + f.size for f in fmt.fields), default=0)
    return RecordType("", tuple(RecordField(f.name, field_type(f), f.offset)
                                for f in fmt.args), size)
