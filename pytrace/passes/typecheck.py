"""Name resolution and type inference/checking over every compile unit.

Writes `ty` on every expression, records map key/value types in CompileState.maps
(agreed across all uses), variable types per unit, and raises a located
PytraceError on the first clash. Builtin variables and functions are looked up in
pytrace.builtins; each record checks its own arguments.

Maps may be read in one probe and written in a later one, so `check_all` runs the
whole program until map types stop changing (reads of not-yet-known maps are
UNKNOWN meanwhile), then once more in strict mode.
"""

from __future__ import annotations

from pytrace import ast
from pytrace.builtins import get_function, get_variable
from pytrace.diagnostics import PytraceError, Span
from pytrace.passes.state import UNKNOWN, CompileState, MapInfo, Unit, UnknownType, error
from pytrace.passes.types_util import arith, contains_unknown, is_int, is_signed, join, \
    type_name, widen
from pytrace.types import (INT64, UINT64, AggregationType, ArrayType, IntType, PointerType,
                           RecordType, StringType, TupleType, Type, VOID)

_CAST_TYPES = {
    "int8": IntType(8, True), "int16": IntType(16, True), "int32": IntType(32, True),
    "int64": INT64, "uint8": IntType(8), "uint16": IntType(16), "uint32": IntType(32),
    "uint64": UINT64, "char": IntType(8, True), "short": IntType(16, True),
    "int": IntType(32, True), "long": INT64, "unsigned char": IntType(8),
    "unsigned short": IntType(16), "unsigned int": IntType(32), "unsigned long": UINT64,
    "u8": IntType(8), "u16": IntType(16), "u32": IntType(32), "u64": UINT64,
    "s8": IntType(8, True), "s16": IntType(16, True), "s32": IntType(32, True), "s64": INT64,
}

AGG_NAMES = {"CountType": "count", "SumType": "sum", "MinType": "min", "MaxType": "max",
             "AvgType": "avg", "StatsType": "stats", "HistType": "hist", "LhistType": "lhist"}


def name_span(call: ast.Call) -> Span | None:
    """Just the function name of a call, where bpftrace points unknown functions."""
    s = call.span
    if s is None or s.end_line != s.line:
        return s
    return Span(s.line, s.col, s.line, s.col + len(call.name))


def describe(t: Type) -> str:
    if isinstance(t, AggregationType):
        return AGG_NAMES.get(type(t).__name__, str(t))
    return type_name(t)


def check_all(state: CompileState) -> None:
    for _ in range(4):
        before = {n: (m.key_types, m.value_type) for n, m in state.maps.items()}
        for unit in state.units:
            TypeChecker(state, strict=False).check_unit(unit)
        if before == {n: (m.key_types, m.value_type) for n, m in state.maps.items()}:
            break
    # Strict checking happens per unit right before its codegen (pytrace.compiler),
    # because the same probe body can be typed differently per attach point.


