"""Program text to AST: an LALR driver over the cached tables, and bpftrace-shaped errors.

`parse(Source)` returns a pytrace.ast.Program or raises PytraceError with a
Span. The tables come from grammar/pytrace.lark through Lark (built once,
cached: pytrace.parse_tables); the driver here is a plain shift/reduce loop
calling pytrace.ast_builder, so a one-liner never imports Lark. Syntax errors
use bison's words, as bpftrace prints them:
`syntax error, unexpected X, expecting Y`.
"""

from __future__ import annotations

from pytrace.ast import Program
from pytrace.ast_builder import AstBuilder, is_builtin_name, token_span
from pytrace.diagnostics import PytraceError, Source, Span
from pytrace.lexer import LexError, Lexer, Token
from pytrace.nesting import check_nesting
from pytrace.preprocessor import PreprocessOptions, preprocess
from pytrace.parse_tables import Tables, load_tables

# bison lists the expected tokens only when there are at most this many.
MAX_EXPECTED = 4

# How bpftrace (bison) names the tokens that are not plain punctuation.
TOKEN_NAMES = {
    "$END": "end of file",
    "IDENT": "identifier",
    "INT": "integer",
    "CHAR": "integer",
    "STRING": "string",
    "VAR": "variable",
    "MAP": "map",
    "POSITIONAL": "positional parameter",
    "ATTACH_POINT": "attach point",
    "PRED_END": "/",
    "C_DEFINITION": "struct",
    "INCLUDE": "#include",
    "SHEBANG": "#!",
}


class _Parser:
    def __init__(self, tables: Tables):
        self.tables = tables
        self.lexer = Lexer(tables)
        self.builder = AstBuilder()
        # Each rule's reduction, resolved once:
        # (origin, size, callback, expand1, is a helper, has helper children).
        self.reductions = [
            (r.origin, r.size,
             getattr(self.builder, r.callback, None) if r.callback else None,
             r.expand1, r.origin.startswith("_"), r.has_helpers)
            for r in tables.rules]

    def parse(self, source: Source, options: PreprocessOptions | None = None) -> Program:
        actions, gotos = self.tables.actions, self.tables.gotos
        pre = preprocess(source.text, options)
        reductions = self.reductions
        end_state = self.tables.end_state
        states = [self.tables.start_state]
        values: list = []
        tokens = self.lexer.tokens(pre.text, pre.macros)
        next(tokens)
        try:
            while True:
                token = tokens.send(actions[states[-1]])
                while True:
                    action = actions[states[-1]].get(token.type)
                    if action is None:
                        raise _syntax_error(self.tables, token, states, source)
                    if action >= 0:
                        states.append(action)
                        values.append(token)
                        break
                    origin, size, callback, expand1, splice, helpers = reductions[~action]
                    if size == 1 and expand1 and not helpers:
                        # A `?rule` passing its one child up (expr -> ternary ->
                        # ... -> primary): most reductions, so kept cheap.
                        states[-1] = gotos[states[-2]][origin]
                        continue
                    if size:
                        children = values[-size:]
                        del values[-size:]
                        del states[-size:]
                    else:
                        children = []
                    if helpers:
                        children = _spliced(children)
                    if splice:
                        value = _Splice(children)
                    elif expand1 and len(children) == 1:
                        value = children[0]
                    else:
                        value = callback(children)
                    states.append(gotos[states[-1]][origin])
                    values.append(value)
                    if states[-1] == end_state and token.type == "$END":
                        program = _with_headers(values[-1], pre)
                        # Macros expand while lexing: then the text's length says
                        # nothing about the depth (-1: always walk).
                        check_nesting(program, -1 if pre.macros else len(pre.text))
                        return program
        except LexError as e:
            raise _lexical_error(e, source) from None


def _with_headers(program: Program, pre) -> Program:
    """Add the struct/union/enum definitions of the script's own headers."""
    if pre.header_definitions:
        from pytrace.c_definitions import parse_c_definition
        definitions = []
        for _, text in pre.header_definitions:
            try:
                definitions.append(parse_c_definition(text, 1, 1))
            except PytraceError:
                # C beyond the subset (function pointer typedefs...): skipped; a
                # script using that type gets "Unknown type" where it does.
                continue
        program.c_definitions[:0] = definitions
    program.macros = dict(pre.macros)
    program.deferred_errors = list(pre.missing)
    return program


class _Splice(list):
    """Children of a helper rule (`x*`, `x+`) that belong to the enclosing rule."""


def _spliced(children: list) -> list:
    out: list = []
    for c in children:
        if type(c) is _Splice:
            out.extend(c)
        else:
            out.append(c)
    return out


_parser: _Parser | None = None


