"""Reading fields of records: tracepoint `args` (the program's ctx) and others.

The ctx of a tracepoint program is the raw event record, so a field is a direct
load at its offset; `__data_loc` strings hold (length << 16 | offset) and the
string itself sits at ctx + offset, read with probe_read_str.
"""

from __future__ import annotations

from pytrace.codegen.function import FunctionCodegen, align_of, c64
from pytrace.diagnostics import PytraceError
from pytrace.probes.tracepoint_format import DataLocType
from pytrace.types import RecordField, RecordType, StringType, is_int, is_signed


# A struct value is copied to the stack (512 bytes in all, shared with the rest).
MAX_STRUCT_COPY = 256


def read_field(fn: FunctionCodegen, base, record: RecordType, f: RecordField):
    ptr = fn.gep(base, f.offset)
    ty = f.type
    if isinstance(ty, DataLocType):
        loc = fn.load_int(ptr, 4, False)
        offset = fn.b.and_(loc, c64(0xFFFF))
        buf = fn.alloc(ty.size, "dataloc")
        fn.zero(buf, ty.size)
        src = fn.b.gep(base, [offset])
        fn.h.probe_read_str(buf, ty.size, src)
        return buf
    if is_int(ty):
        return fn.load_int(ptr, ty.size, is_signed(ty))
    if isinstance(ty, StringType):
        # Copy out of ctx: ctx memory cannot be handed to map/ringbuf helpers directly.
        buf = fn.alloc(ty.size, "field")
        fn.copy(buf, ptr, ty.size, align_of(f.offset))
        return buf
    buf = fn.alloc(ty.size, "field")
    fn.copy(buf, ptr, ty.size, align_of(f.offset))
    return buf


def read_memory_field(fn: FunctionCodegen, address, f: RecordField, span=None):
    """A member of a struct in kernel memory at `address` (an i64), read with probe_read.

    Integers and pointers come back as i64 (bitfields shifted and masked);
    strings and arrays as a stack buffer; an embedded struct as its address."""
    from pytrace.codegen import helper_errors
    ty = f.type
    place = fn.b.add(address, c64(f.offset))
    if isinstance(ty, RecordType):
        return read_memory_bytes(fn, place, ty.size, span)
    if is_int(ty):
        size = ty.size
        if f.bit_size:
            size = (f.bit_offset + f.bit_size + 7) // 8
        buf = fn.alloc(8, "member")
        fn.zero(buf, 8)
        ret = fn.h.probe_read(buf, size, fn.b.inttoptr(place, buf.type))
        helper_errors.check(fn, ret, "probe_read", span, read=True)
        if f.bit_size:
            raw = fn.load_int(buf, 8, False)
            value = fn.b.and_(fn.b.lshr(raw, c64(f.bit_offset)), c64((1 << f.bit_size) - 1))
            return value
        return fn.load_int(buf, size, is_signed(ty))
    if isinstance(ty, StringType):
        buf = fn.alloc(ty.size, "member")
        fn.zero(buf, ty.size)
        ret = fn.h.probe_read_str(buf, ty.size, fn.b.inttoptr(place, buf.type))
        helper_errors.check(fn, ret, "probe_read", span, read=True)
        return buf
    return read_memory_bytes(fn, place, ty.size, span)


def read_memory_bytes(fn: FunctionCodegen, address, size: int, span=None):
    """`size` bytes at `address` (an i64) copied to a zeroed stack buffer."""
    from pytrace.codegen import helper_errors
    if size > MAX_STRUCT_COPY:
        raise PytraceError(f"A struct of {size} bytes is too big to copy onto the BPF stack "
                           f"(at most {MAX_STRUCT_COPY}): read its fields instead", span)
    buf = fn.alloc(size, "member")
    fn.zero(buf, size)
    ret = fn.h.probe_read(buf, size, fn.b.inttoptr(address, buf.type))
    helper_errors.check(fn, ret, "probe_read", span, read=True)
    return buf
