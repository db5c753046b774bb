"""Grammar rules to AST nodes: the Lark callbacks that run while the parser reduces.

The parser keeps every token (keep_all_tokens), so each callback sees the
punctuation around its children and gives its node the exact span from the
first token to the last. Literal decoding (integers, escapes), builtin-name
classification and assignment-target checks happen here too, with spans.
"""

from __future__ import annotations

import re

from pytrace import ast
from pytrace.attach_points import parse_attach_point
from pytrace.diagnostics import PytraceError, Span

# Bare names that are builtin variables rather than identifiers.
BUILTIN_NAMES = frozenset({
    "pid", "tid", "uid", "gid", "nsecs", "elapsed", "numaid", "cpu", "ncpus",
    "comm", "kstack", "ustack", "retval", "func", "probe", "curtask", "rand",
    "cgroup", "cpid", "args", "ctx", "username", "jiffies", "usermode",
})

_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
    "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b", "?": "?",
}
_ESCAPE = r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)"


def is_builtin_name(name: str) -> bool:
    if name in BUILTIN_NAMES:
        return True
    digits = name[3:] if name.startswith("arg") else name[4:] if name.startswith("sarg") else ""
    return digits.isdigit() and digits.isascii()


def token_span(tok) -> Span:
    return Span(tok.line, tok.column, tok.end_line, tok.end_column)


def span_of(item) -> Span | None:
    if isinstance(item, str) and hasattr(item, "end_column"):  # any token, ours or Lark's
        return token_span(item)
    if isinstance(item, list):
        return _merge([span_of(x) for x in item])
    return getattr(item, "span", None)  # nodes and type keywords


def _merge(spans) -> Span | None:
    spans = [s for s in spans if s is not None]
    if not spans:
        return None
    return spans[0].merge(spans[-1])


def children_span(children) -> Span | None:
    return _merge([span_of(c) for c in children])


U64_MAX = (1 << 64) - 1


def parse_int(tok) -> int:
    """A literal's value; one that does not fit in 64 bits is refused (bpftrace
    says "stoull"), before Python builds a huge number (`1e999999999`)."""
    text = tok.value.replace("_", "").rstrip("uUlL")  # C suffixes say nothing here
    if text[:2] in ("0x", "0X"):
        value = _bounded_int(tok, text[2:], 16, 16)
    elif "e" in text or "E" in text:
        mantissa, _, exponent = text.lower().partition("e")
        mantissa_value = _bounded_int(tok, mantissa, 10, 20)
        exponent_value = _bounded_int(tok, exponent, 10, 2) if mantissa_value else 0
        if exponent_value > 20:
            raise _out_of_range(tok)
        value = mantissa_value * 10 ** exponent_value
    elif len(text) > 1 and text[0] == "0":
        if any(c in "89" for c in text):
            raise PytraceError(f"invalid octal integer '{tok.value}'", token_span(tok))
        value = _bounded_int(tok, text, 8, 22)
    else:
        value = _bounded_int(tok, text, 10, 20)
    if value > U64_MAX:
        raise _out_of_range(tok)
    return value


def _bounded_int(tok, digits: str, base: int, max_digits: int) -> int:
    if len(digits.lstrip("0")) > max_digits:
        raise _out_of_range(tok)
    return int(digits, base)


def _out_of_range(tok) -> PytraceError:
    return PytraceError("integer literal out of range: it does not fit in 64 bits",
                        token_span(tok))


def _byte(value: int) -> str:
    # \xNN and octal escapes name bytes: high ones become surrogateescape code
    # points, so encoding the text with surrogateescape gives that very byte.
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def decode_escapes(body: str, tok) -> str:
    def replace(m: re.Match) -> str:
        code = m.group(1)
        if code[0] == "x" and len(code) > 1:
            return _byte(int(code[1:], 16))
        if code[0] in "01234567":
            return _byte(int(code, 8) & 0xFF)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        raise PytraceError(f"invalid escape character '\\{code}'", token_span(tok))
    if "\\" not in body:
        return body
    return re.sub(_ESCAPE, replace, body, flags=re.S)


