"""Tracepoint format files (events/CAT/EVENT/format) as the record type of `args`.

Field types come from the declared C type plus the size/signed columns: char arrays
and `__data_loc char[]` are strings, `T *` are pointers, everything else an integer
of the stated size. Syscall tracepoints declare `int dfd` with size 8 (the kernel
stores every syscall argument as a long), so signedness comes from the C type name
as well as the signed column, which says 0 for those.
"""

from __future__ import annotations

import re

from pytrace.types import (ArrayType, IntType, PointerType, RecordField, RecordType,
                           StringType, value_type)

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

_SIGNED_NAMES = {"int", "long", "short", "long long", "signed char", "pid_t", "ssize_t",
                 "off_t", "loff_t", "s8", "s16", "s32", "s64", "__s8", "__s16", "__s32",
                 "__s64", "int8_t", "int16_t", "int32_t", "int64_t", "time64_t", "clockid_t"}


@value_type
class DataLocType(StringType):
    """A `__data_loc char[]` field: a u32 (len << 16 | offset) locating a string."""


_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>-?\d+);")


def field_type(decl: str, size: int, signed: bool):
    decl = decl.strip()
    if decl.startswith("__data_loc"):
        return DataLocType(64)
    array = re.search(r"\[(\d*)\]\s*$", decl)
    name_part = re.sub(r"\[\d*\]\s*$", "", decl).strip()
    base = re.sub(r"\s*\b\w+$", "", name_part).strip()  # drop the field name
    base = re.sub(r"\b(const|volatile|__user)\b", "", base).strip()
    base = re.sub(r"\s+", " ", base)
    if array:
        count = int(array.group(1) or 0)
        if base == "char":
            return StringType(count or size)
        elem_size = size // count if count else 1
        elem = IntType(elem_size * 8 if elem_size in (1, 2, 4, 8) else 8, signed)
        return ArrayType(elem, count or size // max(elem_size, 1))
    if "*" in name_part:
        return PointerType(None, c_name=base if base.endswith("*") else base + " *")
    is_signed = signed or base in _SIGNED_NAMES
    bits = size * 8 if size in (1, 2, 4, 8) else 64
    return IntType(bits, is_signed)


def parse_format(text: str) -> RecordType:
    """The non-common fields of a format file as a record (offsets from the ctx start)."""
    fields = []
    size = 0
    for m in _FIELD.finditer(text):
        decl = m.group("decl")
        off, fsize = int(m.group("off")), int(m.group("size"))
        size = max(size, off + fsize)
        name = re.sub(r"\[\d*\]\s*$", "", decl.strip()).split()[-1].lstrip("*")
        if name.startswith("common_"):
            continue
        fields.append(RecordField(name, field_type(decl, fsize, m.group("signed") == "1"), off))
    return RecordType("", tuple(fields), size)
