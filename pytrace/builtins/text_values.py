"""username, strerror(n), pton("addr"), strcontains(haystack, needle), cgroup_path(id).

username and strerror are integers in BPF (the uid, the error number) that
userspace prints as text (runtime/decode.py names them); so is cgroup_path's id,
found in each mounted cgroup hierarchy when printed. pton is resolved while
compiling into the address bytes, an array of uint8 (4 or 16), as bpftrace 0.17.
strcontains is computed in BPF with two bounded loops; messages follow 0.17.
"""

from __future__ import annotations

import socket

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import function, variable
from pytrace.codegen.function import c64
from pytrace.passes.state import UnknownType, error
from pytrace.passes.types_util import is_int
from pytrace.types import (INT64, ArrayType, CgroupPathType, IntType, SpecialType,
                           StringType)

USERNAME = SpecialType("username")
STRERROR = SpecialType("strerror")


def _username(fn, e):
    uid_gid = fn.h.get_current_uid_gid()
    return fn.b.zext(fn.b.trunc(uid_gid, ir.IntType(32)), uid_gid.type)


variable("username", lambda checker, e: USERNAME, _username)


def _strerror_check(checker, call):
    if len(call.args) != 1:
        raise error(f"strerror() requires one argument ({len(call.args)} provided)", call)
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error("strerror() only supports integer arguments (string provided)", call)
    return STRERROR


function("strerror", check=_strerror_check, codegen=lambda fn, call: fn.expr(call.args[0]))


def _pton_bytes(text: str) -> bytes | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
    return None


def _pton_check(checker, call):
    if len(call.args) != 1:
        raise error(f"pton() requires one argument ({len(call.args)} provided)", call)
    arg = call.args[0]
    if not isinstance(arg, ast.String):
        checker.expr(arg)
        raise error("pton() expects an string argument of an IPv4/IPv6 address, got ", call)
    data = _pton_bytes(arg.value)
    if data is None:
        raise error(f"pton() expects a valid IPv4/IPv6 address, got {arg.value}", call)
    checker.state.info(call)["bytes"] = data
    return ArrayType(IntType(8), len(data))


def _pton(fn, call):
    data = fn.state.info(call)["bytes"]
    buf = fn.alloc(len(data), "pton")
    for off in range(0, len(data), 4):
        fn.store_int(c64(int.from_bytes(data[off:off + 4], "little")), fn.gep(buf, off), 4)
    return buf


function("pton", check=_pton_check, codegen=_pton)


def _strcontains_check(checker, call):
    if len(call.args) != 2:
        raise error(f"strcontains() requires 2 arguments ({len(call.args)} provided)", call)
    for arg in call.args:
        t = checker.expr(arg)
        if not (isinstance(t, StringType) or isinstance(t, UnknownType)):
            kind = "integer" if is_int(t) else str(t)
            raise error(f"strcontains() only supports string arguments ({kind} provided)",
                        call)
    return INT64


def _strcontains(fn, call):
    """found = some i where needle[0..] matches haystack[i..] up to needle's NUL."""
    hay, needle = fn.expr(call.args[0]), fn.expr(call.args[1])
    n, m = call.args[0].ty.size, call.args[1].ty.size
    b = fn.b
    found, i_slot, j_slot = fn.alloc(8, "found"), fn.alloc(8, "i"), fn.alloc(8, "j")
    fn.store_int(c64(0), found, 8)
    fn.store_int(c64(0), i_slot, 8)
    outer, inner, next_i, done = (fn.fn.append_basic_block(f"strcontains.{x}")
                                  for x in ("outer", "inner", "next", "done"))
    match = fn.fn.append_basic_block("strcontains.match")
    b.branch(outer)

    b.position_at_end(outer)
    i = fn.load_int(i_slot, 8, False)
    fn.store_int(c64(0), j_slot, 8)
    start = fn.fn.append_basic_block("strcontains.start")
    b.cbranch(b.icmp_unsigned("<", i, c64(n)), start, done)
    b.position_at_end(start)
    b.branch(inner)

    b.position_at_end(inner)
    i = fn.load_int(i_slot, 8, False)
    j = fn.load_int(j_slot, 8, False)
    in_needle = fn.fn.append_basic_block("strcontains.in_needle")
    b.cbranch(b.icmp_unsigned("<", j, c64(m)), in_needle, match)
    b.position_at_end(in_needle)
    c = fn.load_int(b.gep(needle, [j]), 1, False)
    nonzero = fn.fn.append_basic_block("strcontains.nonzero")
    b.cbranch(b.icmp_unsigned("==", c, c64(0)), match, nonzero)
    b.position_at_end(nonzero)
    k = b.add(i, j)
    in_hay = fn.fn.append_basic_block("strcontains.in_hay")
    b.cbranch(b.icmp_unsigned("<", k, c64(n)), in_hay, next_i)
    b.position_at_end(in_hay)
    h = fn.load_int(b.gep(hay, [k]), 1, False)
    same = fn.fn.append_basic_block("strcontains.same")
    b.cbranch(b.icmp_unsigned("==", h, c), same, next_i)
    b.position_at_end(same)
    fn.store_int(b.add(j, c64(1)), j_slot, 8)
    b.branch(inner)

    b.position_at_end(match)
    fn.store_int(c64(1), found, 8)
    b.branch(done)

    b.position_at_end(next_i)
    i = fn.load_int(i_slot, 8, False)
    at_end = fn.load_int(b.gep(hay, [i]), 1, False)
    more = fn.fn.append_basic_block("strcontains.more")
    b.cbranch(b.icmp_unsigned("==", at_end, c64(0)), done, more)
    b.position_at_end(more)
    fn.store_int(b.add(i, c64(1)), i_slot, 8)
    b.branch(outer)

    b.position_at_end(done)
    return fn.load_int(found, 8, False)


function("strcontains", check=_strcontains_check, codegen=_strcontains)


def _cgroup_path_check(checker, call):
    if not 1 <= len(call.args) <= 2:
        raise error(f"cgroup_path() requires 1 or 2 arguments ({len(call.args)} provided)",
                    call)
    t = checker.expr(call.args[0])
    if not (is_int(t) or isinstance(t, UnknownType)):
        raise error("cgroup_path() only supports integer arguments (string provided)", call)
    pattern = "*"
    if len(call.args) == 2:
        if not isinstance(call.args[1], ast.String):
            checker.expr(call.args[1])
            raise error("cgroup_path() expects a string literal as its second argument",
                        call.args[1])
        pattern = call.args[1].value
    return CgroupPathType("cgroup_path", 8, pattern)


function("cgroup_path", check=_cgroup_path_check,
         codegen=lambda fn, call: fn.expr(call.args[0]))
