"""ksym(addr) and usym(addr): an address that prints as the symbol containing it.

In BPF the value is only the address (usym adds the pid, whose /proc/PID/maps
places the address in a file); userspace resolves it when printing
(pytrace.runtime.symbols), bare name without offset, as bpftrace does.
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace.builtins import function
from pytrace.codegen.function import c64
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.types import SymbolType


def _check(kernel: bool):
    def check(checker, call):
        if len(call.args) != 1:
            raise error(f"{call.name}() requires one argument ({len(call.args)} provided)",
                        call)
        t = checker.expr(call.args[0])
        if not (is_int(t) or isinstance(t, UnknownType)):
            raise error(f"{call.name}() expects an integer or pointer argument", call)
        return SymbolType(kernel=kernel)
    return check


def _codegen(kernel: bool):
    def gen(fn, call):
        from pytrace.codegen.module import I64
        addr = fn.expr(call.args[0])
        if isinstance(addr.type, ir.PointerType):
            addr = fn.b.ptrtoint(addr, I64)
        elif addr.type != I64:
            addr = fn.b.zext(addr, I64)
        buf = fn.alloc(call.ty.size, call.name)
        fn.store_int(addr, buf, 8)
        if not kernel:
            fn.store_int(fn.b.lshr(fn.h.get_current_pid_tgid(), c64(32)), fn.gep(buf, 8), 8)
        return buf
    return gen


function("ksym", check=_check(True), codegen=_codegen(True))
function("usym", check=_check(False), codegen=_codegen(False))
