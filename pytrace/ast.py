"""The AST: plain dataclass nodes, each carrying its source span.

The parser builds these; passes annotate them (the `ty` slot on expressions and
free-form `notes`), and codegen reads them. Nothing here knows about BPF.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

from pytrace.diagnostics import Span


@dataclass
class Node:
    span: Span | None = field(default=None, kw_only=True, compare=False, repr=False)


# ---- expressions -------------------------------------------------------------

@dataclass
class Expr(Node):
    # Filled in by the type pass (a pytrace.types.Type); None until then.
    ty: Any = field(default=None, kw_only=True, compare=False, repr=False)


@dataclass
class Integer(Expr):
    value: int


@dataclass
class String(Expr):
    value: str  # escapes already decoded


@dataclass
class Boolean(Expr):
    value: bool


@dataclass
class Builtin(Expr):
    """A builtin variable: pid, comm, nsecs, args, retval, arg0, sarg1, probe, ..."""

    name: str


@dataclass
class Identifier(Expr):
    """A bare name that is not a builtin: an enum constant, a type name in sizeof."""

    name: str


@dataclass
class PositionalParam(Expr):
    index: int  # $1 is 1


@dataclass
class PositionalCount(Expr):
    """`$#`: the number of positional parameters."""


@dataclass
class Variable(Expr):
    name: str  # including the `$`, e.g. "$x"


@dataclass
class Map(Expr):
    name: str  # "@" or "@name"
    keys: list[Expr] = field(default_factory=list)


@dataclass
class Call(Expr):
    name: str
    args: list[Expr] = field(default_factory=list)


@dataclass
class Binary(Expr):
    op: str  # + - * / % & | ^ << >> == != < <= > >= && ||
    left: Expr
    right: Expr


@dataclass
class Unary(Expr):
    op: str  # - ~ ! * &
    operand: Expr


@dataclass
class IncDec(Expr):
    op: str  # "++" or "--"
    target: Expr  # Variable or Map
    prefix: bool


@dataclass
class Ternary(Expr):
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass
class FieldAccess(Expr):
    expr: Expr
    field: str
    arrow: bool = False  # `->` rather than `.`


@dataclass
class TupleAccess(Expr):
    expr: Expr
    index: int


@dataclass
class Index(Expr):
    expr: Expr
    index: Expr


@dataclass
class TypeName(Node):
    """A C type as written: `int32`, `unsigned long`, `struct task_struct *`, `char[16]`."""

    name: str  # the base name, e.g. "uint64", "struct task_struct", "char"
    pointer: int = 0  # number of `*`
    array: int | None = None

    def __str__(self) -> str:
        text = self.name + (" " + "*" * self.pointer if self.pointer else "")
        return text + (f"[{self.array}]" if self.array is not None else "")


@dataclass
class Cast(Expr):
    type: TypeName
    expr: Expr


@dataclass
class Tuple(Expr):
    elems: list[Expr]


@dataclass
class Sizeof(Expr):
    target: TypeName | Expr


@dataclass
class Offsetof(Expr):
    type: TypeName | Expr
    field: str


# ---- statements --------------------------------------------------------------

@dataclass
class Stmt(Node):
    pass


@dataclass
class Block(Node):
    stmts: list[Stmt] = field(default_factory=list)


@dataclass
class ExprStmt(Stmt):
    expr: Expr


@dataclass
class Assign(Stmt):
    """`target op value` where op is "=" or a compound "+=", "<<=", ..."""

    target: Expr  # Map or Variable
    value: Expr
    op: str = "="


@dataclass
class VarDecl(Stmt):
    """`let $x;`, `let $x: type;` or `let $x = value;` (newer bpftrace)."""

    var: Variable
    type: TypeName | None = None
    value: Expr | None = None


@dataclass
class If(Stmt):
    cond: Expr
    then: Block
    otherwise: Block | None = None  # `else if` is an If inside a one-statement Block


@dataclass
class Unroll(Stmt):
    count: Expr
    body: Block


@dataclass
class While(Stmt):
    cond: Expr
    body: Block


@dataclass
class For(Stmt):
    var: Variable
    map: Map
    body: Block


@dataclass
class Jump(Stmt):
    kind: str  # "break", "continue", "return"
    value: Expr | None = None


# ---- probes and the program --------------------------------------------------

@dataclass
class AttachPoint(Node):
    """One attach point as written, split into provider and the rest.

    `provider` is canonical (kprobe, kretprobe, uprobe, uretprobe, tracepoint,
    rawtracepoint, usdt, profile, interval, software, hardware, fentry, fexit,
    watchpoint, asyncwatchpoint, iter, BEGIN, END); `parts` are the
    colon-separated fields after it, as bpftrace splits them (a quoted path
    keeps its colons); `offset` is the `+N` suffix of kprobe/uprobe functions.
    Interpreting parts is the job of the provider (pytrace.probes).
    """

    provider: str
    parts: list[str] = field(default_factory=list)
    raw: str = ""
    offset: int | None = None


@dataclass
class Probe(Node):
    attach_points: list[AttachPoint]
    predicate: Expr | None
    body: Block


@dataclass
class Include(Node):
    path: str  # as written, with its <> or ""


@dataclass
class CField(Node):
    type: TypeName
    name: str
    bits: int | None = None  # bitfield width


@dataclass
class CDefinition(Node):
    """A top-level C `struct`/`union`/`enum`/`typedef`, kept with its raw text."""

    kind: str  # "struct", "union", "enum", "typedef"
    name: str
    text: str
    members: list[CField] = field(default_factory=list)  # struct/union
    enumerators: list[tuple[str, int]] = field(default_factory=list)  # enum
    aliased: TypeName | None = None  # typedef


@dataclass
class Config(Node):
    settings: list[tuple[str, Expr]] = field(default_factory=list)


@dataclass
class Program(Node):
    probes: list[Probe] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    c_definitions: list[CDefinition] = field(default_factory=list)
    config: Config | None = None


# ---- walking -----------------------------------------------------------------

def children(node: Node) -> Iterator[Node]:
    """Direct child nodes, in source order."""
    for f in fields(node):
        if f.name in ("span", "ty"):
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Node):
                    yield item
                elif isinstance(item, tuple):
                    yield from (x for x in item if isinstance(x, Node))


def walk(node: Node) -> Iterator[Node]:
    """Every node below and including `node`, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


class Visitor:
    """Dispatches to `visit_<ClassName>`, falling back to visiting children."""

    def visit(self, node: Node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(node)

    def generic_visit(self, node: Node):
        for child in children(node):
            self.visit(child)
