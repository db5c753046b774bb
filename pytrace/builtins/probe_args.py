"""Probe arguments: arg0..N, sarg0..N, retval and func, read from each probe type's context.

Which context a program gets depends on its provider, which declares it with
the argument hooks of pytrace.probes.Provider (a provider that keeps the
defaults gets the bpftrace error for the builtin):

  ctx_kind   "pt_regs"   kprobe/uprobe: registers saved at the probe (arg N in
                         the calling convention's Nth register, retval in the
                         return register, func from the instruction pointer)
             "raw_args"  rawtracepoint and fentry/fexit: an array of u64 slots
             "usdt"      uprobe registers, arguments decoded from the note's
                         specs (AttachSpec.options["usdt_args"])
  is_return  retval is allowed (kretprobe, uretprobe, fexit)
  user       addresses are user space (usym for func, probe_read_user for sarg)

fexit's retval sits in the slot after the parameters (options["retval_index"],
typed by options["retval_type"]).
"""

from __future__ import annotations

import os

from pytrace.builtins import variable
from pytrace.codegen.function import c64
from pytrace.passes.state import error
from pytrace.types import INT64, UINT64, SymbolType

MAX_ARGS = 16

# struct pt_regs byte offsets (arch/x86/include/asm/ptrace.h, arm64 user_pt_regs).
_PT_REGS = {
    "x86_64": {"args": (112, 104, 96, 88, 72, 64),  # di si dx cx r8 r9
               "ret": 80, "ip": 128, "sp": 152},
    "aarch64": {"args": tuple(8 * i for i in range(8)),  # regs[0..7]
                "ret": 0, "ip": 256, "sp": 248},
}

GET_FUNC_IP = 173      # bpf_get_func_ip: the traced function's address (kretprobe)


def _machine(target) -> str:
    """The target's architecture (a remote one's, not this machine's)."""
    try:
        return target.machine
    except (AttributeError, NotImplementedError):   # a test double without one
        return os.uname().machine


def pt_regs_layout(target) -> dict:
    machine = _machine(target)
    layout = _PT_REGS.get(machine)
    if layout is None:
        raise error(f"probe arguments are not supported on {machine}")
    return layout


def _kind(checker) -> str | None:
    return checker.unit.provider.ctx_kind


def _ptype(unit) -> str:
    return unit.provider.name


# ---- arg0..N ----------------------------------------------------------------------

def _usdt_args(unit):
    return unit.specs[0].options.get("usdt_args", []) if unit.specs else []


def _arg_type(index: int):
    def check(checker, e):
        kind = _kind(checker)
        if kind not in ("pt_regs", "raw_args", "usdt"):
            raise error(f"The {e.name} builtin can only be used with 'kprobes', 'uprobes' "
                        "and 'usdt' probes", e)
        if kind == "pt_regs":
            if checker.unit.provider.is_return:
                raise error(f"The {e.name} builtin can not be used with "
                            f"'{_ptype(checker.unit)}' probes", e)
            n = len(pt_regs_layout(checker.state.target)["args"])
            if index >= n:
                raise error(f"{e.name}: only {n} register arguments are available "
                            f"(arg0..arg{n - 1}); use sargN for stack arguments", e)
        if kind == "usdt":
            args = _usdt_args(checker.unit)
            if index >= len(args):
                spec = checker.unit.specs[0] if checker.unit.specs else None
                raise error(f"{e.name}: {spec.name if spec else 'this probe'} has "
                            f"{len(args)} argument{'s' if len(args) != 1 else ''}", e)
            return INT64 if args[index].signed else UINT64
        if kind == "raw_args":
            limit = checker.unit.specs[0].options.get("nargs") if checker.unit.specs else None
            if limit is not None and index >= limit:
                raise error(f"{e.name}: {checker.unit.specs[0].name} has {limit} argument"
                            f"{'s' if limit != 1 else ''}", e)
        return UINT64
    return check


def _arg_codegen(index: int):
    def gen(fn, e):
        kind = fn.unit.provider.ctx_kind
        if kind == "pt_regs":
            off = pt_regs_layout(fn.state.target)["args"][index]
            return fn.load_int(fn.gep(fn.ctx, off), 8, False)
        if kind == "raw_args":
            return fn.load_int(fn.gep(fn.ctx, 8 * index), 8, False)
        return usdt_arg(fn, _usdt_args(fn.unit)[index], fn.unit.specs[0])
    return gen


