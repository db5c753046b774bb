"""The AST: plain dataclass nodes, each carrying its source span.

The parser builds these; passes annotate them (the `ty` slot on expressions and
free-form `notes`), and codegen reads them. Nothing here knows about BPF.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field, fields
from typing import Any, Iterator

from pytrace.diagnostics import Span

# Nodes are dataclasses, but only __init__ is generated per class: __eq__ and
# __repr__ come once from Node. Generating all three for ~40 classes cost
# ~18 ms of every start-up, more than the parse itself.
dataclass = dataclasses.dataclass(eq=False, repr=False)


@dataclass
class Node:
    """Base of every AST node: a source span."""

    span: Span | None = field(default=None, kw_only=True, compare=False, repr=False)

    def _compared(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    __hash__ = None  # mutable, like a dataclass with eq

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                          for f in fields(self) if f.repr)
        return f"{type(self).__name__}({shown})"


# ---- expressions -------------------------------------------------------------

@dataclass
class Expr(Node):
    """An expression; `ty` is its pytrace.types.Type once typed."""

    # Filled in by the type pass (a pytrace.types.Type); None until then.
    ty: Any = field(default=None, kw_only=True, compare=False, repr=False)


@dataclass
class Integer(Expr):
    """An integer literal (character literals too)."""

    value: int


@dataclass
class String(Expr):
    """A string literal."""

    value: str  # escapes already decoded


@dataclass
class Boolean(Expr):
    """`true` or `false`."""

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
    """`$1`, `$2`, ..."""

    index: int  # $1 is 1


@dataclass
class PositionalCount(Expr):
    """`$#`: the number of positional parameters."""


@dataclass
class Variable(Expr):
    """A scratch variable `$name`."""

    name: str  # including the `$`, e.g. "$x"


@dataclass
class Map(Expr):
    """A map access `@name[keys]`."""

    name: str  # "@" or "@name"
    keys: list[Expr] = field(default_factory=list)


@dataclass
class Call(Expr):
    """A function call `name(args)`."""

    name: str
    args: list[Expr] = field(default_factory=list)


@dataclass
class Binary(Expr):
    """A binary operation."""

    op: str  # + - * / % & | ^ << >> == != < <= > >= && ||
    left: Expr
    right: Expr


@dataclass
class Unary(Expr):
    """A prefix operator."""

    op: str  # - ~ ! * &
    operand: Expr


@dataclass
class IncDec(Expr):
    """`++`/`--` before or after a variable or map."""

    op: str  # "++" or "--"
    target: Expr  # Variable or Map
    prefix: bool


@dataclass
class Ternary(Expr):
    """`cond ? then : otherwise`."""

    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass
class FieldAccess(Expr):
    """`expr.field` or `expr->field`."""

    expr: Expr
    field: str
    arrow: bool = False  # `->` rather than `.`


@dataclass
class TupleAccess(Expr):
    """`expr.N` on a tuple."""

    expr: Expr
    index: int


@dataclass
class Index(Expr):
    """`expr[index]` on an array or pointer."""

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
    """`(type)expr`."""

    type: TypeName
    expr: Expr


@dataclass
class Tuple(Expr):
    """`(a, b, ...)`."""

    elems: list[Expr]


@dataclass
class Sizeof(Expr):
    """`sizeof(type)` or `sizeof(expr)`."""

    target: TypeName | Expr


@dataclass
class Offsetof(Expr):
    """`offsetof(type, field)`."""

    type: TypeName | Expr
    field: str


# ---- statements --------------------------------------------------------------

@dataclass
class Stmt(Node):
    """A statement."""

    pass


@dataclass
class Block(Node):
    """`{ statements }`."""

    stmts: list[Stmt] = field(default_factory=list)


@dataclass
class ExprStmt(Stmt):
    """An expression evaluated for its effect."""

    expr: Expr


@dataclass
class Assign(Stmt):
    """`target op value` where op is "=" or a compound "+=", "<<=", ..."""

    target: Expr  # Map or Variable
    value: Expr
    op: str = "="
    op_span: Span | None = field(default=None, compare=False, repr=False)  # where -k points


@dataclass
class VarDecl(Stmt):
    """`let $x;`, `let $x: type;` or `let $x = value;` (newer bpftrace)."""

    var: Variable
    type: TypeName | None = None
    value: Expr | None = None


@dataclass
class If(Stmt):
    """`if (cond) { ... } else ...`."""

    cond: Expr
    then: Block
    otherwise: Block | None = None  # `else if` is an If inside a one-statement Block


@dataclass
class Unroll(Stmt):
    """`unroll (N) { ... }`."""

    count: Expr
    body: Block


@dataclass
class While(Stmt):
    """`while (cond) { ... }`."""

    cond: Expr
    body: Block


@dataclass
class For(Stmt):
    """`for ($kv : @map) { ... }`."""

    var: Variable
    map: Map
    body: Block


@dataclass
class Jump(Stmt):
    """`break`, `continue` or `return`."""

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
    """Attach points, an optional predicate and the action block."""

    attach_points: list[AttachPoint]
    predicate: Expr | None
    body: Block


@dataclass
class Include(Node):
    """An `#include` line."""

    path: str  # as written, with its <> or ""


@dataclass
class CField(Node):
    """A member of a script-defined struct or union."""

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
    # Struct/union bodies declared inside this one's members (see c_definitions.py).
    nested: list["CDefinition"] = field(default_factory=list, compare=False, repr=False)


@dataclass
class Config(Node):
    """The `config = { ... }` block."""

    settings: list[tuple[str, Expr]] = field(default_factory=list)


@dataclass
class Program(Node):
    """A whole program."""

    probes: list[Probe] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    c_definitions: list[CDefinition] = field(default_factory=list)
    config: Config | None = None
    # Object-like #define macros in effect at the end (the lexer expanded them).
    macros: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Errors compiling must report (a missing #include "file"), from the preprocessor.
    deferred_errors: list = field(default_factory=list, compare=False, repr=False)


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
