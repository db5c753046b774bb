"""Functions that ask userspace to do something, through one ring buffer record each:
printf, print (maps and values), time, exit, join, clear, zero; plus the in-kernel
map functions delete and str()."""

from __future__ import annotations

import time

from pytrace import ast
from pytrace.builtins import function
from pytrace.codegen import events, maps
from pytrace.codegen.expressions import string_constant
from pytrace.codegen.function import c64
from pytrace.codegen.module import I8P
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import contains_unknown, is_int
from pytrace.probes.tracepoint_format import DataLocType
from pytrace.resources import AsyncAction
from pytrace.output.printf import MAX_FIELD, parse_format
from pytrace.passes.typecheck import describe
from pytrace.types import (UINT64, VOID, AggregationType, BufferType, InetType,
                           MacAddressType, SpecialType, StringType, TimestampType,
                           TupleType)

STRLEN = 64  # join()'s strings; str() takes BPFTRACE_STRLEN (pytrace.settings)
JOIN_ARGS = 16


def _register(checker, call, action: AsyncAction) -> None:
    """Actions are recorded only in the strict pass, once every type is settled."""
    if checker.strict:
        checker.state.info(call)["action"] = checker.state.action(action)


def _action_id(fn, call) -> int:
    return fn.state.info(call)["action"]


def _string_literal(checker, call, i: int, what: str) -> str:
    if len(call.args) <= i or not isinstance(call.args[i], ast.String):
        raise error(f"{call.name}() expects a string literal as {what}", call)
    checker.expr(call.args[i])
    return call.args[i].value


# ---- printf --------------------------------------------------------------------

def check_format_args(checker, call, kind: str) -> list:
    """The types of a format call's arguments (printf, cat, system: `kind` names it
    in errors), checked against the literal format in call.args[0]."""
    fmt = call.args[0].value
    # One reading of format strings for compiler and formatter (bpftrace 0.17's).
    parsed = [spec for _, spec in parse_format(fmt).pieces]
    if any(spec is not None and max(spec.width, spec.precision or 0) > MAX_FIELD
           for spec in parsed):
        raise error(f"{kind}: a field width or precision is too large "
                    f"(at most {MAX_FIELD})", call.args[0])
    specs = [spec.conversion if spec is not None else None for spec in parsed]
    args = call.args[1:]
    if len(args) < len(specs):
        raise error(f"{kind}: Not enough arguments for format string ({len(args)} supplied, "
                    f"{len(specs)} expected)", call)
    if len(args) > len(specs):
        raise error(f"{kind}: Too many arguments for format string ({len(args)} supplied, "
                    f"{len(specs)} expected)", call)
    types = []
    for arg, conv in zip(args, specs):
        t = checker.expr(arg)
        if isinstance(t, UnknownType):
            types.append(t)
            continue
        if conv is None:
            ok, want = True, ""
        elif conv in ("r", "rx", "rh"):
            ok, want = isinstance(t, BufferType), "buffer"
        elif conv == "s":
            # Integers print as numbers only once cast to a string type: as bpftrace.
            ok, want = (not is_int(t) or isinstance(t, SpecialType)) and \
                not isinstance(t, BufferType), "string"
        else:
            ok, want = is_int(t), "integer"
        if not ok:
            supplied = "string" if isinstance(t, (StringType, InetType, MacAddressType,
                                                  TimestampType)) else \
                "buffer" if isinstance(t, BufferType) else \
                "integer" if is_int(t) else describe(t)
            raise error(f"{kind}: %{conv} specifier expects a value of type {want} "
                        f"({supplied} supplied)", call)
        if isinstance(t, AggregationType) or t == VOID:
            raise error(f"{kind}: invalid argument type {t}", arg)
        types.append(t)
    return types


def _printf_check(checker, call):
    if not call.args:
        raise error("printf() requires at least 1 argument (0 provided)", call)
    fmt = _string_literal(checker, call, 0, "first argument")
    types = check_format_args(checker, call, "printf")
    if not any(contains_unknown(t) for t in types):
        _register(checker, call, AsyncAction("printf", TupleType(tuple(types)), fmt=fmt))
    return VOID


def _printf(fn, call):
    events.emit_exprs(fn, _action_id(fn, call), call.args[1:])


# ---- print -----------------------------------------------------------------------

def _print_check(checker, call):
    if not 1 <= len(call.args) <= 3:
        raise error(f"print() requires 1 to 3 arguments ({len(call.args)} provided)", call)
    target = call.args[0]
    if isinstance(target, ast.Map) and not target.keys:
        info = checker.state.maps.get(target.name)
        if info is None or info.value_type is None:
            if checker.strict:
                raise error(f"Undefined map: {target.name}", target)
            return VOID
        top = checker.const_int(call.args[1], "print() top") if len(call.args) > 1 else 0
        div = checker.const_int(call.args[2], "print() div") if len(call.args) > 2 else 0
        _register(checker, call, AsyncAction("print_map", map_name=target.name,
                                             options={"top": top, "div": div}))
        return VOID
    if len(call.args) > 1:
        raise error("Non-map print() only takes 1 argument", call)
    t = checker.expr(target)
    if not contains_unknown(t):
        _register(checker, call, AsyncAction("print_value", TupleType((t,))))
    return VOID


