"""Resource collection: the map list (user maps, then pytrace's own) with sizes.

Map indices are fixed here, before codegen, because generated code references
maps only by index (llvm.bpf.pseudo).
"""

from __future__ import annotations

from pytrace import ast
from pytrace.codegen.maps import key_layout
from pytrace.passes.state import CompileState, error
from pytrace.resources import EVENTS_MAP, LOST_MAP, MapSpec
from pytrace.types import UINT64, AggregationType, HistType, LhistType

MAX_ENTRIES = 4096          # bpftrace's default map size
RINGBUF_BYTES = 1 << 22     # 4 MiB: must be a power-of-two multiple of the page size
ELAPSED_MAP = ".start"


# A map's max_entries is a u32 in bpf(2).
MAX_KEYS_LIMIT = (1 << 32) - 1


def map_keys_max(state: CompileState) -> int:
    """Keys a user map holds: `config = { max_map_keys = N }`, else
    BPFTRACE_MAP_KEYS_MAX (options["map_keys_max"]), else bpftrace's 4096."""
    config = state.program.config
    for name, value in (config.settings if config is not None else ()):
        if name == "max_map_keys":
            if not isinstance(value, ast.Integer) or value.value < 1:
                raise error("max_map_keys must be a positive integer", value)
            if value.value > MAX_KEYS_LIMIT:
                raise error(f"max_map_keys must be at most {MAX_KEYS_LIMIT}", value)
            return value.value
    if state.map_keys_max > MAX_KEYS_LIMIT:
        raise error(f"BPFTRACE_MAP_KEYS_MAX must be at most {MAX_KEYS_LIMIT}", None)
    return state.map_keys_max or MAX_ENTRIES


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
    specs.append(MapSpec(EVENTS_MAP, "ringbuf", (), UINT64, 0, 0, RINGBUF_BYTES))
    specs.append(MapSpec(LOST_MAP, "array", (), UINT64, 4, 8, 1))
    if "elapsed" in state.uses:
        specs.append(MapSpec(ELAPSED_MAP, "array", (), UINT64, 4, 8, 1))
    from pytrace.builtins.stacks import stack_map_specs
    specs.extend(stack_map_specs(state.uses))  # kstack/ustack: one map per frame limit
    state.map_indices = {m.name: i for i, m in enumerate(specs)}
    return specs
