"""`pytrace -d ast`: the AST as an indented tree, in the shape of bpftrace's `-d` dump.

One node per line, children one space deeper, labels as bpftrace prints them
(`map: @x`, `call: count`, `int: 1`, operators by their symbol), so the two
dumps can be read side by side. Types show as `:: type` once a pass set them.
"""

from __future__ import annotations

from pytrace import ast


def dump_ast(program: ast.Program) -> str:
    lines: list[str] = ["Program"]
    for include in program.includes:
        lines.append(f" #include {include.path}")
    for definition in program.c_definitions:
        _c_definition(definition, lines)
    if program.config is not None:
        lines.append(" config")
        for name, value in program.config.settings:
            lines.append(f"  {name} =")
            _expr(value, 3, lines)
    for probe in program.probes:
        for point in probe.attach_points:
            lines.append(" " + _attach_point(point))
        if probe.predicate is not None:
            lines.append("  pred")
            _expr(probe.predicate, 3, lines)
        _stmts(probe.body, 2, lines)
    return "\n".join(lines) + "\n"


def _attach_point(point: ast.AttachPoint) -> str:
    text = ":".join([point.provider, *point.parts])
    return text + (f"+{point.offset}" if point.offset is not None else "")


def _c_definition(definition: ast.CDefinition, lines: list[str]) -> None:
    lines.append(f" {definition.kind} {definition.name}")
    for member in definition.members:
        bits = f" : {member.bits}" if member.bits is not None else ""
        lines.append(f"  {member.type} {member.name}{bits}")
    for name, value in definition.enumerators:
        lines.append(f"  {name} = {value}")
    if definition.aliased is not None:
        lines.append(f"  {definition.aliased}")


def _stmts(block: ast.Block, depth: int, lines: list[str]) -> None:
    for stmt in block.stmts:
        _stmt(stmt, depth, lines)


def _stmt(stmt: ast.Stmt, depth: int, lines: list[str]) -> None:
    pad = " " * depth
    if isinstance(stmt, ast.ExprStmt):
        _expr(stmt.expr, depth, lines)
    elif isinstance(stmt, ast.Assign):
        lines.append(pad + stmt.op)
        _expr(stmt.target, depth + 1, lines)
        _expr(stmt.value, depth + 1, lines)
    elif isinstance(stmt, ast.VarDecl):
        lines.append(pad + "let" + (f" : {stmt.type}" if stmt.type else ""))
        _expr(stmt.var, depth + 1, lines)
        if stmt.value is not None:
            _expr(stmt.value, depth + 1, lines)
    elif isinstance(stmt, ast.If):
        lines.append(pad + "if")
        _expr(stmt.cond, depth + 1, lines)
        lines.append(pad + " then")
        _stmts(stmt.then, depth + 2, lines)
        if stmt.otherwise is not None:
            lines.append(pad + " else")
            _stmts(stmt.otherwise, depth + 2, lines)
    elif isinstance(stmt, ast.Unroll):
        lines.append(pad + "unroll")
        _expr(stmt.count, depth + 1, lines)
        _stmts(stmt.body, depth + 1, lines)
    elif isinstance(stmt, ast.While):
        lines.append(pad + "while(")
        _expr(stmt.cond, depth + 1, lines)
        lines.append(pad + " )")
        _stmts(stmt.body, depth + 2, lines)
    elif isinstance(stmt, ast.For):
        lines.append(pad + "for")
        lines.append(pad + " decl")
        _expr(stmt.var, depth + 2, lines)
        lines.append(pad + " expr")
        _expr(stmt.map, depth + 2, lines)
        lines.append(pad + " stmts")
        _stmts(stmt.body, depth + 2, lines)
    elif isinstance(stmt, ast.Jump):
        lines.append(pad + stmt.kind)
        if stmt.value is not None:
            _expr(stmt.value, depth + 1, lines)
    else:  # a node kind added after this dump was written
        lines.append(pad + type(stmt).__name__)


# How each expression node is labelled, as bpftrace's dump names it.
_LABELS = {
    ast.Integer: lambda e: f"int: {e.value}",
    ast.String: lambda e: "string: " + e.value.encode("unicode_escape").decode("ascii"),
    ast.Boolean: lambda e: f"bool: {'true' if e.value else 'false'}",
    ast.Builtin: lambda e: f"builtin: {e.name}",
    ast.Identifier: lambda e: f"identifier: {e.name}",
    ast.PositionalParam: lambda e: f"param: ${e.index}",
    ast.PositionalCount: lambda e: "param: $#",
    ast.Variable: lambda e: f"variable: {e.name}",
    ast.Map: lambda e: f"map: {e.name}",
    ast.Call: lambda e: f"call: {e.name}",
    ast.Binary: lambda e: e.op,
    ast.Unary: lambda e: "dereference" if e.op == "*" else e.op,
    ast.IncDec: lambda e: e.op + (" (pre)" if e.prefix else " (post)"),
    ast.Ternary: lambda e: "?:",
    ast.FieldAccess: lambda e: "->" if e.arrow else ".",
    ast.TupleAccess: lambda e: ".",
    ast.Index: lambda e: "[]",
    ast.Cast: lambda e: f"({e.type})",
    ast.Tuple: lambda e: "tuple:",
    ast.Sizeof: lambda e: "sizeof",
    ast.Offsetof: lambda e: "offsetof",
}


def _label(expr: ast.Expr) -> str:
    label = _LABELS.get(type(expr))
    return label(expr) if label else type(expr).__name__


def _expr(expr: ast.Expr, depth: int, lines: list[str]) -> None:
    # An explicit stack: a deeply nested expression must not hit the recursion limit.
    stack: list[tuple[object, int]] = [(expr, depth)]
    while stack:
        node, level = stack.pop()
        pad = " " * level
        if isinstance(node, str):
            lines.append(pad + node)
            continue
        label = _label(node)
        if getattr(node, "ty", None) is not None:
            label += f" :: {node.ty}"
        lines.append(pad + label)
        stack.extend(reversed([(child, level + 1) for child in _expr_children(node)]))


def _expr_children(node: ast.Node) -> list:
    """Children to print under a node: nodes, and field names or indexes as text."""
    if isinstance(node, ast.Cast):
        return [node.expr]
    if isinstance(node, ast.FieldAccess):
        return [node.expr, node.field]
    if isinstance(node, ast.TupleAccess):
        return [node.expr, str(node.index)]
    if isinstance(node, ast.Sizeof) and isinstance(node.target, ast.TypeName):
        return [str(node.target)]
    if isinstance(node, ast.Offsetof):
        head = str(node.type) if isinstance(node.type, ast.TypeName) else node.type
        return [head, node.field]
    return list(ast.children(node))