def _nodes(children):
    """The children that are AST nodes (drops punctuation tokens and Nones)."""
    return [c for c in children if isinstance(c, ast.Node)]


class AstBuilder:
    """Callbacks named after grammar rules (and their `-> alias`es)."""

    # ---- top level ----

    def start(self, children):
        program = ast.Program(span=children_span(children))
        for item in children:
            if isinstance(item, ast.Probe):
                program.probes.append(item)
            elif isinstance(item, ast.Include):
                program.includes.append(item)
            elif isinstance(item, ast.CDefinition):
                program.c_definitions.append(item)
            elif isinstance(item, ast.Config):
                if program.config is not None:
                    raise PytraceError("Only one config block is allowed", item.span)
                program.config = item
        return program

    def include(self, children):
        tok = children[0]
        path = tok.value[1:].strip()[len("include"):].strip()
        return ast.Include(path, span=token_span(tok))

    def c_definition(self, children):
        from pytrace.c_definitions import parse_c_definition  # rare: keep it off start-up

        tok = children[0]
        return parse_c_definition(tok.value, tok.line, tok.column)

    def config(self, children):
        settings = next(c for c in children if isinstance(c, list))
        return ast.Config(settings, span=children_span(children))

    def config_items(self, children):
        return [c for c in children if isinstance(c, tuple)]

    def config_item(self, children):
        name, _, value = children
        return (name.value, value)

    # ---- probes ----

    def probe(self, children):
        attach_points = children[0]
        predicate = children[1] if len(children) == 3 else None
        return ast.Probe(attach_points, predicate, children[-1],
                         span=children_span(children))

    def attach_points(self, children):
        return [parse_attach_point(t.value, token_span(t))
                for t in children if t.type == "ATTACH_POINT"]

    def predicate(self, children):
        return children[1]

    # ---- statements ----

    def block(self, children):
        return ast.Block(children[1], span=children_span(children))

    def stmts(self, children):
        return [c for c in children if c is not None]

    def stmt_item(self, children):
        return children[0]

    def expr_stmt(self, children):
        return ast.ExprStmt(children[0], span=children_span(children))

    def assign_op(self, children):
        return children[0]

    def assign(self, children):
        target, op, value = children
        if not isinstance(target, (ast.Map, ast.Variable)):
            raise PytraceError(f"syntax error, unexpected {op.value}, expecting ; or }}",
                               token_span(op))
        return ast.Assign(target, value, op.value, token_span(op),
                          span=children_span(children))

    def return_stmt(self, children):
        value = children[1] if len(children) > 1 else None
        return ast.Jump("return", value, span=children_span(children))

    def break_stmt(self, children):
        return ast.Jump("break", span=children_span(children))

    def continue_stmt(self, children):
        return ast.Jump("continue", span=children_span(children))

    def let_stmt(self, children):
        var = ast.Variable(children[1].value, span=token_span(children[1]))
        type_name = next((c for c in children if isinstance(c, ast.TypeName)), None)
        value = None
        if isinstance(children[-1], ast.Expr) and len(children) > 2:
            value = children[-1]
        return ast.VarDecl(var, type_name, value, span=children_span(children))

    def if_stmt(self, children):
        cond, then = children[2], children[4]
        otherwise = None
        if len(children) > 5:
            otherwise = children[6]
            if isinstance(otherwise, ast.If):
                otherwise = ast.Block([otherwise], span=otherwise.span)
        return ast.If(cond, then, otherwise, span=children_span(children))

    def unroll_stmt(self, children):
        return ast.Unroll(children[2], children[4], span=children_span(children))

    def while_stmt(self, children):
        return ast.While(children[2], children[4], span=children_span(children))

    def for_stmt(self, children):
        var = ast.Variable(children[2].value, span=token_span(children[2]))
        return ast.For(var, children[4], children[6], span=children_span(children))

    # ---- expressions ----

    def ternary(self, children):
        return ast.Ternary(children[0], children[2], children[4],
                           span=children_span(children))

    def binary(self, children):
        left, op, right = children
        return ast.Binary(op.value, left, right, span=children_span(children))

    def unary(self, children):
        return ast.Unary(children[0].value, children[1], span=children_span(children))

    def pre_incdec(self, children):
        return self._incdec(children[0], children[1], True, children)

    def post_incdec(self, children):
        return self._incdec(children[1], children[0], False, children)

    def _incdec(self, op, target, prefix, children):
        if not isinstance(target, (ast.Map, ast.Variable)):
            raise PytraceError(f"syntax error, unexpected {op.value}", token_span(op))
        return ast.IncDec(op.value, target, prefix, span=children_span(children))

    def cast(self, children):
        return ast.Cast(children[1], children[3], span=children_span(children))

    def field(self, children):
        return ast.FieldAccess(children[0], children[2].value, False,
                               span=children_span(children))

    def arrow(self, children):
        return ast.FieldAccess(children[0], children[2].value, True,
                               span=children_span(children))

    def tuple_access(self, children):
        index = children[2]
        return ast.TupleAccess(children[0], parse_int(index), span=children_span(children))

    def index(self, children):
        return ast.Index(children[0], children[2], span=children_span(children))

    def integer(self, children):
        tok = children[0]
        return ast.Integer(parse_int(tok), span=token_span(tok))

    def string(self, children):
        tok = children[0]
        return ast.String(decode_escapes(tok.value[1:-1], tok), span=token_span(tok))

    def char(self, children):
        tok = children[0]
        text = decode_escapes(tok.value[1:-1], tok)
        return ast.Integer(ord(text), span=token_span(tok))

    def true(self, children):
        return ast.Boolean(True, span=token_span(children[0]))

    def false(self, children):
        return ast.Boolean(False, span=token_span(children[0]))

    def variable(self, children):
        tok = children[0]
        return ast.Variable(tok.value, span=token_span(tok))

    def positional(self, children):
        tok = children[0]
        return ast.PositionalParam(_bounded_int(tok, tok.value[1:], 10, 20),
                                   span=token_span(tok))

    def positional_count(self, children):
        return ast.PositionalCount(span=token_span(children[0]))

    def name(self, children):
        tok = children[0]
        if is_builtin_name(tok.value):
            return ast.Builtin(tok.value, span=token_span(tok))
        return ast.Identifier(tok.value, span=token_span(tok))

    def map(self, children):
        keys = children[2] if len(children) > 1 else []
        return ast.Map(children[0].value, keys, span=children_span(children))

    def call(self, children):
        args = children[2] if len(children) == 4 else []
        return ast.Call(children[0].value, args, span=children_span(children))

    def paren(self, children):
        inner = children[1]
        return inner

    def tuple(self, children):
        return ast.Tuple([children[1], *children[3]], span=children_span(children))

    def sizeof(self, children):
        return ast.Sizeof(children[2], span=children_span(children))

    def offsetof(self, children):
        return ast.Offsetof(children[2], children[4], span=children_span(children))

    def expr_list(self, children):
        if len(children) == 1:
            return [children[0]]
        children[0].append(children[2])
        return children[0]

    def field_path(self, children):
        return "".join(t.value for t in children)

    def type_name(self, children):
        words: list[str] = []
        pointer = 0
        array = None
        for tok in children:
            if isinstance(tok, _Word):
                words.append(str(tok))
            elif tok.type == "IDENT":
                words.append(tok.value)
            elif tok.value == "*":
                pointer += 1
            elif tok.type == "INT":
                array = parse_int(tok)
        return ast.TypeName(" ".join(words), pointer, array, span=children_span(children))

    def type_word(self, children):
        return _Word(children[0])

    def tag(self, children):
        return _Word(children[0])


class _Word(str):
    """A type keyword that still knows where it was written (for spans)."""

    def __new__(cls, tok):
        word = super().__new__(cls, tok.value)
        word.span = token_span(tok)
        return word