def _print(fn, call):
    target = call.args[0]
    if isinstance(target, ast.Map) and not target.keys:
        events.emit(fn, _action_id(fn, call))
    else:
        events.emit_exprs(fn, _action_id(fn, call), [target])


# ---- time, exit -------------------------------------------------------------------

def _time_check(checker, call):
    if len(call.args) > 1:
        raise error(f"time() takes up to 1 argument ({len(call.args)} provided)", call)
    fmt = _string_literal(checker, call, 0, "format") if call.args else "%H:%M:%S\n"
    _register(checker, call, AsyncAction("time", fmt=fmt))
    return VOID


def _emit_plain(fn, call):
    events.emit(fn, _action_id(fn, call))


def _exit_check(checker, call):
    if call.args:
        raise error(f"exit() takes no arguments ({len(call.args)} provided)", call)
    _register(checker, call, AsyncAction("exit"))
    return VOID


def _exit(fn, call):
    events.emit(fn, _action_id(fn, call), wakeup=True)
    # bpftrace stops the probe at exit(): nothing after it runs.
    fn.b.ret(c64(0))
    fn.b.position_at_end(fn.fn.append_basic_block("after_exit"))


# ---- clear, zero, delete -----------------------------------------------------------

def _map_arg(checker, call) -> ast.Map:
    if not call.args or not isinstance(call.args[0], ast.Map):
        raise error(f"{call.name}() expects a map argument", call)
    m = call.args[0]
    if checker.strict and (m.name not in checker.state.maps or
                           checker.state.maps[m.name].value_type is None):
        raise error(f"Undefined map: {m.name}", m)
    return m


def _whole_map_check(kind):
    def check(checker, call):
        if len(call.args) != 1:
            raise error(f"{call.name}() requires 1 argument ({len(call.args)} provided)", call)
        m = _map_arg(checker, call)
        if m.keys:
            raise error(f"The map passed to {call.name}() should not be indexed by a key", m)
        _register(checker, call, AsyncAction(kind, map_name=m.name))
        return VOID
    return check


def _delete_check(checker, call):
    m = _map_arg(checker, call)
    if len(call.args) == 2:  # delete(@m, key): the newer spelling
        if m.keys:
            raise error("delete(@m, key) takes an unindexed map", m)
        m.keys = [call.args[1]]
        call.args = [m]
    if len(call.args) != 1:
        raise error(f"delete() requires 1 or 2 arguments ({len(call.args)} provided)", call)
    info = checker.state.maps.get(m.name)
    if m.keys or (info and info.key_types):
        checker.map_keys(m)
    return VOID


def _delete(fn, call):
    maps.delete(fn, call.args[0], call.span)
    return c64(0)


# ---- join ------------------------------------------------------------------------

def _join_check(checker, call):
    if not 1 <= len(call.args) <= 2:
        raise error(f"join() requires 1 or 2 arguments ({len(call.args)} provided)", call)
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error(f"join() expects an integer or pointer argument ({t} provided)", call)
    delim = _string_literal(checker, call, 1, "delimiter") if len(call.args) == 2 else " "
    layout = TupleType((UINT64,) + (StringType(STRLEN),) * JOIN_ARGS)
    _register(checker, call, AsyncAction("join", layout, options={"delim": delim}))
    return VOID


def _join(fn, call):
    """Record: u64 count, then up to 16 strings read from the NULL-ended pointer array."""
    array = fn.expr(call.args[0])
    layout = fn.state.actions[_action_id(fn, call)].args
    slot = fn.alloc(8, "argp")

    def fill(payload):
        done = fn.fn.append_basic_block("join.done")
        count = fn.gep(payload, 0)
        fn.store_int(c64(0), count, 8)
        for i in range(JOIN_ARGS):
            fn.zero(slot, 8)
            addr = fn.b.add(array, c64(8 * i))
            fn.h.probe_read(slot, 8, fn.b.inttoptr(addr, I8P))
            ptr = fn.load_int(slot, 8, False)
            more = fn.fn.append_basic_block("join.arg")
            fn.b.cbranch(fn.b.icmp_unsigned("==", ptr, c64(0)), done, more)
            fn.b.position_at_end(more)
            field = fn.gep(payload, layout.offsets[i + 1])
            fn.h.probe_read_str(field, STRLEN, fn.b.inttoptr(ptr, I8P))
            fn.store_int(c64(i + 1), count, 8)
        fn.b.branch(done)
        fn.b.position_at_end(done)
    events.emit(fn, _action_id(fn, call), fill)


# ---- str ------------------------------------------------------------------------

