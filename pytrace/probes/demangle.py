"""C++ symbol demangling (Itanium ABI, the common subset) for uprobe names.

`uprobe:./prog:foo` matches the C++ functions `foo(int)` and `foo()`, and
`uprobe:./prog:"foo(int)"` only the first, as bpftrace does; that needs the
demangled names of the binary's `_Z` symbols. This covers what function
symbols usually hold: nested names, std abbreviations, constructors and
destructors, operators, builtin/qualified/pointer/reference types, templates
and their parameters, substitutions, ABI tags. `demangle()` returns None for
anything outside that (the mangled name still matches as itself).
"""

from __future__ import annotations

_BUILTIN = {
    "v": "void", "w": "wchar_t", "b": "bool", "c": "char", "a": "signed char",
    "h": "unsigned char", "s": "short", "t": "unsigned short", "i": "int",
    "j": "unsigned int", "l": "long", "m": "unsigned long", "x": "long long",
    "y": "unsigned long long", "n": "__int128", "o": "unsigned __int128", "f": "float",
    "d": "double", "e": "long double", "g": "__float128", "z": "...",
}
_BUILTIN_D = {"i": "char32_t", "s": "char16_t", "u": "char8_t", "n": "decltype(nullptr)"}
_STD_SUBST = {
    "t": "std", "a": "std::allocator", "b": "std::basic_string",
    # c++filt spells these out in full.
    "s": "std::basic_string<char, std::char_traits<char>, std::allocator<char> >",
    "i": "std::basic_istream<char, std::char_traits<char> >",
    "o": "std::basic_ostream<char, std::char_traits<char> >",
    "d": "std::basic_iostream<char, std::char_traits<char> >",
}
_OPERATORS = {
    "nw": "new", "na": "new[]", "dl": "delete", "da": "delete[]", "ps": "+", "ng": "-",
    "ad": "&", "de": "*", "co": "~", "pl": "+", "mi": "-", "ml": "*", "dv": "/", "rm": "%",
    "an": "&", "or": "|", "eo": "^", "aS": "=", "pL": "+=", "mI": "-=", "mL": "*=",
    "dV": "/=", "rM": "%=", "aN": "&=", "oR": "|=", "eO": "^=", "ls": "<<", "rs": ">>",
    "lS": "<<=", "rS": ">>=", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=",
    "ge": ">=", "ss": "<=>", "nt": "!", "aa": "&&", "oo": "||", "pp": "++", "mm": "--",
    "cm": ",", "pm": "->*", "pt": "->", "cl": "()", "ix": "[]",
}


class _Unsupported(Exception):
    pass


