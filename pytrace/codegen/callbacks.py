"""BPF subprograms that helpers call back (bpf_for_each_map_elem and friends).

A callback is an internal LLVM function in the default `.text` section; the
program refers to it with an `ld_imm64` that LLVM relocates against `.text`.
The loader appends each referenced subprogram after the program and turns
that instruction into a BPF_PSEUDO_FUNC reference (pytrace.runtime.loader).
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace.codegen.module import I8P, I64

# long callback(struct bpf_map *map, const void *key, void *value, void *ctx)
CALLBACK_TYPE = ir.FunctionType(I64, [I8P, I8P, I8P, I8P])

FOR_EACH_MAP_ELEM = 164


def visit_and_continue(module: ir.Module) -> ir.Function:
    """The callback that looks at nothing and asks for the next element (returns 0)."""
    name = "pytrace_visit_continue"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    fn = ir.Function(module, CALLBACK_TYPE, name)
    fn.linkage = "internal"
    ir.IRBuilder(fn.append_basic_block("entry")).ret(ir.Constant(I64, 0))
    return fn


def count_elements(fn, map_index: int) -> ir.Value:
    """The number of elements in a map: bpf_for_each_map_elem returns how many it visited."""
    callback = visit_and_continue(fn.mb.module)
    b = fn.b
    return fn.h.call(FOR_EACH_MAP_ELEM, I64, [
        fn.h.map_ref(map_index),
        b.bitcast(callback, I8P),
        ir.Constant(I8P, None),
        ir.Constant(I64, 0),
    ], "len")
