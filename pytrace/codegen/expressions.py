"""Expression codegen, one function per AST node kind (dispatch table at the end).

Each returns an i64 for integer-like types or an i8* to memory for the rest
(see pytrace.codegen.function). Types were settled by the type pass (`e.ty`).
"""

from __future__ import annotations

import llvmlite.ir as ir

from pytrace import ast
from pytrace.builtins import get_function, get_variable
from pytrace.codegen import helper_errors, maps
from pytrace.codegen.function import FunctionCodegen, align_of, bool_to_i64, c64
from pytrace.diagnostics import PytraceError, Span
from pytrace.codegen.records import read_field, read_memory_bytes, read_memory_field
from pytrace.types import (ArrayType, PointerType, RecordType, StringType, TupleType,
                           is_int, is_signed)


def gen_expr(fn: FunctionCodegen, e: ast.Expr):
    handler = _HANDLERS.get(type(e))
    if handler is None:
        raise PytraceError(f"{type(e).__name__} expressions are not supported yet", e.span)
    return handler(fn, e)


def _integer(fn, e: ast.Integer):
    return c64(e.value)


def _identifier(fn, e: ast.Identifier):
    return c64(fn.state.info(e)["value"])  # an enumerator, resolved by the type pass


def element_size(fn: FunctionCodegen, t) -> int:
    """How far `ptr + 1` moves: the pointee's size (1 for void *)."""
    if not isinstance(t, PointerType) or t.pointee is None:
        return 1
    pointee = t.pointee
    if isinstance(pointee, RecordType) and pointee.name:
        pointee = fn.state.c_types().complete(pointee)
    return max(pointee.size, 1)


def scaled(fn: FunctionCodegen, value, pointer_type):
    size = element_size(fn, pointer_type)
    return value if size == 1 else fn.b.mul(value, c64(size))


def _boolean(fn, e: ast.Boolean):
    return c64(1 if e.value else 0)


def string_constant(fn: FunctionCodegen, text: bytes, size: int):
    """A NUL-padded string of `size` bytes on the stack."""
    buf = fn.alloc(size, "str")
    data = text[: size - 1].ljust(size, b"\0")
    # Whole words at a time: fewer instructions than a byte-wise copy.
    for off in range(0, size - size % 8, 8):
        fn.store_int(c64(int.from_bytes(data[off:off + 8], "little")), fn.gep(buf, off), 8)
    for off in range(size - size % 8, size):
        fn.store_int(c64(data[off]), fn.gep(buf, off), 1)
    return buf


def _string(fn, e: ast.String):
    return string_constant(fn, e.value.encode("utf-8", "surrogateescape"), e.ty.size)


def _builtin(fn, e: ast.Builtin):
    return get_variable(e.name).codegen(fn, e)


def _positional(fn, e: ast.PositionalParam):
    params = fn.state.params
    text = params[e.index - 1] if 1 <= e.index <= len(params) else None
    if isinstance(e.ty, StringType):
        return string_constant(fn, (text or "").encode(), e.ty.size)
    return c64(int(text, 0) if text is not None else 0)


def _positional_count(fn, e):
    return c64(len(fn.state.params))


def _variable(fn, e: ast.Variable):
    ty = fn.var_types[e.name]
    return fn.load(ty, fn.vars[e.name])


def _map(fn, e: ast.Map):
    return maps.read(fn, e)


def _call(fn, e: ast.Call):
    record = get_function(e.name)
    return record.codegen(fn, e)


def strings_equal(fn: FunctionCodegen, a, a_size: int, b, b_size: int, steps: int):
    """1 if the first `steps` bytes agree up to a shared NUL, else 0; a byte past
    a string's capacity reads as NUL. Unrolled, so the verifier sees it bounded."""
    result = fn.alloc(8, "streq")
    fn.store_int(c64(0), result, 8)
    done = fn.fn.append_basic_block("streq.done")
    equal = fn.fn.append_basic_block("streq.equal")
    for i in range(steps):
        x = fn.load_int(fn.gep(a, i), 1, False) if i < a_size else c64(0)
        y = fn.load_int(fn.gep(b, i), 1, False) if i < b_size else c64(0)
        same = fn.fn.append_basic_block("streq.same")
        fn.b.cbranch(fn.b.icmp_unsigned("!=", x, y), done, same)
        fn.b.position_at_end(same)
        nxt = fn.fn.append_basic_block("streq.next")
        fn.b.cbranch(fn.b.icmp_unsigned("==", x, c64(0)), equal, nxt)
        fn.b.position_at_end(nxt)
    fn.b.branch(equal)
    fn.b.position_at_end(equal)
    fn.store_int(c64(1), result, 8)
    fn.b.branch(done)
    fn.b.position_at_end(done)
    return fn.load_int(result, 8, False)


