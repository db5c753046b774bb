"""kaddr("symbol"), uaddr("symbol") and bswap(n): symbol addresses and a byte-order swap.

kaddr is resolved while compiling, from the target's kallsyms, into a constant
(bpftrace 0.17 fails the compile the same way when the symbol is absent).
uaddr looks the symbol up in the probed binary's ELF symbols (uprobe/usdt only)
and points to an unsigned integer of the symbol's size (8 bytes when it is
another size), as 0.17; like 0.17 it takes the link-time address, so it suits
position-dependent executables.
bswap reverses the bytes of its operand's own width; the result is unsigned.
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import function
from pytrace.codegen.function import c64
from pytrace.diagnostics import PytraceError
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.types import UINT64, IntType, PointerType, StringType


def describe_kind(t) -> str:
    return "string" if isinstance(t, StringType) else "integer" if is_int(t) else str(t)


def _kaddr_check(checker, call):
    if len(call.args) != 1:
        raise error(f"kaddr() requires one argument ({len(call.args)} provided)", call)
    arg = call.args[0]
    if not isinstance(arg, ast.String):
        t = checker.expr(arg)
        raise error(f"kaddr() expects a string literal ({describe_kind(t)} provided)", call)
    info = checker.state.info(call)
    if "address" not in info:
        from pytrace.kernel.kallsyms import Kallsyms  # only programs using kaddr pay for it
        address = Kallsyms.load(checker.state.target).address_of(arg.value)
        if not address:
            raise PytraceError(f"Failed to compile: Failed to resolve kernel symbol: "
                               f"{arg.value}")
        info["address"] = address
    return UINT64


def _kaddr(fn, call):
    return c64(fn.state.info(call)["address"])


def _uaddr_check(checker, call):
    if len(call.args) != 1:
        raise error(f"uaddr() requires one argument ({len(call.args)} provided)", call)
    provider = checker.unit.provider
    if provider.name not in ("uprobe", "uretprobe", "usdt"):
        raise error(f'uaddr can not be used with "{provider.name}" probes', call)
    arg = call.args[0]
    if not isinstance(arg, ast.String):
        t = checker.expr(arg)
        raise error(f"uaddr() expects a string literal ({describe_kind(t)} provided)", call)
    from pytrace.kernel.elf_symbols import ElfSymbols, SymbolError
    path = checker.unit.specs[0].target
    try:
        symbol = ElfSymbols.load(checker.state.target, path).lookup(arg.value)
    except (SymbolError, OSError):
        symbol = None
    if symbol is None or not symbol.address:
        raise error(f"Could not resolve symbol: {path}:{arg.value}", call)
    checker.state.info(call)["address"] = symbol.address
    bits = symbol.size * 8 if symbol.size in (1, 2, 4) else 64
    return PointerType(IntType(bits), c_name=f"uint{bits} *")


def _bswap_check(checker, call):
    if len(call.args) != 1:
        raise error(f"bswap() requires one argument ({len(call.args)} provided)", call)
    t = checker.expr(call.args[0])
    if isinstance(t, UnknownType):
        return UINT64
    if not is_int(t):
        raise error(f"bswap() only supports integer arguments ({describe_kind(t)} provided)",
                    call)
    return IntType(t.size * 8 if isinstance(t, IntType) else 64, False)


def _bswap(fn, call):
    value = fn.expr(call.args[0])
    bits = call.ty.bits
    if bits == 8:
        return fn.b.and_(value, c64(0xFF))
    narrow = value if bits == 64 else fn.b.trunc(value, ir.IntType(bits))
    swap = fn.b.module.declare_intrinsic("llvm.bswap", [ir.IntType(bits)])
    swapped = fn.b.call(swap, [narrow])
    return swapped if bits == 64 else fn.b.zext(swapped, ir.IntType(64))


function("kaddr", check=_kaddr_check, codegen=_kaddr)
function("uaddr", check=_uaddr_check, codegen=_kaddr)
function("bswap", check=_bswap_check, codegen=_bswap)
