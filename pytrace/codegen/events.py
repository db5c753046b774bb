"""Async actions: one record into the ".events" ring buffer per action.

A record is the u64 action id followed by the action's args laid out as its
TupleType. It is built directly in ring buffer memory (reserve/submit), so large
payloads (joins, many strings) never need the 512-byte stack. When the buffer is
full, slot 0 of ".lost" counts the record (atomically: every CPU shares it).
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace.codegen.function import FunctionCodegen, align_of, c64
from pytrace.codegen.helpers import BPF_RB_FORCE_WAKEUP, RINGBUF_SUBMIT
from pytrace.codegen.module import I8P, I64
from pytrace.resources import EVENTS_MAP, LOST_MAP


def count_lost(fn: FunctionCodegen) -> None:
    key = fn.alloc(4, "lostkey")
    fn.store_int(c64(0), key, 4)
    slot = fn.h.map_lookup(fn.state.map_indices[LOST_MAP], key)
    with fn.if_then(fn.b.icmp_unsigned("!=", slot, I8P(None)), "lost"):
        fn.b.atomic_rmw("add", fn.b.bitcast(slot, I64.as_pointer()), c64(1), "monotonic")


# Wakeups. A wakeup costs the traced task an irq_work and the reader a trip
# through epoll, so records are submitted with BPF_RB_NO_WAKEUP, and the
# reader wakes on its own every runtime.loop.IDLE_WAKEUP_S. The one record
# that takes the ring past WAKEUP_FILL forces a wakeup so the reader drains it
# long before it fills (every record past the mark would be an irq_work each);
# exit() and its like always force one.
BPF_RB_NO_WAKEUP = 1
BPF_RB_AVAIL_DATA = 0
RINGBUF_QUERY = 134
WAKEUP_FILL = 1 / 2


def _submit(fn: FunctionCodegen, record, record_bytes: int) -> None:
    h = fn.h
    # Data not yet consumed, this record included (reserved, not submitted).
    avail = h.call(RINGBUF_QUERY, I64, [h.map_ref(fn.state.map_indices[EVENTS_MAP]),
                                         c64(BPF_RB_AVAIL_DATA)], "avail")
    # mark < avail <= mark + record_bytes, as one unsigned compare.
    mark = int(fn.state.ringbuf_bytes * WAKEUP_FILL)
    crossed = fn.b.icmp_unsigned("<", fn.b.sub(avail, c64(mark + 1)), c64(record_bytes))
    flags = fn.b.select(crossed, c64(BPF_RB_FORCE_WAKEUP), c64(BPF_RB_NO_WAKEUP))
    h.call(RINGBUF_SUBMIT, ir.VoidType(), [record, flags])


def emit(fn: FunctionCodegen, action_id: int, fill=None, wakeup: bool = False) -> None:
    """Reserve a record, write the id, let `fill(payload_ptr)` write the args, submit."""
    action = fn.state.actions[action_id]
    size = 8 + action.args.size
    record = fn.h.ringbuf_reserve(fn.state.map_indices[EVENTS_MAP], size)
    is_null = fn.b.icmp_unsigned("==", record, I8P(None))

    def full():
        count_lost(fn)

    def write():
        fn.store_int(c64(action_id), record, 8)
        if fill is not None:
            fill(fn.gep(record, 8))
        if wakeup:
            fn.h.ringbuf_submit(record, BPF_RB_FORCE_WAKEUP)
        else:
            _submit(fn, record, (size + 8 + 7) & ~7)  # with its header, padded

    fn.if_else(is_null, full, write)


def emit_exprs(fn: FunctionCodegen, action_id: int, exprs: list, wakeup=False) -> None:
    """One record whose fields are the values of `exprs`. Operands are evaluated
    before the reservation (so side effects happen even when the buffer is full);
    strings from comm and str() are then written straight into the record."""
    layout = fn.state.actions[action_id].args
    writers = [fn.prepare_store(e, ty, zero_fill=False) for e, ty in zip(exprs, layout.elems)]

    def fill(payload):
        for write, off in zip(writers, layout.offsets):
            write(fn.gep(payload, off), align_of(off))
    emit(fn, action_id, fill, wakeup)
