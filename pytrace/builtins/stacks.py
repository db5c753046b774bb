"""Stack builtins: kstack and ustack, as variables and as kstack(mode, N) calls.

A stack value is the id bpf_get_stackid gives for the current call chain in a
BPF_MAP_TYPE_STACK_TRACE map (ustack values also carry the pid, so userspace
can symbolise the frames against that process's maps). Userspace reads the
frames back by id (pytrace.runtime.symbols).

There is one stack map per frame limit, each value N * 8 bytes, so the kernel
stores (and hashes) only the first N frames: `@[kstack(3)] = count()` then
counts equal 3-frame stacks under one id, as bpftrace does.

Modes: bpftrace and perf (bpftrace 0.17's), plus raw (newer bpftrace versions).
"""

from __future__ import annotations

from pytrace import ast
from pytrace.builtins import function, variable
from pytrace.codegen.function import c64
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.resources import stack_map_name
from pytrace.types import StackType, StringType

MODES = ("bpftrace", "perf", "raw")
DEFAULT_LIMIT = 127           # bpftrace's default frame count
MAX_LIMIT = 1024              # bpftrace's upper bound for kstack(N)

GET_STACKID = 27
BPF_F_USER_STACK = 1 << 8


# ---- type rules ------------------------------------------------------------------

def _max_stack(checker) -> int:
    """kernel.perf_event_max_stack: stack maps with longer values cannot be created."""
    target = checker.state.target
    try:
        return int(target.read_file("/proc/sys/kernel/perf_event_max_stack").decode())
    except (AttributeError, OSError, ValueError):
        return DEFAULT_LIMIT


def _arg_kind(checker, e) -> str:
    """How bpftrace names what was passed where a literal was expected."""
    if isinstance(e, ast.Identifier):
        return "stack mode" if e.name in MODES else "none"
    t = checker.expr(e)
    if isinstance(t, StringType):
        return "string"
    if is_int(t) or isinstance(t, UnknownType):
        return "integer"
    return str(t)


def _mode(checker, call, e) -> str:
    if isinstance(e, ast.Identifier):
        if e.name not in MODES:
            raise error(f"Unknown identifier: '{e.name}'", e)
        return e.name
    raise error(f"{call.name}() expects a stack mode literal "
                f"({_arg_kind(checker, e)} provided)", call)


def _limit(checker, call, e) -> int:
    if isinstance(e, ast.Identifier) and e.name not in MODES:
        raise error(f"Unknown identifier: '{e.name}'", e)
    value = None if isinstance(e, ast.Identifier) else checker.fold(e)
    if value is None or isinstance(e, ast.Variable):
        raise error(f"{call.name}() expects a integer literal "
                    f"({_arg_kind(checker, e)} provided)", call)
    value &= (1 << 64) - 1  # bpftrace reads the literal as unsigned: -1 is huge
    if value > MAX_LIMIT:
        raise error(f"{call.name}([int limit]): limit shouldn't exceed {MAX_LIMIT}, "
                    f"{value} given", call)
    if value < 1:
        raise error(f"{call.name}([int limit]): limit should be at least 1, {value} given",
                    call)
    most = _max_stack(checker)
    if value > most:
        raise error(f"{call.name}([int limit]): limit {value} exceeds "
                    f"kernel.perf_event_max_stack ({most}); raise it with "
                    f"sysctl kernel.perf_event_max_stack={value}", call)
    return value


def _stack_type(checker, kernel: bool, mode: str, limit: int) -> StackType:
    checker.state.uses.add(f"stacks:{limit}")
    return StackType(kernel=kernel, limit=limit, mode=mode)


def _call_check(kernel: bool):
    def check(checker, call):
        args = call.args
        if len(args) > 2:
            raise error(f"{call.name}() takes up to 2 arguments ({len(args)} provided)", call)
        mode, limit = checker.state.settings.stack_mode, DEFAULT_LIMIT
        if len(args) == 2:
            mode = _mode(checker, call, args[0])
            limit = _limit(checker, call, args[1])
        elif len(args) == 1:
            if isinstance(args[0], ast.Identifier):
                mode = _mode(checker, call, args[0])
            else:
                limit = _limit(checker, call, args[0])
        return _stack_type(checker, kernel, mode, limit)
    return check


def _variable_type(kernel: bool):
    # The mode without one written: BPFTRACE_STACK_MODE or the config block's stack_mode.
    return lambda checker, e: _stack_type(checker, kernel, checker.state.settings.stack_mode,
                                          DEFAULT_LIMIT)


# ---- code -----------------------------------------------------------------------------

def _stack_codegen(kernel: bool):
    def gen(fn, e):
        from pytrace.codegen.module import I64
        stype = e.ty
        index = fn.state.map_indices[stack_map_name(stype.limit)]
        flags = 0 if kernel else BPF_F_USER_STACK
        # A negative id (no stack, -EEXIST on a bucket collision) prints as an
        # empty stack: userspace looks ids up and finds nothing.
        stack_id = fn.h.call(GET_STACKID, I64, [fn.ctx, fn.h.map_ref(index), c64(flags)])
        buf = fn.alloc(stype.size, "stack")
        fn.store_int(stack_id, buf, 8)
        if not kernel:
            fn.store_int(fn.b.lshr(fn.h.get_current_pid_tgid(), c64(32)), fn.gep(buf, 8), 8)
        return buf
    return gen


for _name, _kernel in (("kstack", True), ("ustack", False)):
    variable(_name, _variable_type(_kernel), _stack_codegen(_kernel))
    function(_name, check=_call_check(_kernel), codegen=_stack_codegen(_kernel))
