"""Builtin variables: pid, tid, uid, gid, nsecs, elapsed, cpu, comm, probe, rand,
cgroup, cpid, args. Each is one record: its type and the code that reads it."""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace.builtins import variable
from pytrace.codegen.function import c64
from pytrace.passes.state import error
from pytrace.types import UINT64, PointerType, RecordType, SpecialType, StringType

ELAPSED_MAP = ".start"
COMM = StringType(16)


def _u64(*_):
    return UINT64


def _pid(fn, e):
    return fn.b.lshr(fn.h.get_current_pid_tgid(), c64(32))


def _low32(fn, value):
    # trunc + zext lowers to one 32-bit move (alu32 zero-extends) instead of two shifts.
    return fn.b.zext(fn.b.trunc(value, ir.IntType(32)), value.type)


def _tid(fn, e):
    return _low32(fn, fn.h.get_current_pid_tgid())


def _uid(fn, e):
    return _low32(fn, fn.h.get_current_uid_gid())


def _gid(fn, e):
    return fn.b.lshr(fn.h.get_current_uid_gid(), c64(32))


def _comm(fn, e):
    # All 16 bytes are defined: current_comm zeroes them before the copy.
    buf = fn.alloc(16, "comm")
    fn.current_comm(buf, 16)
    return buf


def _elapsed_type(checker, e):
    checker.state.uses.add("elapsed")
    return UINT64


def _elapsed(fn, e):
    # The start time sits in slot 0 of the ".start" array; BEGIN writes it first.
    from pytrace.codegen.module import I8P
    key = fn.alloc(4, "zero")
    fn.store_int(c64(0), key, 4)
    now = fn.h.ktime_get_ns()
    slot = fn.h.map_lookup(fn.state.map_indices[ELAPSED_MAP], key)
    start = fn.select_int(fn.b.icmp_unsigned("==", slot, I8P(None)), lambda: c64(0),
                          lambda: fn.load_int(slot, 8, False))
    return fn.b.sub(now, start)


def _probe_type(checker, e):
    if checker.unit.probe_id is None and not checker.unit.probe_by_cookie:
        raise error("probe builtin needs one program per attach point", e)
    return SpecialType("probe")


GET_ATTACH_COOKIE = 174


def _probe(fn, e):
    if fn.unit.probe_id is None:
        # One program on many points (uprobe_multi): each point's cookie is its id.
        from pytrace.codegen.module import I64
        return fn.h.call(GET_ATTACH_COOKIE, I64, [fn.ctx])
    return c64(fn.unit.probe_id)


def _args_type(checker, e):
    t = checker.unit.args_type
    if t is None:
        raise error("The args builtin can only be used with tracepoint/kfunc/uprobe probes"
                    f" ({checker.unit.provider.name} used here)", e)
    return t


variable("pid", _u64, _pid)
variable("tid", _u64, _tid)
variable("uid", _u64, _uid)
variable("gid", _u64, _gid)
variable("nsecs", _u64, lambda fn, e: fn.h.ktime_get_ns())
variable("elapsed", _elapsed_type, _elapsed)
variable("cpu", _u64, lambda fn, e: fn.h.get_smp_processor_id())
variable("comm", lambda c, e: COMM, _comm,
         write_into=lambda fn, e, zero_fill: lambda ptr: fn.current_comm(ptr, e.ty.size))
variable("probe", _probe_type, _probe)
variable("rand", _u64, lambda fn, e: fn.h.get_prandom_u32())
variable("cgroup", _u64, lambda fn, e: fn.h.get_current_cgroup_id())
def _cpid_type(checker, e):
    if not checker.state.cpid:
        raise error("cpid cannot be used without child command", e)
    return UINT64


variable("cpid", _cpid_type, lambda fn, e: c64(fn.state.cpid))
variable("args", _args_type, lambda fn, e: fn.ctx)

# BPF helper ids (include/uapi/linux/bpf.h).
GET_NUMA_NODE_ID, GET_CURRENT_TASK, JIFFIES64 = 42, 35, 118
TASK_POINTER = PointerType(RecordType("struct task_struct"), c_name="struct task_struct *")


def _helper_u64(helper: int):
    def codegen(fn, e):
        from pytrace.codegen.module import I64
        return fn.h.call(helper, I64, [])
    return codegen


variable("curtask", lambda c, e: TASK_POINTER, _helper_u64(GET_CURRENT_TASK))
variable("jiffies", _u64, _helper_u64(JIFFIES64))
variable("numaid", _u64, _helper_u64(GET_NUMA_NODE_ID))
def _ctx_type(checker, e):
    kind = checker.unit.provider.prog_type
    if kind == "tracepoint":
        raise error("Use args instead of ctx in tracepoint", e)
    if kind in ("begin", "end"):
        raise error("invalid program type", e)
    return PointerType(None, c_name="void *")


variable("ctx", _ctx_type,
         lambda fn, e: fn.b.ptrtoint(fn.ctx, c64(0).type))
