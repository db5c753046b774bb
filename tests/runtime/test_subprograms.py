"""The loader appends referenced subprograms and turns their references into
BPF_PSEUDO_FUNC loads, and the kernel accepts the result under our func BTF."""

from __future__ import annotations

import struct

import llvmlite.binding as llvm
import pytest

from pytrace.resources import ProgramSpec
from pytrace.runtime import func_btf
from pytrace.runtime.loader import LD_IMM64, PSEUDO_FUNC, ObjectReader

IR = r'''
target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
target triple = "bpfel"
declare i64 @llvm.bpf.pseudo(i64, i64)
define internal i64 @unused_cb(i8* %m, i8* %k, i8* %v, i8* %c) {
  ret i64 1
}
define internal i64 @cb(i8* %m, i8* %k, i8* %v, i8* %c) {
  ret i64 0
}
define i64 @prog(i8* %ctx) section "raw_tracepoint/x" {
  %mp = call i64 @llvm.bpf.pseudo(i64 1, i64 0)
  %m = inttoptr i64 %mp to i8*
  %f = inttoptr i64 164 to i64 (i8*, i8*, i8*, i64)*
  %n = call i64 %f(i8* %m, i8* bitcast (i64 (i8*, i8*, i8*, i8*)* @cb to i8*), i8* null, i64 0)
  ret i64 %n
}
'''


def compile_ir(text: str) -> bytes:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    tm = llvm.Target.from_triple("bpfel").create_target_machine(opt=2, reloc="static")
    return tm.emit_object(llvm.parse_assembly(text))


def insns_of(code: bytes) -> list[tuple[int, int, int]]:
    return [(code[i], code[i + 1], struct.unpack_from("<i", code, i + 4)[0])
            for i in range(0, len(code), 8)]


def test_only_the_referenced_callback_is_appended_and_pointed_at():
    reader = ObjectReader(compile_ir(IR))
    code, subprograms = reader.link(ProgramSpec("prog", "raw_tracepoint/x", "raw_tracepoint"))
    assert [name for name, _ in subprograms] == ["cb"]
    first = subprograms[0][1]
    insns = insns_of(code)
    assert len(insns) == first + 2  # cb is `r0 = 0; exit`
    refs = [pc for pc, (op, regs, _) in enumerate(insns)
            if op == LD_IMM64 and regs >> 4 == PSEUDO_FUNC]
    assert len(refs) == 1
    assert refs[0] + 1 + insns[refs[0]][2] == first


@pytest.mark.kernel
def test_the_kernel_loads_the_linked_program_with_its_func_btf():
    from pytrace.target.local import LocalTarget
    from pytrace.runtime.loader import patch_map_fds

    target = LocalTarget()
    try:
        map_fd = target.map_create(1, 8, 8, 16)  # hash
        target.map_update(map_fd, struct.pack("<Q", 1), struct.pack("<Q", 7))
        reader = ObjectReader(compile_ir(IR))
        code, subprograms = reader.link(ProgramSpec("prog", "raw_tracepoint/x", "raw_tracepoint"))
        blob, func_info = func_btf.build("prog", subprograms)
        btf_fd = target.btf_load(blob)
        prog_fd, _ = target.prog_load(17, patch_map_fds(code, [map_fd]), "GPL",
                                      prog_btf_fd=btf_fd, func_info=func_info)
        # bpf_for_each_map_elem visited the one element.
        assert target.prog_test_run(prog_fd) == 1
    finally:
        target.close_all()
