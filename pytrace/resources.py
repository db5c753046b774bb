"""Resources: everything the runtime needs besides the BPF object, as plain data.

The passes produce one `Resources` value; codegen references maps by their
index in `maps` and async actions by their index in `actions`; the runtime (or
a remote agent's host side) creates the maps, loads the programs, decodes ring
buffer records and prints maps from this value alone, never from the AST.

Ring buffer records (one BPF ring buffer, map named ".events") start with a
u64 action id, the index in `actions`; the payload after those 8 bytes is laid
out as `AsyncAction.args` (a TupleType).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytrace.diagnostics import Span
from pytrace.types import StackType, TupleType, Type

# Names of maps pytrace makes for itself; user maps start with "@".
EVENTS_MAP = ".events"      # BPF_MAP_TYPE_RINGBUF carrying async actions
LOST_MAP = ".lost"          # array[1] u64: records the ring buffer could not take
STACKS_MAP = ".stacks"      # BPF_MAP_TYPE_STACK_TRACE for kstack/ustack


@dataclass
class MapSpec:
    """One BPF map. For user maps, `key_types` are the key fields as written
    (empty for a keyless map, whose BPF key is a single u64 0); hist/lhist maps
    have one more u64 key field, the bucket index, after them."""

    name: str
    bpf_type: str  # hash, percpu_hash, lru_hash, array, percpu_array, ringbuf, stack_trace
    key_types: tuple[Type, ...]
    value_type: Type
    key_size: int
    value_size: int
    max_entries: int
    # Set for maps with a bucket index after the user keys (hist/lhist).
    has_bucket_key: bool = False

    @property
    def key_layout(self) -> TupleType:
        return TupleType(tuple(self.key_types))

    @property
    def is_user_map(self) -> bool:
        return self.name.startswith("@")


STACK_MAP_ENTRIES = 4096


def stack_map_name(limit: int) -> str:
    """kstack/ustack ids live in one stack_trace map per frame limit."""
    return STACKS_MAP if limit == StackType().limit else f"{STACKS_MAP}_{limit}"


def stack_map_specs(uses: set[str]) -> list[MapSpec]:
    """The stack maps a program needs, from the limits its checker recorded."""
    limits = sorted(int(u.split(":", 1)[1]) for u in uses if u.startswith("stacks:"))
    return [MapSpec(stack_map_name(n), "stack_trace", (), StackType(), 4, 8 * n,
                    STACK_MAP_ENTRIES) for n in limits]


@dataclass
class AsyncAction:
    """Work the BPF side asks userspace to do, identified by its index.

    kind: printf, print_map, print_value, time, exit, clear, zero, join, cat,
    system, errorf, warnf, helper_error ...
    """

    kind: str
    args: TupleType = field(default_factory=TupleType)
    fmt: str | None = None       # printf/time/cat/system format
    map_name: str | None = None  # print_map/clear/zero
    options: dict = field(default_factory=dict)  # top, div, delim, line/col ...


@dataclass
class AttachSpec:
    """One concrete attach point after wildcard expansion."""

    provider: str          # canonical provider name
    name: str              # full probe name, as `probe` prints it
    target: str = ""       # tracepoint category, binary path, event name ...
    func: str = ""         # function / event / symbol
    offset: int = 0        # file offset (uprobe) or function offset (kprobe)
    options: dict = field(default_factory=dict)  # freq, period, pid, ref_ctr_offset, btf_id ...


@dataclass
class ProgramSpec:
    """One BPF program (one ELF section) and where it attaches."""

    function: str          # symbol name in the ELF object
    section: str           # ELF section name
    prog_type: str         # tracepoint, kprobe, raw_tracepoint, perf_event, tracing, begin, end
    attach: list[AttachSpec] = field(default_factory=list)
    expected_attach_type: int = 0
    attach_btf_id: int = 0
    probe_index: int = 0   # which Probe of the program text
    span: Span | None = None  # the probe's source span, for verifier errors


@dataclass
class Resources:
    """Everything a compiled program needs at load and run time, beside its BPF object."""

    maps: list[MapSpec] = field(default_factory=list)
    actions: list[AsyncAction] = field(default_factory=list)
    programs: list[ProgramSpec] = field(default_factory=list)
    probe_names: list[str] = field(default_factory=list)  # for the `probe` builtin (ids)
    positional: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def map_index(self, name: str) -> int:
        for i, m in enumerate(self.maps):
            if m.name == name:
                return i
        raise KeyError(name)

    def map(self, name: str) -> MapSpec:
        return self.maps[self.map_index(name)]

    @property
    def user_maps(self) -> list[MapSpec]:
        return [m for m in self.maps if m.is_user_map]
