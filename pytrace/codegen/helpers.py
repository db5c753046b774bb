"""The builder layer for BPF helper calls: the only ways a program reaches the kernel.

A helper call is `inttoptr HELPER_ID to fn*` then a call; the BPF backend turns it
into `call HELPER_ID`. Everything else in codegen calls these wrappers, so helper
ids and signatures live in one place.
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace.codegen.module import I8P, I32, I64

MAP_LOOKUP_ELEM = 1
MAP_UPDATE_ELEM = 2
MAP_DELETE_ELEM = 3
PROBE_READ = 4
KTIME_GET_NS = 5
GET_PRANDOM_U32 = 7
GET_SMP_PROCESSOR_ID = 8
GET_CURRENT_PID_TGID = 14
GET_CURRENT_UID_GID = 15
GET_CURRENT_COMM = 16
PROBE_READ_STR = 45
GET_CURRENT_CGROUP_ID = 80
PROBE_READ_USER = 112
PROBE_READ_KERNEL = 113
PROBE_READ_USER_STR = 114
PROBE_READ_KERNEL_STR = 115
RINGBUF_RESERVE = 131
RINGBUF_SUBMIT = 132

BPF_ANY = 0
BPF_NOEXIST = 1
BPF_RB_FORCE_WAKEUP = 2


def _c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


class Helpers:
    """Helper calls on one IRBuilder; `pseudo` is the module's llvm.bpf.pseudo.

    Helpers whose answer is fixed for one run of the program (the current task's
    ids, the CPU) are called once where `reuse` (pytrace.codegen.reuse) says an
    earlier call's result is still in reach: LLVM cannot merge the calls itself.
    """

    def __init__(self, builder: ir.IRBuilder, pseudo: ir.Function, reuse=None):
        self.b = builder
        self.pseudo = pseudo
        self.reuse = reuse

    def stable_call(self, helper_id: int):
        """A no-argument helper whose result cannot change during one run."""
        if self.reuse is not None:
            value = self.reuse.get(("helper", helper_id))
            if value is not None:
                return value
        value = self.call(helper_id, I64, [])
        if self.reuse is not None:
            self.reuse.put(("helper", helper_id), value)
        return value

    def call(self, helper_id: int, ret, args: list, name: str = ""):
        fnty = ir.FunctionType(ret, [a.type for a in args])
        fn = self.b.inttoptr(_c64(helper_id), fnty.as_pointer())
        return self.b.call(fn, args, name=name)

    def map_ref(self, map_index: int):
        return self.b.call(self.pseudo, [_c64(1), _c64(map_index)])

    def map_lookup(self, map_index: int, key: ir.Value) -> ir.Value:
        """i8* to the value, or null; the verifier insists it is checked."""
        return self.call(MAP_LOOKUP_ELEM, I8P, [self.map_ref(map_index), key], "lookup")

    def map_update(self, map_index: int, key, value, flags: int = BPF_ANY):
        return self.call(MAP_UPDATE_ELEM, I64, [self.map_ref(map_index), key, value,
                                                 _c64(flags)])

    def map_delete(self, map_index: int, key):
        return self.call(MAP_DELETE_ELEM, I64, [self.map_ref(map_index), key])

    def probe_read(self, dst, size, src):
        # The legacy helper reads user or kernel memory on architectures whose
        # address spaces do not overlap (x86-64, where pytrace runs today).
        return self.call(PROBE_READ, I64, [dst, self._u32(size), src])

    def probe_read_str(self, dst, size, src):
        return self.call(PROBE_READ_STR, I64, [dst, self._u32(size), src])

    def ktime_get_ns(self):
        return self.call(KTIME_GET_NS, I64, [])

    def get_prandom_u32(self):
        return self.call(GET_PRANDOM_U32, I64, [])

    def get_smp_processor_id(self):
        # Programs run with migration disabled: the CPU is fixed for the run.
        return self.stable_call(GET_SMP_PROCESSOR_ID)

    def get_current_pid_tgid(self):
        return self.stable_call(GET_CURRENT_PID_TGID)

    def get_current_uid_gid(self):
        return self.stable_call(GET_CURRENT_UID_GID)

    def get_current_comm(self, dst, size: int):
        return self.call(GET_CURRENT_COMM, I64, [dst, self._u32(size)])

    def get_current_cgroup_id(self):
        return self.stable_call(GET_CURRENT_CGROUP_ID)

    def ringbuf_reserve(self, map_index: int, size: int):
        return self.call(RINGBUF_RESERVE, I8P, [self.map_ref(map_index), _c64(size), _c64(0)],
                         "record")

    def ringbuf_submit(self, record, flags: int = 0):
        return self.call(RINGBUF_SUBMIT, ir.VoidType(), [record, _c64(flags)])

    def _u32(self, size):
        if isinstance(size, int):
            return ir.Constant(I32, size)
        return self.b.trunc(size, I32) if size.type != I32 else size
