"""unwatch(addr): detach the watchpoints on an address, from userspace.

The program sends the address as an event; the runtime asks the attachments to
detach every watchpoint/asyncwatchpoint attached at it (none: nothing happens,
as in bpftrace 0.17). The probe may still fire until the event is read.
"""

from __future__ import annotations

from pytrace.builtins import function
from pytrace.codegen import events
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.resources import AsyncAction
from pytrace.types import UINT64, VOID, TupleType


def _unwatch_check(checker, call):
    if len(call.args) != 1:
        raise error(f"unwatch() requires one argument ({len(call.args)} provided)", call)
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error("unwatch() only supports integer arguments (string provided)", call)
    if checker.strict:
        action = AsyncAction("unwatch", args=TupleType((UINT64,)))
        checker.state.info(call)["action"] = checker.state.action(action)
    return VOID


def _unwatch(fn, call):
    events.emit_exprs(fn, fn.state.info(call)["action"], call.args)


# ---- what userspace does with their records (runtime/events.py) ---------

def _on_unwatch(runtime, action, payload):
    if runtime.unwatch is not None:
        runtime.unwatch(runtime.args(action, payload)[0])


function("unwatch", check=_unwatch_check, codegen=_unwatch, events={"unwatch": _on_unwatch})
