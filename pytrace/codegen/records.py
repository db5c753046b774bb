"""Reading fields of records: tracepoint `args` (the program's ctx) and others.

The ctx of a tracepoint program is the raw event record, so a field is a direct
load at its offset; `__data_loc` strings hold (length << 16 | offset) and the
string itself sits at ctx + offset, read with probe_read_str.
"""

from __future__ import annotations

from pytrace.codegen.function import FunctionCodegen, align_of, c64
from pytrace.passes.types_util import is_int, is_signed
from pytrace.probes.tracepoint_format import DataLocType
from pytrace.types import RecordField, RecordType, StringType


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
