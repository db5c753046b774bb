"""Hand-built BPF objects and Resources for runtime tests (no compiler involved).

`counter_object` is what the compiler would emit for
`BEGIN { @n = count(); printf("%d\\n", 42); }` in spirit: it bumps slot 0 of a
map referenced as `llvm.bpf.pseudo(1, COUNTER)` and writes one ring buffer record
(action 0, a u64 payload) then an exit() record (action 1) through
`llvm.bpf.pseudo(1, EVENTS)`.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import llvmlite.ir as ir

from pytrace import types as T
from pytrace.resources import AsyncAction, MapSpec, ProgramSpec, Resources

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = I8.as_pointer()
HELPER_MAP_LOOKUP = 1
HELPER_RINGBUF_OUTPUT = 130


def _helper(builder, number, ret, args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    fn = builder.inttoptr(ir.Constant(I64, number), fnty.as_pointer())
    return builder.call(fn, args)


def build_object(body, name="begin_prog", section="s_begin") -> bytes:
    """Lower one function whose body `body(builder, pseudo)` writes; returns ELF bytes."""
    module = ir.Module("handmade")
    module.triple = "bpfel"
    pseudo = ir.Function(module, ir.FunctionType(I64, [I64, I64]), "llvm.bpf.pseudo")
    fn = ir.Function(module, ir.FunctionType(I64, [PTR]), name)
    fn.section = section
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    body(builder, lambda index: builder.call(pseudo, [ir.Constant(I64, 1),
                                                     ir.Constant(I64, index)]))
    builder.ret(ir.Constant(I64, 0))
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    machine = llvm.Target.from_triple("bpfel").create_target_machine(opt=2)
    mod = llvm.parse_assembly(str(module))
    mod.verify()
    return machine.emit_object(mod)


def counter_body(counter_index: int, events_index: int, value: int = 42):
    def body(b, pseudo):
        key = b.alloca(I32)
        record = b.alloca(ir.ArrayType(I64, 2))  # allocas stay in the entry block
        b.store(ir.Constant(I32, 0), key)
        slot = _helper(b, HELPER_MAP_LOOKUP, PTR,
                       [b.inttoptr(pseudo(counter_index), PTR), b.bitcast(key, PTR)])
        found = b.icmp_unsigned("!=", slot, ir.Constant(PTR, None))
        with b.if_then(found):
            b.atomic_rmw("add", b.bitcast(slot, I64.as_pointer()), ir.Constant(I64, 1),
                         "monotonic")
        words = b.bitcast(record, I64.as_pointer())
        b.store(ir.Constant(I64, 0), words)
        b.store(ir.Constant(I64, value), b.gep(words, [ir.Constant(I32, 1)]))
        _helper(b, HELPER_RINGBUF_OUTPUT, I64,
                [b.inttoptr(pseudo(events_index), PTR), b.bitcast(record, PTR),
                 ir.Constant(I64, 16), ir.Constant(I64, 0)])
        # Then exit(): a record holding only action id 1.
        b.store(ir.Constant(I64, 1), words)
        _helper(b, HELPER_RINGBUF_OUTPUT, I64,
                [b.inttoptr(pseudo(events_index), PTR), b.bitcast(record, PTR),
                 ir.Constant(I64, 8), ir.Constant(I64, 0)])
    return body


def counter_resources(prog_type="begin") -> Resources:
    return Resources(
        maps=[MapSpec(".events", "ringbuf", (), T.VOID, 0, 0, 1 << 16),
              MapSpec("@n", "percpu_array", (), T.CountType(), 4, 8, 1)],
        actions=[AsyncAction("printf", T.TupleType((T.INT64,)), fmt="%d\n"),
                 AsyncAction("exit")],
        programs=[ProgramSpec("begin_prog", "s_begin", prog_type)],
        probe_names=["BEGIN"])
