"""Resource collection: the map list (user maps, then pytrace's own) with sizes.

Map indices are fixed here, before codegen, because generated code references
maps only by index (llvm.bpf.pseudo).
"""

from __future__ import annotations

from pytrace.passes.state import CompileState
from pytrace.resources import EVENTS_MAP, LOST_MAP, MapSpec, stack_map_specs
from pytrace.types import UINT64, AggregationType, HistType, LhistType, key_layout

MAX_ENTRIES = 4096          # bpftrace's default map size
RINGBUF_BYTES = 1 << 22     # 4 MiB: must be a power-of-two multiple of the page size
PAGE_BYTES = 4096           # what BPFTRACE_PERF_RB_PAGES counts in
ELAPSED_MAP = ".start"


def map_keys_max(state: CompileState) -> int:
    """Keys a user map holds: BPFTRACE_MAP_KEYS_MAX or the config block's
    max_map_keys (pytrace.settings), else bpftrace's 4096."""
    return state.settings.map_keys_max or MAX_ENTRIES


def ringbuf_bytes(state: CompileState) -> int:
    """The events ring buffer: BPFTRACE_PERF_RB_PAGES pages per CPU (bpftrace's
    perf buffers are per CPU; ours is one ring for all, so it gets the sum),
    rounded up to a power of two, at least 64 KiB (a multiple of any page
    size); RINGBUF_BYTES when the variable is not set."""
    pages = state.settings.perf_rb_pages
    if not pages:
        return RINGBUF_BYTES
    want = max(pages * PAGE_BYTES * state.target.num_possible_cpus(), 1 << 16)
    return 1 << (want - 1).bit_length()


def collect_maps(state: CompileState) -> list[MapSpec]:
    specs: list[MapSpec] = []
    max_entries = map_keys_max(state)
    for info in state.maps.values():
        if info.value_type is None:
            continue
        layout = key_layout(info)
        vt = info.value_type
        specs.append(MapSpec(
            name=info.name,
            bpf_type="percpu_hash" if isinstance(vt, AggregationType) else "hash",
            key_types=tuple(info.key_types or ()),
            value_type=vt,
            key_size=layout.size,
            value_size=vt.size,
            max_entries=max_entries,
            has_bucket_key=isinstance(vt, (HistType, LhistType)),
        ))
    state.ringbuf_bytes = ringbuf_bytes(state)
    specs.append(MapSpec(EVENTS_MAP, "ringbuf", (), UINT64, 0, 0, state.ringbuf_bytes))
    specs.append(MapSpec(LOST_MAP, "array", (), UINT64, 4, 8, 1))
    if "elapsed" in state.uses:
        specs.append(MapSpec(ELAPSED_MAP, "array", (), UINT64, 4, 8, 1))
    specs.extend(stack_map_specs(state.uses))  # kstack/ustack: one map per frame limit
    state.map_indices = {m.name: i for i, m in enumerate(specs)}
    return specs