class TypeChecker:
    def __init__(self, state: CompileState, strict: bool):
        self.state = state
        self.strict = strict
        self.unit: Unit | None = None
        self.vars: dict[str, Type] = {}
        self.loop_depth = 0

    # ---- units and statements ------------------------------------------------
    def check_unit(self, unit: Unit) -> dict[str, Type]:
        self.unit = unit
        self.vars = {}
        # Twice, so reads early in the body see the type every assignment agrees on.
        for _ in range(2):
            if unit.probe.predicate is not None:
                self.require_int(unit.probe.predicate, "predicate")
            self.block(unit.probe.body)
        return self.vars

    def block(self, block: ast.Block) -> None:
        for stmt in block.stmts:
            self.stmt(stmt)

    def stmt(self, s: ast.Stmt) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise error(f"{type(s).__name__} statements are not supported yet", s)
        method(s)

    def stmt_ExprStmt(self, s: ast.ExprStmt) -> None:
        e = s.expr
        if isinstance(e, ast.Call):
            self.call(e, statement=True)
        else:
            self.expr(e)

    def stmt_Assign(self, s: ast.Assign) -> None:
        target, value = s.target, s.value
        if isinstance(value, ast.Call) and s.op == "=" and isinstance(target, ast.Map):
            fn = get_function(value.name, name_span(value))
            if fn.aggregation is not None:
                agg = fn.aggregation(self, value)
                value.ty = agg
                self.map_assign(target, agg, value)
                return
        vt = self.expr(value)
        if s.op != "=":
            current = self.expr(target)
            if not (is_int(vt) or isinstance(vt, UnknownType)) or not (
                    is_int(current) or isinstance(current, UnknownType)):
                raise error(f"The {s.op} operator can not be used on expressions of types "
                            f"{describe(current)}, {describe(vt)}", s)
            if isinstance(current, PointerType) and s.op in ("+=", "-=") and \
                    not isinstance(vt, PointerType):
                vt = current  # pointer arithmetic: the pointer moves by elements
            else:
                vt = arith(current, vt) if is_int(current) else vt
            if s.op in ("/=", "%=") and is_signed(current) and is_signed(vt):
                self.warn_signed(s.op[0], self.operator_span(target, s.op))
        if vt == VOID:
            raise error("Value of a void function can not be assigned", value)
        if isinstance(target, ast.Map):
            self.map_assign(target, widen(vt), value)
        elif isinstance(target, ast.Variable):
            self.var_assign(target, vt, self.operator_node(s))
        else:
            raise error("Can only assign to maps and variables", target)

    def stmt_VarDecl(self, s: ast.VarDecl) -> None:
        if s.value is not None:
            self.var_assign(s.var, self.expr(s.value))
        elif s.type is not None:
            self.var_assign(s.var, self.cast_type(s.type))
        else:
            self.vars.setdefault(s.var.name, INT64)

    def stmt_If(self, s: ast.If) -> None:
        self.require_int(s.cond, "if condition")
        self.block(s.then)
        if s.otherwise is not None:
            self.block(s.otherwise)

    def stmt_Unroll(self, s: ast.Unroll) -> None:
        count = self.const_int(s.count, "unroll count")
        if not 1 <= count <= 100:
            raise error("unroll maximum value is 100" if count > 100 else
                        "unroll minimum value is 1", s.count)
        self.state.info(s)["count"] = count
        self.block(s.body)

    def stmt_While(self, s: ast.While) -> None:
        self.require_int(s.cond, "while condition")
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1

    def stmt_Jump(self, s: ast.Jump) -> None:
        if s.kind in ("break", "continue") and self.loop_depth == 0:
            raise error(f"{s.kind} used outside of a loop", s)
        if s.value is not None:
            self.expr(s.value)

    # ---- maps and variables --------------------------------------------------
    def map_info(self, m: ast.Map) -> MapInfo:
        info = self.state.maps.get(m.name)
        if info is None:
            info = self.state.maps[m.name] = MapInfo(m.name, m.span)
        return info

    def map_keys(self, m: ast.Map) -> tuple[Type, ...]:
        keys = tuple(widen(self.expr(k)) for k in m.keys)
        for k, t in zip(m.keys, keys):
            if isinstance(t, TupleType):
                raise error("tuple cannot be used as a map key. Try a multi-key associative"
                            " array instead (eg `@map[$1, $2] = ...)`.", m)
            if t == VOID or isinstance(t, AggregationType):
                raise error(f"Invalid map key type: {describe(t)}", k)
        info = self.map_info(m)
        if any(contains_unknown(t) for t in keys):
            return keys
        if info.key_types is None:
            info.key_types = keys
        else:
            joined = [join(a, b) for a, b in zip(info.key_types, keys)]
            if len(info.key_types) != len(keys) or any(j is None for j in joined):
                shown = ", ".join(describe(t) for t in keys)
                want = ", ".join(describe(t) for t in info.key_types)
                raise error(f"Argument mismatch for {m.name}: trying to access with arguments: "
                            f"[{shown}] when map expects arguments: [{want}]", m)
            info.key_types = tuple(joined)
        return keys

    def map_assign(self, m: ast.Map, vt: Type, value: ast.Expr) -> None:
        self.map_keys(m)
        info = self.map_info(m)
        aggregation = isinstance(vt, AggregationType)
        m.ty = vt
        if contains_unknown(vt):
            return
        if info.value_type is None:
            info.value_type, info.aggregation = vt, aggregation
            return
        joined = None
        if aggregation or info.aggregation:
            joined = vt if vt == info.value_type else None
            if joined is None and type(vt) is type(info.value_type) and \
                    not hasattr(vt, "k") and not hasattr(vt, "step"):
                joined = info.value_type  # same aggregation, signedness of first use
        else:
            joined = join(info.value_type, vt)
        if joined is None:
            raise error(f"Type mismatch for {m.name}: trying to assign value of type "
                        f"'{describe(vt)}' when map already contains a value of type "
                        f"'{describe(info.value_type)}'", m)
        info.value_type = joined

    def operator_node(self, s: ast.Assign) -> ast.Node:
        """A node spanning the `=` of an assignment, where bpftrace points variable clashes."""
        t, src = s.target.span, self.state.source
        if t is None or src is None:
            return s
        line = src.line_text(t.end_line)
        col = line.find(s.op, t.end_col - 1)
        if col < 0:
            return s
        return ast.Node(span=Span(t.end_line, col + 1, t.end_line, col + 1 + len(s.op)))

    def var_assign(self, v: ast.Variable, vt: Type, where: ast.Node | None = None) -> None:
        vt = widen(vt)
        old = self.vars.get(v.name)
        joined = join(old, vt)
        if joined is None:
            raise error(f"Type mismatch for {v.name}: trying to assign value of type "
                        f"'{describe(vt)}' when variable already contains a value of type "
                        f"'{describe(old)}'", where or v)
        self.vars[v.name] = joined
        v.ty = joined

    # ---- expressions ---------------------------------------------------------
    def expr(self, e: ast.Expr) -> Type:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            raise error(f"{type(e).__name__} expressions are not supported yet", e)
        t = method(e)
        e.ty = t
        return t

    def require_int(self, e: ast.Expr, what: str) -> Type:
        t = self.expr(e)
        if not (is_int(t) or isinstance(t, UnknownType)):
            raise error(f"Invalid type for {what}: {describe(t)}", e)
        return t

    def const_int(self, e: ast.Expr, what: str) -> int:
        value = self.fold(e)
        if value is None:
            raise error(f"{what} must be an integer literal", e)
        self.expr(e)
        return value

    def fold(self, e: ast.Expr) -> int | None:
        """The value of a constant integer expression (literals, $N, unary minus)."""
        if isinstance(e, ast.Integer):
            return e.value
        if isinstance(e, ast.Unary) and e.op == "-":
            inner = self.fold(e.operand)
            return None if inner is None else -inner
        if isinstance(e, ast.PositionalParam):
            text = self.positional(e)
            try:
                return int(text, 0) if text is not None else 0
            except ValueError:
                return None
        if isinstance(e, ast.PositionalCount):
            return len(self.state.params)
        return None

    def positional(self, e: ast.PositionalParam) -> str | None:
        if 1 <= e.index <= len(self.state.params):
            return self.state.params[e.index - 1]
        return None

    def expr_Integer(self, e):
        return INT64 if e.value < 2 ** 63 else UINT64

    def expr_Boolean(self, e):
        return INT64

    def expr_String(self, e):
        return StringType(len(e.value.encode("utf-8", "surrogateescape")) + 1)

    def expr_Builtin(self, e):
        if e.name == "args" and getattr(self, "field_base", None) is not e:
            # The ctx record as a whole value: its first bytes are off limits to
            # tracepoint programs, and bpftrace 0.17 has no printer for it either.
            raise error("args can only be used to access a field: args.NAME or args->NAME",
                        e)
        var = get_variable(e.name, e.span)
        return var.type(self, e)

    def expr_Identifier(self, e):
        value = self.state.c_types().enum_value(e.name)
        if value is None:
            raise error(f"Unknown identifier: '{e.name}'", e)
        self.state.info(e)["value"] = value
        return INT64

    def expr_PositionalParam(self, e):
        text = self.positional(e)
        if text is None:
            return INT64
        try:
            int(text, 0)
        except ValueError:
            raise error(f"${e.index} used numerically but given \"{text}\". "
                        f"Try using str(${e.index}).", e) from None
        return INT64

    def expr_PositionalCount(self, e):
        return INT64

    def expr_Variable(self, e):
        t = self.vars.get(e.name)
        if t is None:
            if self.strict:
                raise error(f"Undefined or undeclared variable: {e.name}", e)
            return UNKNOWN
        return t

    def expr_Map(self, e):
        self.map_keys(e)
        info = self.map_info(e)
        if info.value_type is None:
            if self.strict:
                raise error(f"Undefined map: {e.name}", e)
            return UNKNOWN
        vt = info.value_type
        if isinstance(vt, AggregationType):
            if type(vt).__name__ in ("HistType", "LhistType", "StatsType"):
                raise error(f"Map {e.name} of type '{describe(vt)}' can not be read as a "
                            "value; use print()", e)
            return IntType(64, vt.signed)
        return vt

    def expr_Call(self, e):
        return self.call(e, statement=False)

    def call(self, e: ast.Call, statement: bool) -> Type:
        fn = get_function(e.name, name_span(e))
        if fn.aggregation is not None:
            raise error(f"{e.name}() should be directly assigned to a map", e)
        if fn.check is None:
            raise error(f"{e.name}() is not supported yet", e)
        t = fn.check(self, e)
        e.ty = t
        if t == VOID and not statement:
            raise error(f"{e.name}() does not return a value", e)
        return t

    def expr_Binary(self, e):
        lt, rt = self.expr(e.left), self.expr(e.right)
        if isinstance(lt, UnknownType) or isinstance(rt, UnknownType):
            return UNKNOWN if e.op not in ("==", "!=", "<", ">", "<=", ">=", "&&", "||") \
                else INT64
        if e.op in ("&&", "||"):
            for side, t in ((e.left, lt), (e.right, rt)):
                if not is_int(t):
                    raise error(f"Invalid type for logical operand: {describe(t)}", side)
            return INT64
        if isinstance(lt, StringType) and isinstance(rt, StringType):
            if e.op not in ("==", "!="):
                raise error(f"The {e.op} operator can not be used on expressions of types "
                            f"{describe(lt)}, {describe(rt)}", e)
            return INT64
        if not (is_int(lt) and is_int(rt)):
            raise error(f"Type mismatch for '{e.op}': comparing '{describe(lt)}' with "
                        f"'{describe(rt)}'", e)
        if e.op in ("==", "!=", "<", ">", "<=", ">="):
            self.warn_mixed_signs(e, lt, rt)
            return INT64
        pointer = self.pointer_arithmetic(e, lt, rt)
        if pointer is not None:
            return pointer
        if e.op in ("/", "%") and is_signed(lt) and is_signed(rt) and not (
                isinstance(e.left, ast.Integer) and isinstance(e.right, ast.Integer)):
            self.warn_signed(e.op, self.operator_span(e.left, e.op))
        return arith(lt, rt)

    def warn_mixed_signs(self, e: ast.Binary, lt: Type, rt: Type) -> None:
        """bpftrace 0.17's warning for comparing a signed with an unsigned integer;
        a non-negative integer literal on either side never warns (`pid > 1`,
        `pid == $1`)."""
        if not (isinstance(lt, IntType) and isinstance(rt, IntType)) or lt.signed == rt.signed:
            return
        # Positional parameters are literals once substituted, as in bpftrace.
        literals = (ast.Integer, ast.PositionalParam, ast.PositionalCount)
        if any(isinstance(side, literals) and (self.fold(side) or 0) >= 0
               for side in (e.left, e.right)):
            return

        def name(t: IntType) -> str:
            return f"{'' if t.signed else 'unsigned '}int{t.bits}"
        self.state.warn(f"comparison of integers of different signs: '{name(lt)}' and "
                        f"'{name(rt)}' can lead to undefined behavior",
                        self.operator_span(e.left, e.op))

    def pointer_arithmetic(self, e: ast.Binary, lt: Type, rt: Type) -> Type | None:
        """`ptr + n`, `n + ptr`, `ptr - n`: a pointer moved by n elements (codegen scales)."""
        lp, rp = isinstance(lt, PointerType), isinstance(rt, PointerType)
        if not (lp or rp) or e.op not in ("+", "-"):
            return None
        if lp and rp or (rp and e.op == "-"):
            raise error(f"The {e.op} operator can not be used on expressions of types "
                        f"{describe(lt)}, {describe(rt)}", e)
        return lt if lp else rt

    def pointee(self, t: PointerType, node: ast.Node) -> Type | None:
        """What a pointer points to, looked up by its C name when only that is known
        (tracepoint fields, BTF arguments), stubs completed."""
        target = t.pointee
        if target is None and t.c_name and "*" in t.c_name:
            name = t.c_name.rstrip()
            name = name[:name.rindex("*")].strip()
            try:
                target = self.state.c_types().parse_name(name, node.span)
            except PytraceError:
                return None
        if isinstance(target, RecordType):
            target = self.state.c_types().complete(target, node.span)
        return target

    def warn_signed(self, op: str, span) -> None:
        self.state.warn(f"signed operands for '{op}' can lead to undefined behavior "
                        "(cast to unsigned to silence warning)", span)

    def operator_span(self, left: ast.Node, op: str):
        """The span of `op` written after `left` on the same line (bpftrace marks it)."""
        t, src = left.span, self.state.source
        if t is None or src is None:
            return None
        col = src.line_text(t.end_line).find(op, t.end_col - 1)
        return Span(t.end_line, col + 1, t.end_line, col + 1 + len(op)) if col >= 0 else None

    def expr_Unary(self, e):
        t = self.expr(e.operand)
        if isinstance(t, UnknownType):
            return UNKNOWN
        if e.op == "*":
            if not isinstance(t, PointerType) and not is_int(t):
                raise error(f"Can not dereference type {describe(t)}", e)
            pointee = self.pointee(t, e) if isinstance(t, PointerType) else None
            if isinstance(pointee, RecordType) and pointee.name:
                return pointee  # a struct in memory: its fields are read when accessed
            return pointee if pointee is not None and is_int(pointee) else UINT64
        if e.op == "&":
            raise error("The & operator is not supported yet", e)
        if not is_int(t):
            raise error(f"The {e.op} operator can not be used on expressions of type "
                        f"{describe(t)}", e)
        if e.op == "!":
            return INT64
        if e.op == "-":
            return INT64
        return widen(t)

    def expr_IncDec(self, e):
        t = self.expr(e.target)
        if isinstance(e.target, ast.Map):
            if isinstance(t, UnknownType) or self.map_info(e.target).value_type is None:
                self.map_assign(e.target, INT64, e)
                t = INT64
            elif not is_int(t):
                raise error(f"The {e.op} operator can not be used on {describe(t)}", e)
            elif isinstance(self.map_info(e.target).value_type, AggregationType):
                raise error(f"The {e.op} operator can not be used on aggregation maps", e)
        elif isinstance(e.target, ast.Variable):
            if e.target.name not in self.vars:
                raise error(f"Undefined or undeclared variable: {e.target.name}", e.target)
            if not is_int(t):
                raise error(f"The {e.op} operator can not be used on {describe(t)}", e)
        else:
            raise error(f"The {e.op} operator needs a variable or a map", e)
        return t

    def expr_Ternary(self, e):
        self.require_int(e.cond, "ternary condition")
        a, b = self.expr(e.then), self.expr(e.otherwise)
        if isinstance(a, UnknownType):
            return b
        if isinstance(b, UnknownType):
            return a
        if is_int(a) and is_int(b):
            return arith(a, b) if a != b else a
        joined = join(a, b)
        if joined is None or (a == VOID):
            raise error(f"Ternary operator branches have different types: '{describe(a)}' "
                        f"and '{describe(b)}'", e)
        return joined

    def expr_FieldAccess(self, e):
        self.field_base = e.expr
        t = self.expr(e.expr)
        if isinstance(t, UnknownType):
            return UNKNOWN
        if isinstance(t, PointerType):
            pointee = self.pointee(t, e.expr)
            if isinstance(pointee, RecordType):
                # Codegen reads the completed record from the base's type.
                e.expr.ty = PointerType(pointee, c_name=t.c_name)
                t = pointee
        elif isinstance(t, RecordType) and t.name:
            t = self.state.c_types().complete(t, e.span)
            e.expr.ty = t
        if not isinstance(t, RecordType):
            raise error(f"Can not access field '{e.field}' on type '{describe(t)}'", e)
        f = t.field(e.field)
        if f is None:
            name = t.name
            if not name and self.unit.specs:
                spec = self.unit.specs[0]
                name = f"struct _tracepoint_{spec.target}_{spec.func}"
            raise error(f"Struct/union of type '{name}' does not contain a field named "
                        f"'{e.field}'", e)
        return f.type

    def expr_TupleAccess(self, e):
        t = self.expr(e.expr)
        if isinstance(t, UnknownType):
            return UNKNOWN
        if not isinstance(t, TupleType):
            raise error(f"Can not access index '{e.index}' on expression of type "
                        f"'{describe(t)}'", e)
        if not 0 <= e.index < len(t.elems):
            raise error(f"Invalid tuple index: {e.index}. Found {len(t.elems)} elements "
                        "in tuple.", e)
        return t.elems[e.index]

    def expr_Index(self, e):
        t = self.expr(e.expr)
        self.require_int(e.index, "index")
        if isinstance(t, UnknownType):
            return UNKNOWN
        if isinstance(t, ArrayType):
            return t.elem
        if isinstance(t, StringType):
            return IntType(8, True)
        if isinstance(t, PointerType):
            pointee = self.pointee(t, e)
            return pointee if pointee is not None and is_int(pointee) else IntType(8)
        raise error(f"The array index operator [] can not be used on expressions of type "
                    f"'{describe(t)}'", e)

    def cast_type(self, tn: ast.TypeName) -> Type:
        if tn.pointer:
            base = _CAST_TYPES.get(tn.name)
            if base is None and tn.name != "void":
                pointer = self.state.c_types().type_name(tn)
                target = pointer.pointee
                while isinstance(target, PointerType):
                    target = target.pointee
                if isinstance(target, RecordType):
                    # Known, or an error marking `(type)` as 0.17 does.
                    s = tn.span
                    at = Span(s.line, s.col - 1, s.end_line, s.end_col + 1) if s else None
                    self.state.c_types().complete(target, at)
                return PointerType(pointer.pointee, c_name=str(tn))
            return PointerType(base, c_name=str(tn))
        t = _CAST_TYPES.get(tn.name)
        if t is None:
            t = self.state.c_types().type_name(
                ast.TypeName(tn.name, span=tn.span))
            if isinstance(t, RecordType):
                t = self.state.c_types().complete(t, tn.span)
        if tn.array is not None:
            # Here, not at the top: c_types brings the BTF reader, which a
            # program without C types never needs (start-up).
            from pytrace.passes.c_types import check_array_size
            check_array_size(t, tn.array, tn.span)
            return ArrayType(t, tn.array)
        return t

    def expr_Cast(self, e):
        t = self.expr(e.expr)
        target = self.cast_type(e.type)
        if isinstance(t, UnknownType):
            return target
        if isinstance(target, RecordType):
            raise error(f"Cannot cast to \"{e.type}\"", e.type)
        if not is_int(t) or not is_int(target):
            raise error(f"Cannot cast from \"{describe(t)}\" to \"{describe(target)}\"", e)
        return target

    def expr_Tuple(self, e):
        elems = [self.expr(x) for x in e.elems]
        for x, t in zip(e.elems, elems):
            if t == VOID or isinstance(t, AggregationType):
                raise error(f"Invalid expression in tuple: {describe(t)}", x)
        if any(isinstance(t, UnknownType) for t in elems):
            return UNKNOWN
        return TupleType(tuple(widen(t) for t in elems))

    def expr_Sizeof(self, e):
        if isinstance(e.target, ast.Identifier) and \
                ("typedef", e.target.name) in self.state.c_types().script:
            # sizeof(foo_t): a name the script typedefs is a type, not a value.
            e.target = ast.TypeName(e.target.name, span=e.target.span)
        if isinstance(e.target, ast.TypeName):
            t = self.cast_type(e.target)
        else:
            t = self.expr(e.target)
        self.state.info(e)["value"] = t.size
        return UINT64

    def expr_Offsetof(self, e):
        """offsetof(struct T, a.b): the byte offset of a (nested) member (not in 0.17)."""
        if isinstance(e.type, ast.TypeName):
            t = self.cast_type(e.type)
        else:
            t = self.expr(e.type)
            if isinstance(t, PointerType):
                t = self.pointee(t, e.type)
        offset = 0
        for name in str(e.field).split("."):
            if isinstance(t, RecordType) and t.name:
                t = self.state.c_types().complete(t, e.span)
            f = t.field(name) if isinstance(t, RecordType) else None
            if f is None:
                raise error(f"'{describe(t)}' has no field named '{name}'", e)
            offset += f.offset
            t = f.type
        self.state.info(e)["value"] = offset
        return UINT64
