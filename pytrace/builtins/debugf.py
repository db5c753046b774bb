"""debugf(fmt, args...): bpf_trace_printk, as bpftrace 0.17 has it.

The line goes to the kernel's trace buffer (/sys/kernel/tracing/trace_pipe), not to
pytrace's output, so there is no event and nothing for userspace to do. The kernel
formats it: at most three conversions, `%d` is 32 bits wide (`%ld`/`%lld` for 64),
`%s` reads a string the program holds. Every use is warned about, as in bpftrace.
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import function
from pytrace.builtins.output import check_format_args
from pytrace.codegen.expressions import string_constant
from pytrace.codegen.module import I32, I64
from pytrace.output.printf import parse_format
from pytrace.passes.state import error
from pytrace.types import VOID, is_int

TRACE_PRINTK = 6          # bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3)
MAX_CONVERSIONS = 3


def _check(checker, call):
    checker.state.warn("The debugf() builtin is not recommended for production use. For "
                       "more information see bpf_trace_printk in bpf-helpers(7).", call.span)
    if not call.args:
        raise error("debugf() requires at least one argument (0 provided)", call)
    if not isinstance(call.args[0], ast.String):
        checker.expr(call.args[0])
        raise error("debugf() expects a string literal (string provided)", call)
    checker.expr(call.args[0])
    conversions = [s for _, s in parse_format(call.args[0].value).pieces if s is not None]
    if len(conversions) > MAX_CONVERSIONS:
        raise error(f"debugf: Cannot use more than {MAX_CONVERSIONS} conversion specifiers",
                    call)
    check_format_args(checker, call, "debugf")
    return VOID


def _codegen(fn, call):
    fmt = call.args[0].value.encode("utf-8", "surrogateescape") + b"\0"
    args = []
    for arg in call.args[1:]:
        value = fn.expr(arg)
        # Integers go as u64; a string goes as its address (the kernel reads it).
        args.append(value if is_int(arg.ty) else fn.b.ptrtoint(value, I64))
    fmt_ptr = string_constant(fn, fmt, (len(fmt) + 7) // 8 * 8)
    fn.h.call(TRACE_PRINTK, I64, [fmt_ptr, ir.Constant(I32, len(fmt))] + args, "printk")
    return None


function("debugf", check=_check, codegen=_codegen)
