"""What the passes share: the compile unit list, map facts, actions, and options.

A `Unit` is one BPF program to generate: one probe of the text, attached to one
or more concrete points. Probes whose body depends on the attach point (`probe`,
`args` over a wildcard) become one unit per point, so each program has constant
facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytrace import ast
from pytrace.diagnostics import PytraceError, PytraceWarning, Source, Span
from pytrace.resources import AsyncAction, AttachSpec
from pytrace.settings import Settings
from pytrace.types import UNKNOWN, Type, UnknownType  # noqa: F401 (re-exported)


@dataclass
class Unit:
    """One BPF program to generate: a probe and the concrete points it attaches to."""

    probe: ast.Probe
    probe_index: int
    provider: object
    specs: list[AttachSpec]
    args_type: object = None   # RecordType for `args`, when the provider has one
    probe_id: int | None = None  # index in Resources.probe_names
    function: str = ""
    section: str = ""
    probe_by_cookie: bool = False  # `probe` read from the link's cookie (one program, many points)
    synthetic: bool = False  # added by the compiler (the hidden BEGIN for elapsed), not written


@dataclass
class MapInfo:
    """What the passes agreed about one map: its key and value types."""

    name: str
    span: Span | None
    key_types: tuple[Type, ...] | None = None
    value_type: Type | None = None
    aggregation: bool = False


@dataclass
class CompileState:
    """The state the passes share while compiling one program."""

    program: ast.Program
    target: object
    params: list[str]
    source: Source | None
    cpid: int = 0
    units: list[Unit] = field(default_factory=list)
    maps: dict[str, MapInfo] = field(default_factory=dict)
    actions: list[AsyncAction] = field(default_factory=list)
    probe_names: list[str] = field(default_factory=list)
    uses: set[str] = field(default_factory=set)  # features needing support maps ("elapsed")
    pid: int | None = None  # -p: user probes resolve binaries through that process
    unsafe: bool = False    # --unsafe: system(), signal() and override() are allowed
    helper_errors: int = 0  # -k / -kk: failing helpers are reported
    # BPFTRACE_* variables and the config block (pytrace.settings), set by the compiler.
    settings: Settings = field(default_factory=Settings)
    ringbuf_bytes: int = 0  # the events ring buffer's size, set by collect_maps
    map_indices: dict[str, int] = field(default_factory=dict)
    # Per-node facts the checker leaves for codegen (action ids, constants), by id(node).
    node_info: dict[int, dict] = field(default_factory=dict)

    _c_types: object = None  # pytrace.passes.c_types.CTypes, built on first use

    def c_types(self):
        """Named C types: the script's definitions over the target's BTF."""
        if self._c_types is None:
            from pytrace.passes.c_types import CTypes
            from pytrace.probes.btf_args import vmlinux
            self._c_types = CTypes(vmlinux(self.target), self.program.c_definitions,
                                   self.program.includes)
        return self._c_types

    def info(self, node: ast.Node) -> dict:
        return self.node_info.setdefault(id(node), {})

    warnings: list[PytraceWarning] = field(default_factory=list)

    def warn(self, message: str, span: Span | None) -> None:
        """A located warning, once (bodies are checked more than once)."""
        if not any(w.message == message and w.span == span for w in self.warnings):
            self.warnings.append(PytraceWarning(message, span))

    def action(self, action: AsyncAction) -> int:
        """Index of an equal action, adding it if new (a body is checked more than once)."""
        for i, existing in enumerate(self.actions):
            if existing == action:
                return i
        self.actions.append(action)
        return len(self.actions) - 1

    def probe_id(self, name: str) -> int:
        if name not in self.probe_names:
            self.probe_names.append(name)
        return self.probe_names.index(name)


def error(message: str, node: ast.Node | None = None) -> PytraceError:
    return PytraceError(message, node.span if node is not None else None)