def usdt_arg(fn, arg, spec):
    """The value of one USDT argument, sign- or zero-extended to 64 bits."""
    if arg.kind == "const":
        return c64(arg.offset)
    if arg.kind == "reg":
        # A 4-byte register (%edi) is the low bytes of its pt_regs slot (little endian).
        return fn.load_int(fn.gep(fn.ctx, arg.reg_offset), arg.size, arg.signed)
    # Memory: the address is base register + displacement (+ index * scale); a
    # %rip-relative global is found from where the probe itself runs instead.
    if arg.symbol:
        ip = fn.load_int(fn.gep(fn.ctx, pt_regs_layout(fn.state.target)["ip"]), 8, False)
        delta = spec.options["usdt_symbols"][arg.symbol] - spec.options["usdt_pc"]
        addr = fn.b.add(ip, c64(delta + arg.offset))
    else:
        base = fn.load_int(fn.gep(fn.ctx, arg.reg_offset), 8, False)
        addr = fn.b.add(base, c64(arg.offset))
        if arg.index_reg:
            index = fn.load_int(fn.gep(fn.ctx, arg.index_reg_offset), 8, False)
            addr = fn.b.add(addr, fn.b.mul(index, c64(arg.scale)))
    return read_memory(fn, addr, arg.size, arg.signed, user=True)


def read_memory(fn, addr, size: int, signed: bool, user: bool):
    from pytrace.codegen.helpers import PROBE_READ_KERNEL, PROBE_READ_USER
    from pytrace.codegen.module import I8P, I64
    buf = fn.alloc(8, "mem")
    fn.zero(buf, 8)
    helper = PROBE_READ_USER if user else PROBE_READ_KERNEL
    fn.h.call(helper, I64, [buf, fn.h._u32(size), fn.b.inttoptr(addr, I8P)])
    return fn.load_int(buf, size, signed)


# ---- sarg0..N: stack arguments -------------------------------------------------------

def _sarg_type(index: int):
    def check(checker, e):
        if _kind(checker) != "pt_regs" or checker.unit.provider.is_return:
            raise error(f"The {e.name} builtin can only be used with 'kprobes' and "
                        "'uprobes' probes", e)
        return INT64
    return check


def _sarg_codegen(index: int):
    def gen(fn, e):
        layout = pt_regs_layout(fn.state.target)
        sp = fn.load_int(fn.gep(fn.ctx, layout["sp"]), 8, False)
        # x86_64: the return address is at sp; stack arguments follow it.
        skip = 8 if _machine(fn.state.target) == "x86_64" else 0
        addr = fn.b.add(sp, c64(skip + 8 * index))
        return read_memory(fn, addr, 8, True, fn.unit.provider.user)
    return gen


# ---- retval ------------------------------------------------------------------------------

def _retval_type(checker, e):
    provider = checker.unit.provider
    if not provider.is_return:
        raise error("The retval builtin can only be used with 'kretprobe' and 'uretprobe' "
                    "and 'kfunc' probes (try to use args->ret instead)", e)
    if _kind(checker) == "raw_args":
        return checker.unit.specs[0].options.get("retval_type", UINT64)
    return UINT64


def _retval(fn, e):
    if fn.unit.provider.ctx_kind == "raw_args":
        options = fn.unit.specs[0].options
        ty = options.get("retval_type", UINT64)
        return fn.load_int(fn.gep(fn.ctx, 8 * options["retval_index"]), ty.size,
                           getattr(ty, "signed", False))
    off = pt_regs_layout(fn.state.target)["ret"]
    return fn.load_int(fn.gep(fn.ctx, off), 8, False)


# ---- func -----------------------------------------------------------------------------------

def _func_type(checker, e):
    provider = checker.unit.provider
    if _kind(checker) != "pt_regs" and not provider.func_from_spec:
        raise error(f"The func builtin can not be used with '{_ptype(checker.unit)}' probes", e)
    return SymbolType(kernel=not provider.user)


def _func(fn, e):
    from pytrace.codegen.module import I64
    provider = fn.unit.provider
    user = provider.user
    if provider.func_from_spec or (
            provider.is_return and not user):
        # The kernel knows the traced function (fentry, kretprobe); a uretprobe's
        # ip is the return address, so its func is the caller, as in bpftrace 0.17.
        ip = fn.h.call(GET_FUNC_IP, I64, [fn.ctx])
    else:
        ip = fn.load_int(fn.gep(fn.ctx, pt_regs_layout(fn.state.target)["ip"]), 8, False)
    buf = fn.alloc(16 if user else 8, "func")
    fn.store_int(ip, buf, 8)
    if user:
        # usym values carry the pid so userspace can read that process's maps.
        fn.store_int(fn.b.lshr(fn.h.get_current_pid_tgid(), c64(32)), fn.gep(buf, 8), 8)
    return buf


for _i in range(MAX_ARGS):
    variable(f"arg{_i}", _arg_type(_i), _arg_codegen(_i))
    variable(f"sarg{_i}", _sarg_type(_i), _sarg_codegen(_i))
variable("retval", _retval_type, _retval)
variable("func", _func_type, _func)