def _string_equal(fn: FunctionCodegen, a, at: StringType, b, bt: StringType):
    """`==` on strings: equal up to their NUL within the shorter capacity."""
    n = min(at.size, bt.size)
    return strings_equal(fn, a, at.size, b, bt.size, n)


_CMP = {"==": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


def _binary(fn: FunctionCodegen, e: ast.Binary):
    b = fn.b
    if e.op in ("&&", "||"):
        left = fn.truth(fn.expr(e.left))
        if e.op == "&&":
            return fn.select_int(left, lambda: bool_to_i64(fn, fn.truth(fn.expr(e.right))),
                                 lambda: c64(0))
        return fn.select_int(left, lambda: c64(1),
                             lambda: bool_to_i64(fn, fn.truth(fn.expr(e.right))))
    lt, rt = e.left.ty, e.right.ty
    left, right = fn.expr(e.left), fn.expr(e.right)
    if isinstance(lt, StringType) and isinstance(rt, StringType):
        eq = _string_equal(fn, left, lt, right, rt)
        return eq if e.op == "==" else b.xor(eq, c64(1))
    signed = is_signed(lt) and is_signed(rt)
    if e.op in _CMP:
        cmp = b.icmp_signed if signed else b.icmp_unsigned
        return bool_to_i64(fn, cmp(_CMP[e.op], left, right))
    signed = is_signed(e.ty)
    if e.op in ("/", "%"):
        return fn.divide(e.op, left, right, signed)
    if isinstance(e.ty, PointerType) and e.op in ("+", "-"):
        if isinstance(lt, PointerType):
            right = scaled(fn, right, lt)
        else:
            left = scaled(fn, left, rt)
    ops = {"+": b.add, "-": b.sub, "*": b.mul, "&": b.and_, "|": b.or_, "^": b.xor,
           "<<": b.shl, ">>": (b.ashr if is_signed(lt) else b.lshr)}
    return ops[e.op](left, right)


def _unary(fn: FunctionCodegen, e: ast.Unary):
    value = fn.expr(e.operand)
    if e.op == "-":
        return fn.b.neg(value)
    if e.op == "~":
        return fn.b.not_(value)
    if e.op == "!":
        return bool_to_i64(fn, fn.b.icmp_unsigned("==", value, c64(0)))
    if e.op == "*" and isinstance(e.ty, RecordType):
        return read_memory_bytes(fn, value, e.ty.size, e.span)  # the struct as a value
    if e.op == "*":
        size = e.ty.size if is_int(e.ty) else 8
        buf = fn.alloc(8, "deref")
        fn.zero(buf, 8)
        ret = fn.h.probe_read(buf, size, fn.b.inttoptr(value, buf.type))
        # -kk points at the `*` itself, as bpftrace does.
        at = Span(e.span.line, e.span.col, e.span.line, e.span.col + 1) if e.span else None
        helper_errors.check(fn, ret, "probe_read", at, read=True)
        return fn.load_int(buf, size, is_signed(e.ty))
    raise PytraceError(f"The {e.op} operator is not supported yet", e.span)


def _incdec(fn: FunctionCodegen, e: ast.IncDec):
    delta = c64((1 if e.op == "++" else -1) * element_size(fn, e.ty))
    old = fn.expr(e.target)
    new = fn.b.add(old, delta)
    if isinstance(e.target, ast.Map):
        maps.write(fn, e.target, new, e.ty, e.span)
    else:
        fn.assign_var(e.target.name, new, e.ty)
    return new if e.prefix else old


def _ternary(fn: FunctionCodegen, e: ast.Ternary):
    cond = fn.truth(fn.expr(e.cond))
    if is_int(e.ty):
        return fn.select_int(cond, lambda: fn.expr(e.then), lambda: fn.expr(e.otherwise))
    buf = fn.alloc(e.ty.size, "tern")
    fn.if_else(cond, lambda: fn.store(e.ty, fn.expr(e.then), buf, e.then.ty),
               lambda: fn.store(e.ty, fn.expr(e.otherwise), buf, e.otherwise.ty))
    return buf


def _field(fn: FunctionCodegen, e: ast.FieldAccess):
    record = e.expr.ty
    if isinstance(record, PointerType):
        record = record.pointee
    f = record.field(e.field)
    if in_memory(e.expr):  # a struct in kernel or user memory: read just this field
        return read_memory_field(fn, record_address(fn, e.expr), f, e.span)
    base = fn.expr(e.expr)  # a struct already on the stack or the ctx
    return read_field(fn, base, record, f)


def in_memory(e: ast.Expr) -> bool:
    """Whether the struct `e` reaches (by pointer, `*p`, or a member of those) is
    still in probed memory, rather than a value on the stack or the ctx."""
    if isinstance(e.ty, PointerType):
        return True
    if isinstance(e, ast.Unary) and e.op == "*":
        return True
    return isinstance(e, ast.FieldAccess) and isinstance(e.ty, RecordType) and \
        in_memory(e.expr)


def record_address(fn: FunctionCodegen, e: ast.Expr):
    """The address of a struct in memory: a pointer's value, `*p`'s p, or a member's place."""
    if isinstance(e.ty, PointerType):
        return fn.expr(e)
    if isinstance(e, ast.Unary):
        return fn.expr(e.operand)
    outer = e.expr.ty.pointee if isinstance(e.expr.ty, PointerType) else e.expr.ty
    return fn.b.add(record_address(fn, e.expr), c64(outer.field(e.field).offset))


def _tuple_access(fn: FunctionCodegen, e: ast.TupleAccess):
    base = fn.expr(e.expr)
    t: TupleType = e.expr.ty
    return fn.load(t.elems[e.index], fn.gep(base, t.offsets[e.index]))


def _index(fn: FunctionCodegen, e: ast.Index):
    base = fn.expr(e.expr)
    idx = fn.expr(e.index)
    t = e.expr.ty
    if isinstance(t, (ArrayType, StringType)):
        elem_size = t.elem.size if isinstance(t, ArrayType) else 1
        # Bound the index so the verifier sees an in-range stack access.
        n = t.count if isinstance(t, ArrayType) else t.size
        safe = fn.b.urem(idx, c64(n))
        ptr = fn.b.gep(base, [fn.b.mul(safe, c64(elem_size))])
        return fn.load_int(ptr, elem_size, is_signed(e.ty))
    size = e.ty.size if is_int(e.ty) else 1
    addr = fn.b.add(base, fn.b.mul(idx, c64(size)))
    buf = fn.alloc(8, "elem")
    fn.zero(buf, 8)
    ret = fn.h.probe_read(buf, size, fn.b.inttoptr(addr, buf.type))
    helper_errors.check(fn, ret, "probe_read", e.span, read=True)
    return fn.load_int(buf, size, is_signed(e.ty))


def _cast(fn: FunctionCodegen, e: ast.Cast):
    value = fn.expr(e.expr)
    ty = e.ty
    if is_int(ty) and ty.size < 8:
        narrow = fn.b.trunc(value, ir.IntType(ty.size * 8))
        return fn.b.sext(narrow, value.type) if is_signed(ty) else fn.b.zext(narrow, value.type)
    return value


def _tuple(fn: FunctionCodegen, e: ast.Tuple):
    t: TupleType = e.ty
    buf = fn.alloc(t.size, "tuple")
    fn.zero(buf, t.size)
    for x, ty, off in zip(e.elems, t.elems, t.offsets):
        fn.store(ty, fn.expr(x), fn.gep(buf, off), x.ty, align_of(off))
    return buf


def _sizeof(fn, e: ast.Sizeof):
    return c64(fn.state.info(e)["value"])


def _offsetof(fn, e: ast.Offsetof):
    return c64(fn.state.info(e)["value"])


_HANDLERS = {
    ast.Integer: _integer, ast.Identifier: _identifier, ast.Boolean: _boolean, ast.String: _string,
    ast.Builtin: _builtin, ast.PositionalParam: _positional,
    ast.PositionalCount: _positional_count, ast.Variable: _variable, ast.Map: _map,
    ast.Call: _call, ast.Binary: _binary, ast.Unary: _unary, ast.IncDec: _incdec,
    ast.Ternary: _ternary, ast.FieldAccess: _field, ast.TupleAccess: _tuple_access,
    ast.Index: _index, ast.Cast: _cast, ast.Tuple: _tuple, ast.Sizeof: _sizeof, ast.Offsetof: _offsetof,
}

