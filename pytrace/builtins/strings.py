"""Builtins over strings, byte buffers and addresses: ntop, buf, strncmp, macaddr,
kptr, uptr, cgroupid and strftime.

Their values are byte layouts that userspace turns into text (runtime/decode.py):
ntop -> InetType (family + 16 address bytes), buf -> BufferType (length byte +
data), macaddr -> MacAddressType (6 bytes), strftime -> TimestampType (nsecs,
formatted with the boot wall-clock time). strncmp is computed in BPF, cgroupid
at compile time through the Target. Messages follow bpftrace 0.17's wording.
"""

from __future__ import annotations

import os
import socket

from pytrace import ast
from pytrace.builtins import function
from pytrace.codegen.expressions import strings_equal
from pytrace.codegen.function import c64
from pytrace.codegen.module import I8P
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.types import (UINT64, ArrayType, BufferType, InetType, MacAddressType,
                           StringType, TimestampType, Type)

MAC_SIZE = 6


def _kind(t: Type) -> str:
    """How bpftrace names a type in these messages."""
    if isinstance(t, (StringType, InetType, MacAddressType, TimestampType)):
        return "string"
    if isinstance(t, BufferType):
        return "buffer"
    if is_int(t):
        return "integer"
    return str(t)


def _count(call, least: int, most: int, exact: bool = False) -> None:
    """bpftrace's argument-count messages for a function taking least..most args
    (`exact`: the one-count wording "requires N arguments")."""
    n = len(call.args)
    if exact and n != least:
        word = "one argument" if least == 1 else f"{least} arguments"
        raise error(f"{call.name}() requires {word} ({n} provided)", call)
    if n < least:
        word = "one argument" if least == 1 else f"{least} arguments"
        raise error(f"{call.name}() requires at least {word} ({n} provided)", call)
    if n > most:
        raise error(f"{call.name}() takes up to {most} arguments ({n} provided)", call)


def _int_arg(checker, call, e) -> Type:
    t = checker.expr(e)
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error(f"{call.name}() only supports integer arguments ({_kind(t)} provided)",
                    call)
    return t


def _bytes_size(t: Type) -> int | None:
    """The byte size of an in-memory byte array (string or array), else None."""
    if isinstance(t, (StringType, ArrayType)):
        return t.size
    return None


def _source_ptr(fn, e, value):
    """A pointer to the bytes an argument names: an integer is an address."""
    return fn.b.inttoptr(value, I8P) if is_int(e.ty) else fn.b.bitcast(value, I8P)


# ---- ntop ------------------------------------------------------------------------

def _ntop_check(checker, call):
    _count(call, 1, 2)
    if len(call.args) == 2:
        _int_arg(checker, call, call.args[0])
    t = checker.expr(call.args[-1])
    if not (is_int(t) or isinstance(t, UnknownType) or _bytes_size(t) in (4, 16)):
        raise error("ntop() argument must be 4 or 16 bytes in size", call)
    return InetType()


def _ntop(fn, call):
    """Layout: u64 family, then the address bytes (an integer: its low 4 bytes)."""
    addr = call.args[-1]
    out = fn.alloc(24, "inet")
    fn.zero(out, 24)
    if len(call.args) == 2:
        family = fn.expr(call.args[0])
    else:
        # bpftrace infers the family from the size: 16 bytes are IPv6, else IPv4.
        family = c64(socket.AF_INET6 if _bytes_size(addr.ty) == 16 else socket.AF_INET)
    fn.store_int(family, out, 8)
    value = fn.expr(addr)
    if is_int(addr.ty):
        fn.store_int(value, fn.gep(out, 8), 4)
    else:
        fn.copy(fn.gep(out, 8), fn.b.bitcast(value, I8P), addr.ty.size)
    return out


# ---- buf -------------------------------------------------------------------------

def _buf_check(checker, call):
    _count(call, 1, 2)
    limit = checker.state.settings.strlen  # BPFTRACE_STRLEN, 64 by default
    t = checker.expr(call.args[0])
    if len(call.args) == 1:
        if not isinstance(t, ArrayType):
            raise error(f"buf() expects a length argument for non-array type {_kind(t)}",
                        call)
        return BufferType(min(t.size, limit))
    _int_arg(checker, call, call.args[1])
    n = checker.fold(call.args[1])
    checker.state.info(call)["constant"] = n is not None
    if n is None:
        return BufferType(limit)
    if n < 0:
        raise error("buf() length must be non-negative", call)
    if n > limit:
        checker.state.warn(f"buf() length is too long and will be shortened to {limit} "
                           "bytes (see BPFTRACE_STRLEN)", call.span)
        n = limit
    return BufferType(n)


