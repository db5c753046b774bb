"""Builtins with effects outside the trace: cat and system (userspace actions with a
printf-style format), and signal and override (helpers that change what the traced
task does). system, signal and override run only with --unsafe, as in bpftrace."""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import function
from pytrace.builtins.output import check_format_args
from pytrace.codegen import events
from pytrace.codegen.function import c64
from pytrace.codegen.module import I64
from pytrace.output.printf import format_printf
from pytrace.passes.state import UnknownType, error
from pytrace.passes.typecheck import describe
from pytrace.passes.types_util import contains_unknown, is_int, is_signed
from pytrace.resources import AsyncAction, Resources
from pytrace.types import VOID, StringType, TupleType

OVERRIDE_RETURN = 58   # bpf_override_return(ctx, rc)
SEND_SIGNAL = 109      # bpf_send_signal(sig): to the current task's process

# The names bpftrace 0.17 accepts, with or without "SIG" and in any case. Its own
# table lacks SEGV, STKFLT, STOP, PROF, IO, PWR and SYS; they are valid Linux
# signals, so they are accepted here too (a superset: no valid program changes).
SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
    "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
    "WINCH": 28, "POLL": 29, "PWR": 30, "SYS": 31,
}
MAX_SIGNAL = 64

# Probes that run in no task of interest (BEGIN/END run in pytrace itself; timers
# and perf events interrupt whatever is on the CPU): bpftrace refuses signal() there.
NO_SIGNAL_PROVIDERS = ("BEGIN", "END", "interval", "software", "hardware")


def _register(checker, call, action: AsyncAction) -> None:
    """Actions are recorded only in the strict pass, once every type is settled."""
    if checker.strict:
        checker.state.info(call)["action"] = checker.state.action(action)


def _require_unsafe(checker, call) -> None:
    if not checker.state.unsafe:
        raise error(f"{call.name}() is an unsafe function being used in safe mode", call)


def _arg_count(call, name: str) -> None:
    """bpftrace's wording for builtins that take exactly one argument."""
    if not call.args:
        raise error(f"{name}() requires at least one argument (0 provided)", call)
    if len(call.args) > 1:
        raise error(f"{name}() takes up to one argument ({len(call.args)} provided)", call)


# ---- cat, system: a formatted string that userspace acts on ----------------------

def _format_check(kind: str):
    """The check for `kind(fmt, args...)`: printf's rules under the function's name."""
    def check(checker, call):
        if kind == "system":
            _require_unsafe(checker, call)
        if not call.args:
            raise error(f"{kind}() requires at least one argument (0 provided)", call)
        if not isinstance(call.args[0], ast.String):
            t = checker.expr(call.args[0])
            raise error(f"{kind}() expects a string literal ({_kind_of(t)} provided)", call)
        checker.expr(call.args[0])
        types = check_format_args(checker, call, kind)
        if not any(contains_unknown(t) for t in types):
            _register(checker, call, AsyncAction(kind, TupleType(tuple(types)),
                                                 fmt=call.args[0].value))
        return VOID
    return check


def _kind_of(t) -> str:
    return "string" if isinstance(t, StringType) else "integer" if is_int(t) else describe(t)


def _format_codegen(fn, call):
    events.emit_exprs(fn, fn.state.info(call)["action"], call.args[1:])


# ---- signal ------------------------------------------------------------------------

def signal_number(name: str) -> int | None:
    """"SIGUSR1", "usr1", "Kill" -> the signal's number; None for an unknown name."""
    upper = name.upper()
    if upper.startswith("SIG"):
        upper = upper[3:]
    return SIGNALS.get(upper)


def _literal_int(checker, e) -> int | None:
    """The value of an integer literal (`9`, `-1`, `$1`), checked at compile time."""
    if isinstance(e, (ast.Integer, ast.PositionalParam)) or (
            isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Integer)):
        return checker.fold(e)
    return None


def _literal_string(checker, e) -> str | None:
    """The text of a string literal: "KILL", or str($1) as bpftrace counts it."""
    if isinstance(e, ast.String):
        return e.value
    if (isinstance(e, ast.Call) and e.name == "str" and len(e.args) == 1
            and isinstance(e.args[0], ast.PositionalParam)):
        return checker.positional(e.args[0]) or ""
    return None


