"""Map access: building keys, reading and writing values, and per-CPU aggregation slots.

Keys are zeroed before fields are stored so padding bytes are defined (the verifier
requires initialised stack memory for helper arguments, and equal keys must be
equal bytes). A map without keys uses the single u64 key 0; hist/lhist maps put
the u64 bucket index after the user keys.

Within one probe a key built once is used again (same layout, same stable key
expressions) and an integer read once is not looked up again until something
writes that map: see pytrace.codegen.reuse.
"""

from __future__ import annotations

from pytrace import ast
from pytrace.codegen import helper_errors
from pytrace.codegen.function import FunctionCodegen, align_of, c64
from pytrace.codegen.helpers import BPF_ANY
from pytrace.codegen.module import I8P, I64
from pytrace.codegen.reuse import signature
from pytrace.types import key_layout


def map_index(fn: FunctionCodegen, name: str) -> int:
    return fn.state.map_indices[name]


def key_signature(m: ast.Map):
    """(signatures of the key expressions, variables they read), or None when a key
    may evaluate differently a second time."""
    sigs, deps = [], set()
    for k in m.keys:
        s = signature(k)
        if s is None:
            return None
        sigs.append(s[0])
        deps |= s[1]
    return tuple(sigs), frozenset(deps)


def build_key(fn: FunctionCodegen, m: ast.Map, bucket=None):
    info = fn.state.maps[m.name]
    layout = key_layout(info)
    ks = key_signature(m) if bucket is None else None
    if ks is not None:
        # Same bytes as a key already on the stack (any map with this layout).
        ptr = fn.reuse.get(("key", layout, ks[0]))
        if ptr is not None:
            return ptr
    ptr = fn.alloc(layout.size, "key")
    # Every field store writes all its bytes, so only padding (or the u64 0 key of a
    # keyless map, or a bucket slot written later) needs zeroing.
    if not m.keys or sum(t.size for t in layout.elems) != layout.size:
        fn.zero(ptr, layout.size)
    for k, ty, off in zip(m.keys, layout.elems, layout.offsets):
        fn.store_expr(k, ty, fn.gep(ptr, off), align_of(off))
    if bucket is not None:
        fn.store_int(bucket, fn.gep(ptr, layout.offsets[-1]), 8)
    if ks is not None:
        fn.reuse.put(("key", layout, ks[0]), ptr, ks[1])
    return ptr


def read(fn: FunctionCodegen, m: ast.Map):
    """The map's value for these keys, or zero when absent."""
    info = fn.state.maps[m.name]
    vt = info.value_type
    ks = key_signature(m)
    cached = None
    if ks is not None and (info.aggregation or vt.is_integer):
        cached = ("read", m.name, ks[0])
        value = fn.reuse.get(cached)
        if value is not None:
            return value
    value = _lookup(fn, m, info, vt)
    if cached is not None:
        fn.reuse.put(cached, value, ks[1] | {m.name})
    return value


def _lookup(fn: FunctionCodegen, m: ast.Map, info, vt):
    key = build_key(fn, m)
    found = fn.h.map_lookup(map_index(fn, m.name), key)
    is_null = fn.b.icmp_unsigned("==", found, I8P(None))
    if info.aggregation:
        # count/sum: the slot; min/max: value then flag; avg: count then total.
        # Reading an aggregation in BPF sees only this CPU's slot (as bpftrace).
        def load():
            if type(vt).__name__ in ("AvgType",):
                count = fn.load_int(found, 8, False)
                total = fn.load_int(fn.gep(found, 8), 8, vt.signed)
                safe = fn.b.select(fn.b.icmp_unsigned("==", count, c64(0)), c64(1), count)
                return fn.divide("/", total, safe, vt.signed)
            return fn.load_int(found, 8, vt.signed)
        return fn.select_int(is_null, lambda: c64(0), load)
    if vt.is_integer:
        return fn.select_int(is_null, lambda: c64(0), lambda: fn.load(vt, found))
    buf = fn.alloc(vt.size, "val")
    fn.zero(buf, vt.size)
    with fn.if_then(fn.b.not_(is_null), "copy"):
        fn.copy(buf, found, vt.size, 8)
    return buf


def write(fn: FunctionCodegen, m: ast.Map, value, src_ty, at=None) -> None:
    """`at`: the span -k reports a failed update at."""
    info = fn.state.maps[m.name]
    vt = info.value_type
    key = build_key(fn, m)
    buf = fn.alloc(vt.size, "val")
    fn.store(vt, value, buf, src_ty)
    ret = fn.h.map_update(map_index(fn, m.name), key, buf, BPF_ANY)
    helper_errors.check(fn, ret, "map_update_elem", at)
    fn.reuse.forget(m.name)


def delete(fn: FunctionCodegen, m: ast.Map, at=None) -> None:
    key = build_key(fn, m)
    ret = fn.h.map_delete(map_index(fn, m.name), key)
    helper_errors.check(fn, ret, "map_delete_elem", at)
    fn.reuse.forget(m.name)


def update_slot(fn: FunctionCodegen, m: ast.Map, on_found, init, bucket=None,
                at=None) -> None:
    """Aggregation update: modify this CPU's slot in place if the key exists, else
    insert a fresh slot (per-CPU maps: each CPU writes only its own slot)."""
    info = fn.state.maps[m.name]
    size = info.value_type.size
    key = build_key(fn, m, bucket)
    idx = map_index(fn, m.name)
    found = fn.h.map_lookup(idx, key)
    is_null = fn.b.icmp_unsigned("==", found, I8P(None))

    def present():
        on_found(found)

    def absent():
        buf = fn.alloc(size, "slot")
        fn.zero(buf, size)
        init(buf)
        ret = fn.h.map_update(idx, key, buf, BPF_ANY)
        helper_errors.check(fn, ret, "map_update_elem", at)

    fn.if_else(is_null, absent, present)
    fn.reuse.forget(m.name)


def add_to_slot(fn: FunctionCodegen, m: ast.Map, value, bucket=None, at=None) -> None:
    """count/sum/hist/lhist: this CPU's slot += value, or a new slot holding value.

    The in-place add is one `lock add` where a load, add and store take three;
    the slot is this CPU's own, so the lock is uncontended."""

    def add(ptr):
        fn.b.atomic_rmw("add", fn.b.bitcast(ptr, I64.as_pointer()), value, "monotonic")

    update_slot(fn, m, add, lambda buf: fn.store_int(value, buf, 8), bucket, at)


def replace_slot_unless(fn: FunctionCodegen, m: ast.Map, keep, init, at=None) -> None:
    """min/max: leave this CPU's slot alone when keep(slot) says so, else write a
    fresh slot made by init(buf), new key or not, with one update call. Most
    events keep the slot, and a new key and a better value share one path."""
    info = fn.state.maps[m.name]
    size = info.value_type.size
    key = build_key(fn, m)
    idx = map_index(fn, m.name)
    found = fn.h.map_lookup(idx, key)
    check, write, done = fn.block("minmax.check"), fn.block("minmax.write"), fn.block("minmax.end")
    fn.b.cbranch(fn.b.icmp_unsigned("==", found, I8P(None)), write, check)
    fn.place(check)
    keep(found, done, write)
    fn.place(write)
    buf = fn.alloc(size, "slot")
    init(buf)
    ret = fn.h.map_update(idx, key, buf, BPF_ANY)
    helper_errors.check(fn, ret, "map_update_elem", at)
    fn.b.branch(done)
    fn.place(done)
    fn.reuse.forget(m.name)
