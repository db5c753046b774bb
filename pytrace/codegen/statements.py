"""Statement codegen: assignments, control flow, loops, jumps (dispatch table at the end),
and `generate`, a probe's whole program."""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import get_function
from pytrace.codegen import maps
from pytrace.codegen.expressions import gen_expr, scaled
from pytrace.codegen.function import FunctionCodegen, c64
from pytrace.diagnostics import PytraceError
from pytrace.types import PointerType, is_signed


def gen_block(fn: FunctionCodegen, block: ast.Block) -> None:
    for stmt in block.stmts:
        if fn.b.block.is_terminated:
            return  # code after return/break/continue is dead
        with fn.statement_scope():
            _HANDLERS[type(stmt)](fn, stmt)


def _expr_stmt(fn, s: ast.ExprStmt):
    fn.expr(s.expr)


_COMPOUND = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|",
             "^=": "^", "<<=": "<<", ">>=": ">>"}


def _assign(fn: FunctionCodegen, s: ast.Assign):
    target, value = s.target, s.value
    if isinstance(value, ast.Call) and isinstance(target, ast.Map) and s.op == "=":
        record = get_function(value.name)
        if record.aggregation is not None:
            record.aggregate(fn, target, value)
            return
    if s.op == "=":
        v, vt = fn.expr(value), value.ty
    else:
        op = _COMPOUND[s.op]
        current = fn.expr(target)
        rhs = fn.expr(value)
        if isinstance(target.ty, PointerType) and op in ("+", "-"):
            rhs = scaled(fn, rhs, target.ty)  # a pointer moves by whole elements
        signed = is_signed(target.ty) and is_signed(value.ty)
        b = fn.b
        ops = {"+": b.add, "-": b.sub, "*": b.mul, "&": b.and_, "|": b.or_, "^": b.xor,
               "<<": b.shl, ">>": b.ashr if is_signed(target.ty) else b.lshr}
        if op in ("/", "%"):
            v = fn.divide(op, current, rhs, signed)
        else:
            v = ops[op](current, rhs)
        vt = target.ty
    if isinstance(target, ast.Map):
        maps.write(fn, target, v, vt, s.op_span)
    else:
        fn.assign_var(target.name, v, vt)


def _var_decl(fn: FunctionCodegen, s: ast.VarDecl):
    if s.value is not None:
        fn.assign_var(s.var.name, fn.expr(s.value), s.value.ty)


def _if(fn: FunctionCodegen, s: ast.If):
    cond = fn.truth(fn.expr(s.cond))
    if s.otherwise is None:
        with fn.if_then(cond, "if"):
            gen_block(fn, s.then)
    else:
        fn.if_else(cond, lambda: gen_block(fn, s.then), lambda: gen_block(fn, s.otherwise))


def _unroll(fn: FunctionCodegen, s: ast.Unroll):
    for _ in range(fn.state.info(s)["count"]):
        gen_block(fn, s.body)
        if fn.b.block.is_terminated:
            return


def _while(fn: FunctionCodegen, s: ast.While):
    # Kernels since 5.3 verify bounded loops; the verifier proves termination.
    head = fn.fn.append_basic_block("while.cond")
    body = fn.fn.append_basic_block("while.body")
    done = fn.fn.append_basic_block("while.end")
    fn.b.branch(head)
    # The condition and body run again after the body's stores: nothing computed
    # before the loop is reused inside it (pytrace.codegen.reuse).
    with fn.reuse.loop():
        fn.b.position_at_end(head)
        fn.b.cbranch(fn.truth(fn.expr(s.cond)), body, done)
        fn.b.position_at_end(body)
        fn.loops.append((head, done))
        gen_block(fn, s.body)
        fn.loops.pop()
        if not fn.b.block.is_terminated:
            fn.b.branch(head)
    fn.b.position_at_end(done)


def _jump(fn: FunctionCodegen, s: ast.Jump):
    if s.kind == "return":
        if s.value is not None:
            fn.expr(s.value)
        fn.b.ret(c64(0))  # programs always return 0 (see SEAMS: never 1)
    elif s.kind == "break":
        fn.b.branch(fn.loops[-1][1])
    elif s.kind == "continue":
        fn.b.branch(fn.loops[-1][0])
    else:
        raise PytraceError(f"Unknown jump {s.kind}", s.span)


_HANDLERS = {
    ast.ExprStmt: _expr_stmt, ast.Assign: _assign, ast.VarDecl: _var_decl, ast.If: _if,
    ast.Unroll: _unroll, ast.While: _while, ast.Jump: _jump,
}


def generate(fn: FunctionCodegen) -> ir.Function:
    """The probe's program: its scratch variables, its predicate, its body."""
    fn.gen_expr = gen_expr
    probe = fn.unit.probe
    for name, ty in fn.var_types.items():
        fn.vars[name] = fn.alloc(ty.size, name)
    # Variables start as zero, as in bpftrace; it also keeps the verifier happy
    # about reading stack slots nobody wrote on some path.
    for name, ty in fn.var_types.items():
        fn.zero(fn.vars[name], ty.size)
    if probe.predicate is not None:
        cond = fn.truth(fn.expr(probe.predicate))
        body = fn.fn.append_basic_block("body")
        skip = fn.fn.append_basic_block("skip")
        fn.b.cbranch(cond, body, skip)
        fn.b.position_at_end(skip)
        fn.b.ret(c64(0))
        fn.b.position_at_end(body)
    gen_block(fn, probe.body)
    if not fn.b.block.is_terminated:
        fn.b.ret(c64(0))
    return fn.fn