def _signal_check(checker, call):
    _require_unsafe(checker, call)
    _arg_count(call, "signal")
    arg = call.args[0]
    t = checker.expr(arg)
    name, number = _literal_string(checker, arg), _literal_int(checker, arg)
    if name is not None:
        number = signal_number(name)
        if number is None:
            raise error(f"{name} is not a valid signal", call)
        checker.state.info(call)["signal"] = number
    elif number is not None:
        if not 1 <= number <= MAX_SIGNAL:
            raise error(f"{number} is not a valid signal, allowed range: [1,{MAX_SIGNAL}]",
                        call)
        checker.state.info(call)["signal"] = number
    elif not (is_int(t) or isinstance(t, UnknownType)):
        raise error("signal only accepts string literals or integers", call)
    for point in checker.unit.probe.attach_points:
        if point.provider in NO_SIGNAL_PROVIDERS:
            raise error(f'signal can not be used with "{point.provider}" probes', call)
    return VOID


def _signal(fn, call):
    number = fn.state.info(call).get("signal")
    sig = c64(number) if number is not None else _as_i64(fn, fn.expr(call.args[0]), call.args[0].ty)
    fn.h.call(SEND_SIGNAL, I64, [sig])
    return c64(0)


# ---- override ----------------------------------------------------------------------

def _override_check(checker, call):
    _require_unsafe(checker, call)
    _arg_count(call, "override")
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error(f"override() only supports integer arguments ({_kind_of(t)} provided)",
                    call)
    if any(p.provider != "kprobe" for p in checker.unit.probe.attach_points):
        raise error("override can only be used with kprobes.", call)
    return VOID


def _override(fn, call):
    # The kernel takes it only for kprobes on functions marked for error
    # injection, and only when built with CONFIG_BPF_KPROBE_OVERRIDE.
    rc = _as_i64(fn, fn.expr(call.args[0]), call.args[0].ty)
    fn.h.call(OVERRIDE_RETURN, I64, [fn.ctx, rc])
    return c64(0)


def _as_i64(fn, value, ty):
    if isinstance(value.type, ir.IntType) and value.type.width < 64:
        widen = fn.b.sext if is_signed(ty) else fn.b.zext
        return widen(value, I64)
    if isinstance(value.type, ir.PointerType):
        return fn.b.ptrtoint(value, I64)
    return value


# ---- what userspace does with their records (runtime/events.py) ---------

CAT_BYTES_MAX = 10240  # bpftrace's default limit for cat()


def cat_bytes_max(resources: Resources) -> int:
    """cat()'s limit: BPFTRACE_CAT_BYTES_MAX or the config block's (pytrace.settings),
    else 10240 bytes."""
    return resources.config.get("cat_bytes_max") or CAT_BYTES_MAX


def _on_cat(runtime, action, payload):
    """cat(): the file's first cat_bytes_max() bytes; a file that cannot be
    read is an error line on stderr and, as in bpftrace, an empty cat message."""
    path = format_printf(action.fmt or "", runtime.typed_args(action, payload))
    try:
        data = runtime.target.read_file(path, cat_bytes_max(runtime.resources))
    except OSError as e:
        runtime.warn(f"ERROR: failed to open file '{path}': {e.strerror or e}")
        data = b""
    runtime.sink.cat(data.decode("utf-8", errors="surrogateescape"))


def _on_system(runtime, action, payload):
    command = format_printf(action.fmt or "", runtime.typed_args(action, payload))
    # As bpftrace: the command's stdout is taken and printed in the trace's
    # order; its stderr (and stdin) stay the terminal's. It runs on the target.
    try:
        out = runtime.target.run_command(command)
    except OSError as e:  # the shell could not start (E2BIG: a huge command)
        runtime.warn(f"ERROR: system() could not run the command: {e.strerror or e}")
        return
    runtime.sink.system(out.decode("utf-8", errors="surrogateescape"))


function("cat", check=_format_check("cat"), codegen=_format_codegen, events={"cat": _on_cat})
function("system", check=_format_check("system"), codegen=_format_codegen,
         events={"system": _on_system})
function("signal", check=_signal_check, codegen=_signal)
function("override", check=_override_check, codegen=_override)
