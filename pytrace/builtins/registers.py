"""reg("name"): a register saved at the probe, read from the program's pt_regs context.

kprobe, uprobe and usdt programs get `struct pt_regs *` as their context; perf
event programs (profile, interval ...) get `struct bpf_perf_event_data *`, whose
first member is the same pt_regs. Offsets follow arch/x86/include/asm/ptrace.h.
"""

from __future__ import annotations

from pytrace import ast
from pytrace.builtins import function
from pytrace.passes.state import error
from pytrace.types import UINT64

X86_64_PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
                  "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss")
OFFSETS = {name: 8 * i for i, name in enumerate(X86_64_PT_REGS)}


def _reg_check(checker, call):
    if len(call.args) != 1:
        raise error(f"reg() requires one argument ({len(call.args)} provided)", call)
    provider = checker.unit.provider
    if provider.ctx_kind not in ("pt_regs", "usdt") and \
            provider.prog_type != "perf_event":
        raise error(f'reg can not be used with "{provider.name}" probes', call)
    arg = call.args[0]
    if not isinstance(arg, ast.String):
        t = checker.expr(arg)
        kind = "string" if str(t).startswith("string") else "integer"
        raise error(f"reg() expects a string literal ({kind} provided)", call)
    if arg.value not in OFFSETS:
        raise error(f"'{arg.value}' is not a valid register on this architecture (x86_64)",
                    call)
    return UINT64


def _reg(fn, call):
    return fn.load_int(fn.gep(fn.ctx, OFFSETS[call.args[0].value]), 8, False)


function("reg", check=_reg_check, codegen=_reg)
