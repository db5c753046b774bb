"""compile_program: AST in, BPF ELF object plus Resources out.

The pipeline, in order: expand probes (providers), infer map types over the whole
program, collect maps, then per compile unit a strict type check and its LLVM
function; finally the module is optimised (-O2) and lowered for bpfel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytrace import ast
from pytrace.codegen.function import FunctionCodegen, c64
from pytrace.codegen.module import ModuleBuilder, emit_assembly, emit_object, optimise
from pytrace.codegen.statements import generate
from pytrace.diagnostics import PytraceError, Source
from pytrace.passes.collect import ELAPSED_MAP, collect_maps
from pytrace.passes.expand import expand_probes
from pytrace.passes.state import CompileState, Unit
from pytrace.passes.typecheck import TypeChecker, check_all
from pytrace.resources import ProgramSpec, Resources
from pytrace.settings import resolve as resolve_settings


@dataclass
class Compiled:
    """The result of compiling a program: the BPF object, its resources and IR."""

    object: bytes
    resources: Resources
    ir: str
    attached_count: int
    # PytraceWarnings (with spans) to show before tracing, as bpftrace does.
    warnings: list = field(default_factory=list)
    _module: object = field(default=None, repr=False)

    def optimised_ir(self) -> str:
        """The IR after the -O2 pipeline, as lowered to BPF."""
        return str(self._module)

    def asm(self) -> str:
        """BPF assembly of the optimised module (what `-d asm` prints)."""
        return emit_assembly(self._module)


def compile_program(program: ast.Program, target, *, params: list[str] | None = None,
                    source: Source | None = None, cpid: int = 0,
                    options: dict | None = None) -> Compiled:
    """`options` (from the session) may carry cpid; `cpid` is the same fact directly."""
    cpid = (options or {}).get("cpid", cpid) or 0
    if program.deferred_errors:
        raise program.deferred_errors[0]
    state = CompileState(program, target, list(params or []), source, cpid=cpid)
    # -p: user probes resolve binaries through that process (its maps, its root).
    state.pid = (options or {}).get("pid")
    # --unsafe: system(), signal() and override() are allowed.
    state.unsafe = bool((options or {}).get("unsafe"))
    # -k / -kk: failing helpers are reported (codegen/helper_errors.py).
    state.helper_errors = int((options or {}).get("helper_errors") or 0)
    # BPFTRACE_* variables (read by the session) over the program's config block.
    state.settings = resolve_settings(program.config, (options or {}).get("settings") or {})
    expand_probes(state)
    _check_program_count(state)
    check_all(state)
    maps = collect_maps(state)
    if "elapsed" in state.uses and not any(u.provider.prog_type == "begin"
                                           for u in state.units):
        _add_start_unit(state)

    mb = ModuleBuilder()
    programs = []
    for unit in state.units:
        var_types = TypeChecker(state, strict=True).check_unit(unit)
        fn = FunctionCodegen(mb, state, unit, var_types)
        if unit.provider.prog_type == "begin" and "elapsed" in state.uses:
            _store_start_time(fn)
        generate(fn)
        # Providers whose program type depends on the point (tp_btf or raw
        # tracepoint, fentry's attach_btf_id) say so through program_attrs.
        attrs = unit.provider.program_attrs
        extra = attrs(unit.specs, state.target) if attrs else {}
        programs.append(ProgramSpec(function=unit.function, section=unit.section,
                                    prog_type=extra.pop("prog_type", unit.provider.prog_type),
                                    attach=list(unit.specs), probe_index=unit.probe_index,
                                    span=unit.probe.span, **extra))
    ir_text = str(mb.module)
    try:
        module = optimise(ir_text)
    except RuntimeError as e:  # an LLVM complaint is our bug, not the user's
        raise PytraceError(f"internal error: LLVM rejected the generated IR: {e}") from None
    obj = emit_object(module)
    resources = Resources(maps=maps, actions=list(state.actions), programs=programs,
                          probe_names=list(state.probe_names), positional=list(state.params),
                          config=state.settings.as_dict())
    return Compiled(object=obj, resources=resources, ir=ir_text,
                    attached_count=_attached_count(state), warnings=list(state.warnings),
                    _module=module)


def _check_program_count(state: CompileState) -> None:
    """bpftrace's limits (BPFTRACE_MAX_PROBES, BPFTRACE_MAX_BPF_PROGS), checked
    before any code is made: too many probes can stall the machine, too many
    programs take very long to build. As in 0.17, the program limit counts the
    programs of probes that expand into several."""
    probes, limit = _attached_count(state), state.settings.max_probes
    if probes > limit:
        raise PytraceError(f"Can't attach to {probes} probes because it exceeds the current "
                           f"limit of {limit} probes (raise BPFTRACE_MAX_PROBES with care: "
                           "many probes can make the system crash)")
    per_probe: dict[int, int] = {}
    for unit in state.units:
        if not unit.synthetic:
            per_probe[unit.probe_index] = per_probe.get(unit.probe_index, 0) + 1
    programs = sum(n for n in per_probe.values() if n > 1)
    limit = state.settings.max_bpf_progs
    if programs > limit:
        raise PytraceError(f"Your program is trying to generate more than {programs} BPF "
                           f"programs, which exceeds the current limit of {limit} "
                           "(see BPFTRACE_MAX_BPF_PROGS)")


def _attached_count(state: CompileState) -> int:
    """Probes as bpftrace counts them in "Attaching N probes": one per attach point
    name (a profile probe on every CPU is one), synthetic units not included."""
    names = set()
    for unit in state.units:
        if unit.synthetic:
            continue
        for spec in unit.specs:
            names.add((unit.probe_index, spec.name))
    return len(names)


def _add_start_unit(state: CompileState) -> None:
    """`elapsed` needs the start time written by a BEGIN program; make one."""
    from pytrace.probes import get_provider
    begin = get_provider("BEGIN")
    probe = ast.Probe(attach_points=[ast.AttachPoint("BEGIN")], predicate=None,
                      body=ast.Block([]))
    unit = Unit(probe=probe, probe_index=-1, provider=begin,
                specs=begin.expand(probe.attach_points[0], state.target))
    unit.function, unit.section = f"begin_{len(state.units)}", f"s/{len(state.units)}"
    unit.synthetic = True
    state.units.insert(0, unit)


def _store_start_time(fn: FunctionCodegen) -> None:
    key = fn.alloc(4, "zero")
    fn.store_int(c64(0), key, 4)
    now = fn.alloc(8, "now")
    fn.store_int(fn.h.ktime_get_ns(), now, 8)
    fn.h.map_update(fn.state.map_indices[ELAPSED_MAP], key, now)