def _str_check(checker, call):
    if not 1 <= len(call.args) <= 2:
        raise error(f"str() requires 1 or 2 arguments ({len(call.args)} provided)", call)
    arg = call.args[0]
    if isinstance(arg, ast.PositionalParam):
        text = checker.positional(arg) or ""
        arg.ty = StringType(len(text.encode()) + 1)
        return arg.ty
    t = checker.expr(arg)
    if len(call.args) == 2:
        checker.require_int(call.args[1], "str() length")
    if isinstance(t, DataLocType):   # a tracepoint's __data_loc string: read in place
        return t
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error(f"str() expects an integer or a pointer type as first argument "
                    f"({t} provided)", call)
    return StringType(checker.state.settings.strlen)  # BPFTRACE_STRLEN


def prepare_str(fn, call):
    """For str(ptr[, n]): evaluate the operands, return write(dst) doing the read; None
    when the value is not read from memory (positional parameters, strings)."""
    arg = call.args[0]
    if isinstance(arg, ast.PositionalParam) or isinstance(arg.ty, StringType):
        return None
    value = fn.expr(arg)
    strlen = fn.state.settings.strlen
    size = c64(strlen)
    if len(call.args) == 2:
        # n bytes plus the NUL, clamped so the verifier sees a bounded size.
        want = fn.b.add(fn.expr(call.args[1]), c64(1))
        size = fn.b.select(fn.b.icmp_unsigned("<", want, c64(strlen)), want, c64(strlen))
    return lambda dst: fn.h.probe_read_str(dst, size, fn.b.inttoptr(value, I8P))


def _str(fn, call):
    arg = call.args[0]
    if isinstance(arg, ast.PositionalParam):
        params = fn.state.params
        text = params[arg.index - 1] if arg.index <= len(params) else ""
        return string_constant(fn, text.encode(), call.ty.size)
    if isinstance(arg.ty, StringType):
        return fn.expr(arg)
    write = prepare_str(fn, call)
    strlen = fn.state.settings.strlen
    buf = fn.alloc(strlen, "str")
    fn.zero(buf, strlen)
    write(buf)
    return buf


# ---- what userspace does with their records (runtime/events.py) ---------

def _on_printf(runtime, action, payload):
    from pytrace.output.printf import format_printf
    runtime.sink.printf(format_printf(action.fmt or "", runtime.typed_args(action, payload)))


def _on_print_map(runtime, action, payload):
    opts = action.options
    runtime.maps.print(action.map_name, top=int(opts.get("top", 0) or 0),
                       div=int(opts.get("div", 0) or 0))


def _on_print_map_then_clear(runtime, action, payload):
    """print(@m) whose next record is clear(@m) (runtime/events.py pairs them)."""
    opts = action.options
    runtime.maps.print_and_clear(action.map_name, top=int(opts.get("top", 0) or 0),
                                 div=int(opts.get("div", 0) or 0))


def _on_print_value(runtime, action, payload):
    (ty, value), = runtime.typed_args(action, payload)[:1]
    runtime.sink.value(ty, value)


def _on_time(runtime, action, payload):
    fmt = action.fmt if action.fmt is not None else "%H:%M:%S\n"
    runtime.sink.time(time.strftime(fmt, time.localtime()))


def _on_exit(runtime, action, payload):
    return True


def _on_clear(runtime, action, payload):
    runtime.maps.clear(action.map_name)


def _on_zero(runtime, action, payload):
    runtime.maps.zero(action.map_name)


def _on_join(runtime, action, payload):
    """Payload: u64 count of strings read, then the strings."""
    delim = action.options.get("delim", " ")
    count, *strings = runtime.args(action, payload)
    runtime.sink.join(delim.join(strings[:count]))


function("printf", check=_printf_check, codegen=_printf, events={"printf": _on_printf})
function("print", check=_print_check, codegen=_print,
         events={"print_map": _on_print_map, "print_value": _on_print_value,
                 "print_map_then_clear": _on_print_map_then_clear})
function("time", check=_time_check, codegen=_emit_plain, events={"time": _on_time})
function("exit", check=_exit_check, codegen=_exit, events={"exit": _on_exit})
function("clear", check=_whole_map_check("clear"), codegen=_emit_plain,
         events={"clear": _on_clear})
function("zero", check=_whole_map_check("zero"), codegen=_emit_plain,
         events={"zero": _on_zero})
function("delete", check=_delete_check, codegen=_delete)
function("join", check=_join_check, codegen=_join, events={"join": _on_join})
def _write_str_into(fn, call, zero_fill):
    """str(ptr) read straight into its destination; without zero_fill the bytes after
    its NUL are left as they were (fine for records: readers stop at the NUL)."""
    writer = prepare_str(fn, call)
    if writer is None:
        return None

    def write(ptr):
        if zero_fill:
            fn.zero(ptr, call.ty.size)
        writer(ptr)
    return write


function("str", check=_str_check, codegen=_str, write_into=_write_str_into)