class _Parser:
    def __init__(self, text: str):
        self.s, self.i = text, 0
        self.subs: list[str] = []
        self.template_args: list[str] = []
        self.type_depth = 0      # > 0 while inside a type (its template args are not T_)
        self.special = False     # the last name was a constructor, destructor or conversion

    # ---- cursor ------------------------------------------------------------------
    def peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def take(self, text: str) -> bool:
        if self.s.startswith(text, self.i):
            self.i += len(text)
            return True
        return False

    def need(self, text: str) -> None:
        if not self.take(text):
            raise _Unsupported(self.s[self.i:])

    def number(self) -> int:
        start = self.i
        while self.i < len(self.s) and self.s[self.i].isdigit():
            self.i += 1
        if start == self.i:
            raise _Unsupported(self.s[self.i:])
        return int(self.s[start:self.i])

    def seq_id(self) -> int:
        """Base-36 substitution index: `S_` is 0, `S0_` is 1, `SA_` is 11."""
        if self.take("_"):
            return 0
        value = 0
        while self.i < len(self.s) and self.s[self.i] != "_":
            c = self.s[self.i]
            value = value * 36 + (int(c) if c.isdigit() else ord(c) - ord("A") + 10)
            self.i += 1
        self.need("_")
        return value + 1

    # ---- encoding ---------------------------------------------------------------------
    def encoding(self) -> str:
        name, is_template, suffix = self.name()
        if self.i >= len(self.s) or self.peek() == "E":
            return name  # data, or a special name
        ret = ""
        if is_template and not self.special:
            ret = self.type() + " "  # a template function's return type comes first
        params = []
        while self.i < len(self.s) and self.peek() not in ("E", "."):
            params.append(self.type())
        shown = "" if params == ["void"] else ", ".join(params)
        return f"{ret}{name}({shown}){suffix}"

    def name(self) -> tuple[str, bool, str]:
        """(qualified name, ends in template args, cv suffix of a member function)."""
        if self.peek() == "N":
            return self.nested_name()
        if self.peek() == "Z":
            raise _Unsupported("local name")
        if self.take("St"):
            name = "std::" + self.unqualified_name("std")
        else:
            name = self.unqualified_name("")
        if self.peek() == "I":
            self.subs.append(name)
            args = self.template_args_list()
            return name + args, True, ""
        return name, False, ""

    def nested_name(self) -> tuple[str, bool, str]:
        self.need("N")
        cv = self.cv_qualifiers()
        ref = " &" if self.take("R") else " &&" if self.take("O") else ""
        parts = ""
        last = ""
        templated = False
        while not self.take("E"):
            templated = False
            if self.peek() == "S" and self.peek(2) != "St" or self.peek(2) == "St" and parts:
                piece = self.substitution()
                parts = piece
                last = _last_component(piece)
                continue
            if self.take("St"):
                parts = "std"
                continue
            if self.peek() == "I":
                parts += self.template_args_list()
                templated = True
                if self.peek() != "E":  # the function's own full name is no candidate
                    self.subs.append(parts)
                continue
            if self.peek() == "T":
                parts = self.template_param()
                self.subs.append(parts)
                continue
            piece = self.unqualified_name(last)
            last = _last_component(piece)
            parts = f"{parts}::{piece}" if parts else piece
            if self.peek() != "E":
                self.subs.append(parts)
        return parts, templated, cv + ref

    def cv_qualifiers(self) -> str:
        out = ""
        if self.take("r"):
            out += " restrict"
        if self.take("V"):
            out += " volatile"
        if self.take("K"):
            out += " const"
        return out

    def unqualified_name(self, enclosing: str) -> str:
        c = self.peek()
        self.special = c in "CD" or self.peek(2) == "cv"
        if c.isdigit():
            name = self.source_name()
        elif c == "C" and self.peek(2)[1:] in ("1", "2", "3", "4", "5", "I"):
            self.i += 2
            name = _last_component(enclosing)
        elif c == "D" and self.peek(2)[1:] in ("0", "1", "2", "4", "5"):
            self.i += 2
            name = "~" + _last_component(enclosing)
        elif self.take("cv"):
            name = "operator " + self.type()
        elif self.take("li"):
            name = "operator\"\" " + self.source_name()
        elif self.peek(2) in _OPERATORS:
            op = _OPERATORS[self.peek(2)]
            self.i += 2
            name = "operator" + (" " + op if op[0].isalpha() else op)
        else:
            raise _Unsupported(self.s[self.i:])
        while self.take("B"):
            name += f"[abi:{self.source_name()}]"
        return name

    def source_name(self) -> str:
        n = self.number()
        name = self.s[self.i:self.i + n]
        if len(name) != n:
            raise _Unsupported("short name")
        self.i += n
        return "(anonymous namespace)" if name.startswith("_GLOBAL__N") else name

    def substitution(self) -> str:
        self.need("S")
        c = self.peek()
        if c in _STD_SUBST and c != "_" and not c.isdigit() and not c.isupper():
            self.i += 1
            return _STD_SUBST[c]
        index = self.seq_id()
        if index >= len(self.subs):
            raise _Unsupported("substitution")
        return self.subs[index]

    def template_param(self) -> str:
        self.need("T")
        index = self.seq_id()
        if index >= len(self.template_args):
            raise _Unsupported("template parameter")
        return self.template_args[index]

    def template_args_list(self) -> str:
        self.need("I")
        args = []
        while not self.take("E"):
            if self.take("L"):
                args.append(self.literal())
            elif self.take("J"):
                pack = []
                while not self.take("E"):
                    pack.append(self.type())
                args.append(", ".join(pack))
            else:
                args.append(self.type())
        if self.type_depth == 0:
            self.template_args = args
        text = ", ".join(a for a in args if a)
        return f"<{text}{' ' if text.endswith('>') else ''}>"

    def literal(self) -> str:
        if self.take("_Z"):
            value = self.encoding()
            self.need("E")
            return value
        kind = self.type()
        negative = self.take("n")
        start = self.i
        while self.peek() not in ("E", ""):
            self.i += 1
        digits = self.s[start:self.i]
        self.need("E")
        if kind == "bool":
            return "true" if digits == "1" else "false"
        text = ("-" if negative else "") + digits
        suffix = {"int": "", "unsigned int": "u", "long": "l", "unsigned long": "ul",
                  "long long": "ll", "unsigned long long": "ull"}.get(kind)
        return text + suffix if suffix is not None else f"({kind}){text}"

    # ---- types --------------------------------------------------------------------------
    def type(self) -> str:
        self.type_depth += 1
        try:
            return self._type()
        finally:
            self.type_depth -= 1

    def _type(self) -> str:
        c = self.peek()
        if c in _BUILTIN:
            self.i += 1
            return _BUILTIN[c]
        if c == "D" and self.peek(2)[1:] in _BUILTIN_D:
            t = _BUILTIN_D[self.peek(2)[1]]
            self.i += 2
            return t
        if c in ("K", "V", "r"):
            cv = self.cv_qualifiers()
            t = self.type() + cv
        elif c == "P":
            self.i += 1
            t = self.type() + "*"
        elif c == "R":
            self.i += 1
            t = self.type() + "&"
        elif c == "O":
            self.i += 1
            t = self.type() + "&&"
        elif c == "S" and self.peek(2) != "St":
            t = self.substitution()
            if self.peek() == "I":
                # A substituted template name with its arguments is a new candidate.
                t += self.template_args_list()
            else:
                return t
        elif c == "T":
            t = self.template_param()
            if self.peek() == "I":
                self.subs.append(t)
                t += self.template_args_list()
        elif c == "N" or c.isdigit() or self.peek(2) == "St":
            special = self.special
            t = self.name()[0]
            self.special = special
        else:
            raise _Unsupported(self.s[self.i:])
        self.subs.append(t)
        return t