def get_parser() -> _Parser:
    global _parser
    if _parser is None:
        _parser = _Parser(load_tables())
    return _parser


def parse(source: Source, options: PreprocessOptions | None = None) -> Program:
    """Parse a whole program; raises PytraceError with a Span on any error.

    `options` carries -I/--include and the predefined macros (BPFTRACE_HAVE_BTF)."""
    return get_parser().parse(source, options)


def parse_text(text: str, name: str = "stdin") -> Program:
    return parse(Source(text, name))


def parse_runnable(source: Source, options: PreprocessOptions | None = None) -> Program:
    """Parse a program that is to run: one without any probe (empty, only
    comments, only definitions) is refused, as bpftrace refuses it, rather
    than attaching nothing and waiting forever."""
    program = parse(source, options)
    if not program.probes:
        raise PytraceError("the program has no probes: expecting one such as "
                           "'BEGIN { ... }'", _whole_span(source))
    return program


# ---- errors ------------------------------------------------------------------

def _syntax_error(tables: Tables, token: Token, states: list[int],
                  source: Source) -> PytraceError:
    span = _end_span(source) if token.type == "$END" else token_span(token)
    accepted = tables.actions[states[-1]]
    if token.value in ("struct", "union", "enum", "typedef") and "C_DEFINITION" in accepted:
        shape = ("typedef TYPE NAME;" if token.value == "typedef"
                 else f"{token.value} NAME {{ ... }};")
        return PytraceError(f"syntax error, incomplete {token.value} definition, "
                            f"expecting {shape}", span)
    if token.type == "IDENT" and "ATTACH_POINT" in accepted:
        # A probe without its colon part (`kprobe {`) or an unknown provider:
        # the attach-point rules say what is wrong with it.
        from pytrace.attach_points import parse_attach_point
        parse_attach_point(token.value, span)
    names = sorted({_describe_terminal(tables, t) for t in _bison_expected(tables, states)})
    message = f"syntax error, unexpected {_describe_token(token)}"
    if 0 < len(names) <= MAX_EXPECTED:
        message += ", expecting " + " or ".join(names)
    return PytraceError(message, span)


def _bison_expected(tables: Tables, states: list[int]) -> list[str]:
    """The tokens bison would list: it reduces by default before noticing an error.

    An LALR state may accept twenty operators; bison first performs the
    state's default reduction (its most frequent one) until it reaches a
    state that only shifts, and lists what that state shifts. Replaying those
    reductions on our state stack gives the same, much shorter, list
    ("expecting }" rather than every operator).
    """
    stack = list(states)
    for _ in range(10_000):  # a reduction chain is short; this only bounds a bug
        counts: dict[int, int] = {}
        for action in tables.actions[stack[-1]].values():
            if action < 0:
                counts[action] = counts.get(action, 0) + 1
        if not counts:
            break
        rule = tables.rules[~max(counts, key=counts.get)]
        if rule.size:
            del stack[-rule.size:]
        goto = tables.gotos[stack[-1]].get(rule.origin) if stack else None
        if goto is None:
            return list(tables.actions[states[-1]])
        stack.append(goto)
    return [name for name, action in tables.actions[stack[-1]].items() if action >= 0]


def _lexical_error(e: LexError, source: Source) -> PytraceError:
    text = source.text
    char = text[e.pos]
    start = Span(e.line, e.column, e.line, e.column + 1)
    if char == '"':
        line_text = source.line_text(e.line)
        return PytraceError("unterminated string",
                            Span(e.line, e.column, e.line, len(line_text) + 1))
    if text.startswith("/*", e.pos):
        return PytraceError("unterminated comment", Span(e.line, e.column, e.line, e.column + 2))
    if char == "'":
        return PytraceError("invalid character literal", start)
    if char.isprintable() and not char.isspace():
        return PytraceError(f"invalid character '{char}'", start)
    return PytraceError(f"invalid character '\\x{ord(char):02x}'", start)


def _whole_span(source: Source) -> Span | None:
    """All of a program that has some text; None for an empty one."""
    if not source.text.strip():
        return None
    lines = source.text.rstrip("\n").split("\n")
    return Span(1, 1, len(lines), len(lines[-1]) + 1)


def _end_span(source: Source) -> Span:
    lines = source.text.split("\n")
    col = len(lines[-1]) + 1
    return Span(len(lines), col, len(lines), col)


def _describe_token(token: Token) -> str:
    if token.type == "IDENT" and is_builtin_name(token.value):
        return "builtin"
    return TOKEN_NAMES.get(token.type) or token.value


def _describe_terminal(tables: Tables, name: str) -> str:
    if name in TOKEN_NAMES:
        return TOKEN_NAMES[name]
    for text, terminal in tables.string_terminals.items():
        if terminal == name:
            return text
    return name.lower()