def _buf(fn, call):
    """Layout: a length byte, then that many bytes (the rest zero, so equal buffers
    make equal map keys)."""
    cap = call.ty.length
    src_e = call.args[0]
    out = fn.alloc(cap + 1, "buf")
    fn.zero(out, cap + 1)
    src = _source_ptr(fn, src_e, fn.expr(src_e))
    known = _bytes_size(src_e.ty)
    if len(call.args) == 2 and not fn.state.info(call)["constant"]:
        n = fn.expr(call.args[1])
        # Clamped so the verifier sees a bounded size; a huge or negative n reads cap.
        limit = c64(min(cap, known) if known is not None else cap)
        n = fn.b.select(fn.b.icmp_unsigned("<", n, limit), n, limit)
        fn.store_int(n, out, 1)
        fn.h.probe_read(fn.gep(out, 1), n, src)
        return out
    n = cap if known is None else min(cap, known)
    fn.store_int(c64(n), out, 1)
    if known is not None:
        fn.copy(fn.gep(out, 1), src, n)  # bytes already on the BPF stack
    elif n:
        fn.h.probe_read(fn.gep(out, 1), n, src)
    return out


# ---- strncmp ---------------------------------------------------------------------

def _strncmp_check(checker, call):
    if len(call.args) != 3:
        raise error(f"strncmp() requires 3 arguments ({len(call.args)} provided)", call)
    for e in call.args[:2]:
        t = checker.expr(e)
        if not isinstance(t, (StringType, UnknownType)):
            raise error(f"strncmp() only supports string arguments ({_kind(t)} provided)",
                        call)
    n = checker.fold(call.args[2])
    t = checker.expr(call.args[2])
    if n is None:
        raise error(f"strncmp() expects a integer literal ({_kind(t)} provided)", call)
    if n < 0:
        raise error("Builtin strncmp requires a non-negative size", call)
    checker.state.info(call)["n"] = n
    return UINT64


def _strncmp(fn, call):
    """0 when the first n bytes agree (stopping at a shared NUL), else 1 (as bpftrace:
    not the sign of the difference)."""
    a_e, b_e = call.args[:2]
    a, b = fn.expr(a_e), fn.expr(b_e)
    sa, sb = a_e.ty.size, b_e.ty.size
    steps = min(fn.state.info(call)["n"], max(sa, sb))
    return fn.b.xor(strings_equal(fn, a, sa, b, sb, steps), c64(1))


# ---- macaddr ---------------------------------------------------------------------

def _macaddr_check(checker, call):
    _count(call, 1, 1, exact=True)
    arg = call.args[0]
    t = checker.expr(arg)
    if is_int(t) or isinstance(t, UnknownType):
        return MacAddressType()
    if _bytes_size(t) != MAC_SIZE:
        raise error("macaddr() argument must be 6 bytes in size", call)
    if isinstance(arg, ast.String):
        raise error("macaddr() does not support literal string arguments", call)
    return MacAddressType()


def _macaddr(fn, call):
    arg = call.args[0]
    out = fn.alloc(MAC_SIZE, "mac")
    value = fn.expr(arg)
    if is_int(arg.ty):
        fn.zero(out, MAC_SIZE)
        fn.h.probe_read(out, MAC_SIZE, fn.b.inttoptr(value, I8P))
    else:
        fn.copy(out, fn.b.bitcast(value, I8P), MAC_SIZE)
    return out


# ---- kptr, uptr ------------------------------------------------------------------

def _address_space_check(checker, call):
    """kptr/uptr name the address space of a value; pytrace reads memory with the
    helper that serves both on this architecture, so the value passes through."""
    _count(call, 1, 1, exact=True)
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error(f"{call.name}() only supports integer or pointer arguments "
                    f"({_kind(t)} provided)", call)
    return t


def _pass_through(fn, call):
    return fn.expr(call.args[0])


# ---- cgroupid --------------------------------------------------------------------

def _cgroupid_check(checker, call):
    _count(call, 1, 1, exact=True)
    arg = call.args[0]
    t = checker.expr(arg)
    if not isinstance(arg, ast.String):
        raise error(f"cgroupid() expects a string literal ({_kind(t)} provided)", call)
    info = checker.state.info(call)
    if "id" not in info:
        try:
            info["id"] = checker.state.target.cgroup_id(arg.value)
        except OSError as e:
            reason = os.strerror(e.errno) if e.errno else str(e)
            raise error(f'Failed to get `cgroupid` for path: "{arg.value}": {reason}',
                        call) from None
    return UINT64


def _cgroupid(fn, call):
    return c64(fn.state.info(call)["id"])


# ---- strftime --------------------------------------------------------------------

def _strftime_check(checker, call):
    _count(call, 2, 2)
    fmt_e = call.args[0]
    t = checker.expr(fmt_e)
    if not isinstance(fmt_e, ast.String):
        raise error(f"strftime() expects a string literal ({_kind(t)} provided)", call)
    _int_arg(checker, call, call.args[1])
    return TimestampType(fmt_e.value)


def _strftime(fn, call):
    out = fn.alloc(8, "nsecs")
    fn.store_int(fn.expr(call.args[1]), out, 8)
    return out


function("ntop", check=_ntop_check, codegen=_ntop)
function("buf", check=_buf_check, codegen=_buf)
function("strncmp", check=_strncmp_check, codegen=_strncmp)
function("macaddr", check=_macaddr_check, codegen=_macaddr)
function("kptr", check=_address_space_check, codegen=_pass_through)
function("uptr", check=_address_space_check, codegen=_pass_through)
function("cgroupid", check=_cgroupid_check, codegen=_cgroupid)
function("strftime", check=_strftime_check, codegen=_strftime)