def _last_component(name: str) -> str:
    """`std::vector<int, std::allocator<int> >` -> `vector` (a constructor's name)."""
    depth, cut, i = 0, len(name), len(name) - 1
    while i >= 0:
        c = name[i]
        if c == ">":
            depth += 1
        elif c == "<":
            depth -= 1
            if depth == 0:
                cut = i
        elif c == ":" and depth == 0 and i > 0 and name[i - 1] == ":":
            return name[i + 1:cut]
        i -= 1
    return name[:cut]


def demangle(symbol: str) -> str | None:
    """`_ZN2ns6Widget4pokeEi` -> `ns::Widget::poke(int)`; None when not a (supported)
    mangled name. A `.clone` style suffix is kept, as c++filt shows it."""
    if not symbol.startswith("_Z"):
        return None
    base, dot, rest = symbol.partition(".")
    parser = _Parser(base)
    parser.i = 2
    try:
        text = parser.encoding()
    except (_Unsupported, IndexError, ValueError, RecursionError):
        return None
    if parser.i != len(base):
        return None
    return text + (f" [clone .{rest}]" if dot else "")


def without_parameters(demangled: str) -> str:
    """`ns::Widget::poke(int) const` -> `ns::Widget::poke` (what a bare name matches)."""
    depth = 0
    for i in range(len(demangled) - 1, -1, -1):
        c = demangled[i]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
            if depth == 0:
                return demangled[:i]
    return demangled
