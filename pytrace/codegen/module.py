"""The LLVM module for one program text, and its lowering to a BPF ELF object.

Every probe becomes one function here (built by pytrace.codegen.function); this
module owns what they share: the target triple, intrinsic declarations, and the
in-process lowering (llvmlite new pass manager at -O2, then the bpfel backend).
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
import llvmlite.ir as ir

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
I8P = I8.as_pointer()

TRIPLE = "bpfel"
DATALAYOUT = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"


class ModuleBuilder:
    def __init__(self) -> None:
        self.module = ir.Module("pytrace")
        self.module.triple = TRIPLE
        self.module.data_layout = DATALAYOUT
        # ld_imm64 with src_reg=1: a map referenced by index, patched to its fd at load.
        self.pseudo = ir.Function(self.module, ir.FunctionType(I64, [I64, I64]),
                                  "llvm.bpf.pseudo")
        self.memset = self.module.declare_intrinsic("llvm.memset", [I8P, I64])
        self.memcpy = self.module.declare_intrinsic("llvm.memcpy", [I8P, I8P, I64])
        # LLVM 21+ lifetime markers take only the alloca.
        marker = ir.FunctionType(ir.VoidType(), [I8P])
        self.lifetime_start = ir.Function(self.module, marker, "llvm.lifetime.start.p0")
        self.lifetime_end = ir.Function(self.module, marker, "llvm.lifetime.end.p0")

    def new_function(self, name: str, section: str) -> ir.Function:
        fn = ir.Function(self.module, ir.FunctionType(I64, [I8P]), name)
        fn.section = section
        fn.args[0].name = "ctx"
        return fn


@functools.lru_cache(maxsize=1)
def _target_machine():
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    # Without this, a program over 512 bytes of stack makes the BPF backend abort the
    # whole process; with it the verifier rejects the program and we report that.
    llvm.set_option("pytrace", "-bpf-stack-size=65536")
    target = llvm.Target.from_triple(TRIPLE)
    return target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")


def optimise(ir_text: str):
    """Parse and run the -O2 IR pipeline; returns the llvm ModuleRef."""
    tm = _target_machine()
    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=2)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def emit_object(mod) -> bytes:
    return _target_machine().emit_object(mod)


def emit_assembly(mod) -> str:
    return _target_machine().emit_assembly(mod)
