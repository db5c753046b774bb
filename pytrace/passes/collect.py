"""Resource collection: the map list (user maps, then pytrace's own) with sizes.

Map indices are fixed here, before codegen, because generated code references
maps only by index (llvm.bpf.pseudo).
"""

from __future__ import annotations

from pytrace.codegen.maps import key_layout
from pytrace.passes.state import CompileState
from pytrace.resources import EVENTS_MAP, LOST_MAP, MapSpec
from pytrace.types import UINT64, AggregationType, HistType, LhistType

MAX_ENTRIES = 4096          # bpftrace's default map size
RINGBUF_BYTES = 1 << 22     # 4 MiB: must be a power-of-two multiple of the page size
ELAPSED_MAP = ".start"


def collect_maps(state: CompileState) -> list[MapSpec]:
    specs: list[MapSpec] = []
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
            max_entries=MAX_ENTRIES,
            has_bucket_key=isinstance(vt, (HistType, LhistType)),
        ))
    specs.append(MapSpec(EVENTS_MAP, "ringbuf", (), UINT64, 0, 0, RINGBUF_BYTES))
    specs.append(MapSpec(LOST_MAP, "array", (), UINT64, 4, 8, 1))
    if "elapsed" in state.uses:
        specs.append(MapSpec(ELAPSED_MAP, "array", (), UINT64, 4, 8, 1))
    from pytrace.builtins.stacks import stack_map_specs
    specs.extend(stack_map_specs(state.uses))  # kstack/ustack: one map per frame limit
    state.map_indices = {m.name: i for i, m in enumerate(specs)}
    return specs
