"""-k / -kk: a BPF helper that fails at run time is reported, located at the
source that called it, as bpftrace does.

-k checks the helpers that change maps (map_update_elem, map_delete_elem);
-kk also the memory reads (probe_read). A failure writes one `helper_error`
record carrying the return code; the action's options name the helper and
the span, so userspace prints `stdin:L:C-C: WARNING: Failed to HELPER: ...`.
"""

from __future__ import annotations

from pytrace.codegen import events
from pytrace.codegen.function import FunctionCodegen, c64
from pytrace.diagnostics import Span
from pytrace.resources import AsyncAction
from pytrace.types import INT64, TupleType

KIND = "helper_error"


def level(fn: FunctionCodegen) -> int:
    return fn.state.helper_errors


def check(fn: FunctionCodegen, ret, helper: str, span: Span | None, *,
          read: bool = False) -> None:
    """After a helper call returning `ret` (< 0 on failure): report a failure."""
    if span is None or level(fn) < (2 if read else 1):
        return
    action = AsyncAction(KIND, TupleType((INT64,)),
                         options={"helper": helper, "span": span})
    action_id = fn.state.action(action)
    with fn.if_then(fn.b.icmp_signed("<", ret, c64(0)), "helper_failed"):
        events.emit(fn, action_id, lambda payload: fn.store_int(ret, payload, 8))

