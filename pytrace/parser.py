"""Program text to AST: builds (and caches) the Lark LALR parser, turns its errors into ours.

The parser is built from grammar/pytrace.lark once per grammar version and
pickled under $XDG_CACHE_HOME/pytrace (or ~/.cache/pytrace), so a one-liner
does not pay for LALR table construction. Syntax errors come out in bison's
words, as bpftrace prints them: `syntax error, unexpected X, expecting Y`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.resources import files

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from pytrace.ast import Program
from pytrace.ast_builder import AstBuilder, is_builtin_name, token_span
from pytrace.diagnostics import PytraceError, Source, Span

_parser: Lark | None = None

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


def parse(source: Source) -> Program:
    """Parse a whole program; raises PytraceError with a Span on any error."""
    try:
        return get_parser().parse(source.text)
    except UnexpectedInput as e:
        raise _syntax_error(e, source) from None


def parse_text(text: str, name: str = "stdin") -> Program:
    return parse(Source(text, name))


def get_parser() -> Lark:
    global _parser
    if _parser is None:
        _parser = _build_parser()
    return _parser


def _build_parser() -> Lark:
    grammar = files("pytrace.grammar").joinpath("pytrace.lark").read_text(encoding="utf-8")
    import lark
    key = hashlib.sha256(
        f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()[:20]
    return Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True,
                maybe_placeholders=True, transformer=AstBuilder(),
                cache=_cache_file(key) or False)


def _cache_file(key: str) -> str | None:
    """A writable cache path for this grammar, or None to build without a cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "pytrace")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK):
        path = os.path.join(directory, f"parser-{key}.pickle")
        return path if os.path.exists(path) else None
    return os.path.join(directory, f"parser-{key}.pickle")


# ---- errors ------------------------------------------------------------------

def _syntax_error(e: UnexpectedInput, source: Source) -> PytraceError:
    if isinstance(e, UnexpectedCharacters):
        return _lexical_error(e, source)
    assert isinstance(e, UnexpectedToken)
    token = e.token
    found = _describe_token(token)
    span = _end_span(source) if token.type == "$END" else token_span(token)
    expected = _expected_after_default_reductions(e) or sorted(e.expected)
    names = sorted({_describe_terminal(name) for name in expected})
    message = f"syntax error, unexpected {found}"
    if 0 < len(names) <= MAX_EXPECTED:
        message += ", expecting " + " or ".join(names)
    return PytraceError(message, span)


def _lexical_error(e: UnexpectedCharacters, source: Source) -> PytraceError:
    line_text = source.line_text(e.line)
    start = Span(e.line, e.column, e.line, e.column + 1)
    if e.char == '"':
        return PytraceError("unterminated string",
                            Span(e.line, e.column, e.line, len(line_text) + 1))
    if e.char == "'":
        return PytraceError("invalid character literal", start)
    if e.char == "/" and source.text[e.pos_in_stream:e.pos_in_stream + 2] == "/*":
        return PytraceError("unterminated comment", start)
    if e.char == "\\" or e.char.isprintable() and not e.char.isspace():
        return PytraceError(f"invalid character '{e.char}'", start)
    return PytraceError(f"invalid character '\\x{ord(e.char):02x}'", start)


def _end_span(source: Source) -> Span:
    lines = source.text.split("\n")
    col = len(lines[-1]) + 1
    return Span(len(lines), col, len(lines), col)


def _describe_token(token: Token) -> str:
    if token.type == "IDENT" and is_builtin_name(token.value):
        return "builtin"
    return TOKEN_NAMES.get(token.type) or token.value or token.type


def _describe_terminal(name: str) -> str:
    if name in TOKEN_NAMES:
        return TOKEN_NAMES[name]
    terminal = get_parser().get_terminal(name)
    if terminal.pattern.type == "str":
        return terminal.pattern.value
    return name.lower()


def _expected_after_default_reductions(e: UnexpectedToken) -> list[str] | None:
    """The tokens bison would list: it reduces by default before noticing an error.

    Lark reports every terminal of the state where the token failed; bison
    first performs the state's default reduction (its most frequent one) until
    it reaches a state that only shifts, and lists what that state shifts.
    Replaying those reductions on Lark's state stack gives the same, much
    shorter, list ("expecting }" rather than twenty operators).
    """
    interactive = getattr(e, "interactive_parser", None)
    if interactive is None:
        return None
    parser_state = interactive.parser_state
    states = parser_state.parse_conf.parse_table.states
    stack = list(parser_state.state_stack)
    for _ in range(1000):
        actions = states[stack[-1]]
        reduces: dict[object, int] = {}
        for name, (action, arg) in actions.items():
            if action.name == "Reduce" and _is_terminal(name):
                reduces[arg] = reduces.get(arg, 0) + 1
        if not reduces:
            break
        rule = max(reduces, key=reduces.get)
        size = len(rule.expansion)
        if size:
            del stack[-size:]
        if not stack:
            return None
        goto = states[stack[-1]].get(rule.origin.name)
        if goto is None:
            return None
        stack.append(goto[1])
    shifts = [name for name, (action, _) in states[stack[-1]].items()
              if action.name == "Shift" and _is_terminal(name)]
    return shifts or None


def _is_terminal(name: str) -> bool:
    return name == "$END" or name.isupper() or name.startswith("__")
