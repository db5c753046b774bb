"""Program text to tokens, one at a time, for the parser state asking.

A contextual lexer, as Lark's: the parser says which terminals its current
state accepts, and only then are the context-only tokens (attach points, the
`/` that ends a predicate, C definitions, #include) tried. Everything else is
one precompiled alternation; identifiers become keywords only where the
keyword is accepted, so `int` is a type in a cast and a field name after `->`.
"""

from __future__ import annotations

import re

from pytrace.parse_tables import CONTEXTUAL_TERMINALS, Tables


class Token(str):
    """A token's text, with its type and 1-based position (end column exclusive)."""

    def __new__(cls, type_: str, value: str, line: int, column: int,
                end_line: int, end_column: int, start_pos: int):
        tok = super().__new__(cls, value)
        tok.type = type_
        tok.line, tok.column = line, column
        tok.end_line, tok.end_column = end_line, end_column
        tok.start_pos = start_pos
        return tok

    @property
    def value(self) -> str:
        return str.__str__(self)


class LexError(Exception):
    """No terminal matches at `pos`."""

    def __init__(self, pos: int, line: int, column: int):
        super().__init__(pos)
        self.pos, self.line, self.column = pos, line, column


_IDENT = re.compile(r"[A-Za-z_]\w*\Z")


class Lexer:
    def __init__(self, tables: Tables):
        # Compiling regexes is most of a one-liner's lexing cost: the common
        # tokens share one small pattern, punctuation is a dict lookup, and
        # each context-only pattern is compiled the first time it is tried.
        self.special_patterns = {name: pattern for name, pattern in tables.regex_terminals
                                 if name in CONTEXTUAL_TERMINALS}
        self.special_order = [n for n in CONTEXTUAL_TERMINALS if n in self.special_patterns]
        self.special: dict[str, re.Pattern] = {}
        self.keywords = {text: name for text, name in tables.string_terminals.items()
                         if _IDENT.match(text)}
        self.punctuation = {text: name for text, name in tables.string_terminals.items()
                            if text not in self.keywords}
        self.longest_punctuation = max(map(len, self.punctuation))
        groups = [f"(?P<{name}>{pattern})" for name, pattern in tables.regex_terminals
                  if name not in self.special_patterns]
        self.general = re.compile("|".join(groups))
        self.skip = re.compile("(?:" + "|".join(tables.ignore) + ")*")

    def tokens(self, text: str, macros: dict[str, str] | None = None,
               expanding: frozenset = frozenset()):
        """A generator: send() it the set of acceptable terminals, get the next Token.

        The first value must be primed with next(); the end of input is a
        `$END` token with an empty value. An identifier naming one of `macros`
        (from #define) is replaced by the tokens of its body, each spanning
        the identifier; `expanding` stops a macro from expanding inside itself.
        """
        pos, line, line_start = 0, 1, 0
        accepts = yield None
        length = len(text)
        while True:
            m = self.skip.match(text, pos)
            if m.end() != pos:
                skipped = m.group()
                newlines = skipped.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + skipped.rindex("\n") + 1
                pos = m.end()
            if text.startswith("/*", pos):
                raise LexError(pos, line, pos - line_start + 1)  # unterminated comment
            if pos >= length:
                col = pos - line_start + 1
                accepts = yield Token("$END", "", line, col, line, col, pos)
                continue
            type_, value = self._match(text, pos, accepts)
            if type_ is None:
                raise LexError(pos, line, pos - line_start + 1)
            newlines = value.count("\n")
            end_line = line + newlines
            if newlines:
                end_col = len(value) - value.rindex("\n")
                next_line_start = pos + value.rindex("\n") + 1
            else:
                end_col = pos - line_start + 1 + len(value)
                next_line_start = line_start
            tok = Token(type_, value, line, pos - line_start + 1, end_line, end_col, pos)
            pos += len(value)
            line, line_start = end_line, next_line_start
            if macros and type_ == "IDENT" and value in macros and value not in expanding:
                accepts = yield from self._expansion(tok, macros, expanding, accepts)
                continue
            accepts = yield tok

    def _expansion(self, name: Token, macros: dict[str, str], expanding: frozenset, accepts):
        """Yield the tokens of macro `name`'s body; return the parser's next `accepts`."""
        body = self.tokens(macros[name.value], macros, expanding | {name.value})
        next(body)
        while True:
            try:
                tok = body.send(accepts)
            except LexError:
                raise LexError(name.start_pos, name.line, name.column) from None
            if tok.type == "$END":
                return accepts
            accepts = yield Token(tok.type, tok.value, name.line, name.column,
                                  name.end_line, name.end_column, name.start_pos)

    def _match(self, text: str, pos: int, accepts) -> tuple[str | None, str]:
        for name in self.special_order:
            if accepts is None or name in accepts:
                pattern = self.special.get(name)
                if pattern is None:
                    pattern = self.special[name] = re.compile(self.special_patterns[name])
                m = pattern.match(text, pos)
                if m and m.end() > pos:
                    return name, m.group()
        m = self.general.match(text, pos)
        if m is not None:
            kind, value = m.lastgroup, m.group()
            if kind == "IDENT" and value in self.keywords:
                keyword = self.keywords[value]
                if accepts is None or keyword in accepts or "IDENT" not in accepts:
                    return keyword, value
            return kind, value
        for size in range(self.longest_punctuation, 0, -1):
            value = text[pos:pos + size]
            if value in self.punctuation:
                return self.punctuation[value], value
        if accepts is not None:
            return self._match(text, pos, None)  # for the error: what is there?
        return None, ""
