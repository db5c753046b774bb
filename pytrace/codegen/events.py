"""Async actions: one record into the ".events" ring buffer per action.

A record is the u64 action id followed by the action's args laid out as its
TupleType. It is built directly in ring buffer memory (reserve/submit), so large
payloads (joins, many strings) never need the 512-byte stack. When the buffer is
full, slot 0 of ".lost" counts the record (atomically: every CPU shares it).
"""

from __future__ import annotations

from pytrace.codegen.function import FunctionCodegen, align_of, c64
from pytrace.codegen.helpers import BPF_RB_FORCE_WAKEUP
from pytrace.codegen.module import I8P, I64
from pytrace.resources import EVENTS_MAP, LOST_MAP


def count_lost(fn: FunctionCodegen) -> None:
    key = fn.alloc(4, "lostkey")
    fn.store_int(c64(0), key, 4)
    slot = fn.h.map_lookup(fn.state.map_indices[LOST_MAP], key)
    with fn.if_then(fn.b.icmp_unsigned("!=", slot, I8P(None)), "lost"):
        fn.b.atomic_rmw("add", fn.b.bitcast(slot, I64.as_pointer()), c64(1), "monotonic")


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
        fn.h.ringbuf_submit(record, BPF_RB_FORCE_WAKEUP if wakeup else 0)

    fn.if_else(is_null, full, write)


def emit_values(fn: FunctionCodegen, action_id: int, values: list, wakeup=False) -> None:
    """`values` are (ir value, source type) for each field of the action's args, already
    evaluated (so no helper runs while the record is reserved)."""
    layout = fn.state.actions[action_id].args

    def fill(payload):
        for (value, src_ty), ty, off in zip(values, layout.elems, layout.offsets):
            fn.store(ty, value, fn.gep(payload, off), src_ty, align_of(off))
    emit(fn, action_id, fill, wakeup)
