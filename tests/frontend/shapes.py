"""A compact, hand-comparable rendering of AST nodes for shape assertions."""

from pytrace import ast


def shape(node) -> object:
    """A compact, comparable rendering of an expression tree."""
    if isinstance(node, ast.Integer):
        return node.value
    if isinstance(node, (ast.Variable, ast.Builtin, ast.Identifier)):
        return node.name
    if isinstance(node, ast.Map):
        return (node.name, [shape(k) for k in node.keys]) if node.keys else node.name
    if isinstance(node, ast.Binary):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, ast.Unary):
        return (node.op, shape(node.operand))
    if isinstance(node, ast.Ternary):
        return ("?:", shape(node.cond), shape(node.then), shape(node.otherwise))
    if isinstance(node, ast.Cast):
        return ("cast", str(node.type), shape(node.expr))
    if isinstance(node, ast.Call):
        return ("call", node.name, [shape(a) for a in node.args])
    if isinstance(node, ast.FieldAccess):
        return ("->" if node.arrow else ".", shape(node.expr), node.field)
    if isinstance(node, ast.TupleAccess):
        return (".", shape(node.expr), node.index)
    if isinstance(node, ast.Tuple):
        return ("tuple", [shape(e) for e in node.elems])
    if isinstance(node, ast.Index):
        return ("[]", shape(node.expr), shape(node.index))
    if isinstance(node, ast.IncDec):
        return (node.op, "pre" if node.prefix else "post", shape(node.target))
    if isinstance(node, ast.String):
        return repr(node.value)
    return type(node).__name__


def stmt_shape(stmt) -> object:
    if isinstance(stmt, ast.ExprStmt):
        return shape(stmt.expr)
    if isinstance(stmt, ast.Assign):
        return (stmt.op, shape(stmt.target), shape(stmt.value))
    if isinstance(stmt, ast.If):
        otherwise = block_shape(stmt.otherwise) if stmt.otherwise is not None else None
        return ("if", shape(stmt.cond), block_shape(stmt.then), otherwise)
    if isinstance(stmt, ast.While):
        return ("while", shape(stmt.cond), block_shape(stmt.body))
    if isinstance(stmt, ast.Unroll):
        return ("unroll", shape(stmt.count), block_shape(stmt.body))
    if isinstance(stmt, ast.For):
        return ("for", stmt.var.name, shape(stmt.map), block_shape(stmt.body))
    if isinstance(stmt, ast.Jump):
        return (stmt.kind,) if stmt.value is None else (stmt.kind, shape(stmt.value))
    if isinstance(stmt, ast.VarDecl):
        return ("let", stmt.var.name, str(stmt.type) if stmt.type else None,
                shape(stmt.value) if stmt.value is not None else None)
    return type(stmt).__name__


def block_shape(block) -> list:
    return [stmt_shape(s) for s in block.stmts]


def probe_shape(probe) -> tuple:
    points = [(p.provider, *p.parts) + ((("+", p.offset),) if p.offset is not None else ())
              for p in probe.attach_points]
    pred = shape(probe.predicate) if probe.predicate is not None else None
    return (points, pred, block_shape(probe.body))
