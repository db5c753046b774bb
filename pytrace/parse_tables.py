"""The LALR tables for grammar/pytrace.lark: built by Lark once, then loaded from a cache.

Importing Lark and building the tables costs well over 100 ms, far too much
for a one-liner, so the tables are reduced to plain data (ints, strings,
dicts), written with `marshal` under $XDG_CACHE_HOME/pytrace (or
~/.cache/pytrace) in a file named by a checksum of the grammar, and read back
in about a millisecond. Lark is imported only when that file is missing. An unwritable
cache directory just means building every time (set PYTRACE_NO_PARSER_CACHE=1
to force that).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

# Tokens only some parser states may start: they would swallow ordinary
# tokens (an attach point looks like an identifier with colons), so the lexer
# tries them only where the grammar accepts them. Order is priority order.
CONTEXTUAL_TERMINALS = ("PRED_END", "SHEBANG", "INCLUDE", "C_DEFINITION", "ATTACH_POINT")

FORMAT_VERSION = 2


# Plain classes, not dataclasses: each @dataclass costs ~0.5 ms at import,
# and this module is on every start-up path.
class Rule:
    __slots__ = ("origin", "size", "callback", "expand1", "has_helpers")

    def __init__(self, origin: str, size: int, callback: str | None, expand1: bool,
                 has_helpers: bool):
        self.origin = origin  # the rule's name; `_names` are spliced into the parent
        self.size = size  # symbols on the right-hand side
        self.callback = callback  # AstBuilder method; None: pass the one child through
        self.expand1 = expand1  # a `?rule`: with one child, that child is the result
        self.has_helpers = has_helpers  # some child is a `_helper` rule to splice in

    def __iter__(self):
        return iter((self.origin, self.size, self.callback, self.expand1, self.has_helpers))


class Tables:
    """What the parser driver and lexer need, as plain data."""

    FIELDS = ("actions", "gotos", "rules", "start_state", "end_state",
              "regex_terminals", "string_terminals", "ignore")

    def __init__(self, actions, gotos, rules, start_state, end_state,
                 regex_terminals, string_terminals, ignore):
        # actions[state][terminal] = new state (shift) or ~rule index (reduce)
        self.actions: list[dict[str, int]] = actions
        self.gotos: list[dict[str, int]] = gotos
        self.rules: list[Rule] = [Rule(*r) for r in rules]
        self.start_state: int = start_state
        self.end_state: int = end_state
        # (name, regex) for tokens, and keyword or punctuation text -> terminal name
        self.regex_terminals: list[tuple[str, str]] = [tuple(t) for t in regex_terminals]
        self.string_terminals: dict[str, str] = string_terminals
        self.ignore: list[str] = ignore

    def to_data(self) -> tuple:
        data = tuple(getattr(self, name) for name in self.FIELDS)
        return (data[0], data[1], [tuple(r) for r in self.rules], *data[3:])


# A source checkout keeps the grammar beside the package (grammar/); an install
# ships it inside as pytrace.grammar.
_CHECKOUT_GRAMMAR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "grammar", "pytrace.lark")


def grammar_text() -> str:
    # The checkout's file first: running from a checkout (python3 -m pytrace)
    # must use its own grammar, whatever else is installed. Then the file
    # beside the installed package; importlib.resources costs ~10 ms of imports
    # and is only the fallback for a zipped install.
    try:
        with open(_CHECKOUT_GRAMMAR, encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    try:
        import pytrace.grammar
        path = os.path.join(os.path.dirname(pytrace.grammar.__file__), "pytrace.lark")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, ImportError):
        from importlib.resources import files
        return files("pytrace.grammar").joinpath("pytrace.lark").read_text(encoding="utf-8")


def load_tables() -> Tables:
    """The tables for the installed grammar, from the cache when it is there."""
    grammar = grammar_text()
    path = None if os.environ.get("PYTRACE_NO_PARSER_CACHE") else _cache_path(grammar)
    if path is not None:
        try:
            with open(path, "rb") as f:
                # loads(read()), not load(f): load() reads a file in small
                # pieces and takes ten times as long.
                return Tables(*marshal.loads(f.read()))
        except (OSError, EOFError, ValueError, TypeError):
            pass  # missing or damaged: build it again
    tables = build_tables(grammar)
    if path is not None:
        _write_atomically(path, tables)
    return tables


def build_tables(grammar: str) -> Tables:
    """Run Lark's LALR analysis and keep only what the parser driver needs."""
    from lark import Lark

    lark = Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True,
                maybe_placeholders=False)
    table = lark.parser.parser.parser.parse_table
    rule_index: dict[object, int] = {}
    rule_list: list[Rule] = []
    for rule in lark.rules:
        rule_index[rule] = len(rule_list)
        origin = rule.origin.name
        callback = rule.alias or (None if origin.startswith("_") else origin)
        rule_list.append(Rule(str(origin), len(rule.expansion),
                              str(callback) if callback else None,
                              bool(rule.options.expand1) and not rule.alias,
                              any(sym.name.startswith("_") and not sym.is_term
                                  for sym in rule.expansion)))
    terminal_names = {t.name for t in lark.terminals} | {"$END"}
    actions: list[dict[str, int]] = []
    gotos: list[dict[str, int]] = []
    states = sorted(table.states)
    number = {s: i for i, s in enumerate(states)}
    for state in states:
        act: dict[str, int] = {}
        goto: dict[str, int] = {}
        for symbol, (action, arg) in table.states[state].items():
            symbol = str(symbol)
            if symbol in terminal_names:
                act[symbol] = number[arg] if action.name == "Shift" else ~rule_index[arg]
            else:
                goto[symbol] = number[arg]
        actions.append(act)
        gotos.append(goto)
    regex_terminals = []
    string_terminals = {}
    for t in lark.terminals:
        if t.name in lark.ignore_tokens:
            continue
        if t.pattern.type == "str":
            string_terminals[t.pattern.value] = t.name
        else:
            regex_terminals.append((t.name, t.pattern.to_regexp()))
    ignore = [lark.get_terminal(name).pattern.to_regexp() for name in lark.ignore_tokens]
    return Tables(actions, gotos, rule_list, number[table.start_states["start"]],
                  number[table.end_states["start"]], regex_terminals, string_terminals,
                  ignore)


def _cache_path(grammar: str) -> str | None:
    # The file holds plain data in this module's own format, so the key is the
    # grammar, that format and the marshal (Python) version; which Lark
    # version built the tables does not matter.
    # crc32 rather than hashlib: importing hashlib alone costs ~4 ms.
    data = f"{FORMAT_VERSION}\0{sys.version_info[:2]}\0{grammar}".encode()
    key = f"{zlib.crc32(data):08x}{len(data):x}"
    return os.path.join(_cache_dir(), f"parser-{key}.marshal")


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pytrace")


def _write_atomically(path: str, tables: Tables) -> None:
    import tempfile

    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".parser-")
        with os.fdopen(fd, "wb") as f:
            marshal.dump(tables.to_data(), f)
        os.replace(tmp, path)  # readers never see a half-written file
    except OSError:
        pass  # no cache: correct, only slower
