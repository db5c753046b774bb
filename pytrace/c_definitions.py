"""Top-level C definitions in scripts: `struct`/`union`/`enum` bodies and `typedef`s.

The grammar hands over each definition as one token; this module reads the
subset of C that bpftrace scripts use (members with pointers, arrays and
bitfields; enumerators with optional values; simple typedefs) and keeps the
raw text for the type pass. Members may be struct/union bodies themselves,
named or anonymous (`struct { short s; }; union { int u; } un;`): each becomes
a definition of its own in `nested` (named `outer.member` or `outer.N`), the
member refers to it, and an anonymous one is a member without a name, whose
fields the type pass finds as C does. It is not a C compiler: anything fancier
(function pointers) is kept in `text` only.
"""

from __future__ import annotations

import re

from pytrace.ast import CDefinition, CField, TypeName
from pytrace.diagnostics import PytraceError, Span

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_HEAD = re.compile(r"^\s*(struct|union|enum)\s+(\w+)\s*\{(.*)\}\s*;\s*$", re.S)
_DECLARATOR = re.compile(
    r"^(?P<stars>[\s*]*)(?P<name>[A-Za-z_]\w*)\s*(?P<array>(?:\[\s*\w*\s*\]\s*)*)"
    r"(?::\s*(?P<bits>\d+))?\s*$")
_ENUMERATOR = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?:=\s*(?P<value>.+?))?\s*$", re.S)


def parse_c_definition(text: str, line: int, col: int) -> CDefinition:
    """`text` starts at (line, col) in the program; errors point at the definition."""
    span = _span_of_text(text, line, col)
    clean = _COMMENT.sub(" ", text)
    if clean.lstrip().startswith("typedef"):
        return _typedef(text, clean, span)
    m = _HEAD.match(clean)
    if m is None:
        raise PytraceError("Could not parse this C definition", span)
    kind, name, body = m.groups()
    definition = CDefinition(kind, name, text, span=span)
    if kind == "enum":
        definition.enumerators = _enumerators(body, span)
    else:
        definition.members = _members(body, span, definition)
    return definition


_NESTED = re.compile(r"^\s*(struct|union)\s*(\w*)\s*\{(.*)\}(?P<rest>[^{}]*)$", re.S)


def _nested_member(decl: str, span: Span, outer: CDefinition) -> list[CField] | None:
    """A member declared with its own body; None when `decl` is not one."""
    m = _NESTED.match(decl)
    if m is None:
        return None
    kind, tag, body, rest = m.group(1), m.group(2), m.group(3), m.group("rest").strip()
    name = tag or f"{outer.name}.{rest.split('[')[0].strip(' *') or len(outer.nested)}"
    inner = CDefinition(kind, name, decl, span=span)
    inner.members = _members(body, span, inner)
    outer.nested.extend(inner.nested)
    inner.nested = []
    outer.nested.append(inner)
    if not rest:
        return [CField(TypeName(f"{kind} {name}", 0, None, span=span), "", span=span)]
    _, declarators = _declaration(f"{kind} {name} {rest}", span)
    return [CField(TypeName(f"{kind} {name}", stars, array, span=span), member, bits,
                   span=span) for member, stars, array, bits in declarators]


def _span_of_text(text: str, line: int, col: int) -> Span:
    lines = text.split("\n")
    end_line = line + len(lines) - 1
    end_col = (col if len(lines) == 1 else 1) + len(lines[-1])
    return Span(line, col, end_line, end_col)


def _split_top(text: str, sep: str) -> list[str]:
    """Split at `sep` outside braces."""
    pieces, depth, current = [], 0, []
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == sep and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(c)
    pieces.append("".join(current))
    return pieces


def _declaration(decl: str, span: Span) -> tuple[str, list[tuple[str, int, int | None, int | None]]]:
    """`unsigned long *a, b[4]:3` -> ("unsigned long", [(name, stars, array, bits), ...])."""
    pieces = _split_top(decl, ",")
    first = pieces[0].strip()
    # The base type is everything before the first declarator: the last name
    # (plus its stars, array and bitfield suffixes) is the declarator.
    m = re.match(r"^(?P<base>.*?[\w}])(?P<decl>[\s*]+[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)*(?::\s*\d+)?\s*)$",
                 first, re.S)
    if m is None:
        raise PytraceError(f"Could not parse C declaration '{decl.strip()}'", span)
    base = " ".join(m.group("base").split())
    declarators = []
    for piece in [m.group("decl"), *pieces[1:]]:
        d = _DECLARATOR.match(piece)
        if d is None:
            raise PytraceError(f"Could not parse C declaration '{decl.strip()}'", span)
        sizes = re.findall(r"\[\s*(\w*)\s*\]", d.group("array"))
        array = _int(sizes[0], span) if sizes and sizes[0] else (0 if sizes else None)
        bits = int(d.group("bits")) if d.group("bits") else None
        declarators.append((d.group("name"), d.group("stars").count("*"), array, bits))
    return base, declarators


def _members(body: str, span: Span, outer: CDefinition) -> list[CField]:
    members = []
    for decl in _split_top(body, ";"):
        if not decl.strip():
            continue
        nested = _nested_member(decl, span, outer)
        if nested is not None:
            members.extend(nested)
            continue
        base, declarators = _declaration(decl, span)
        for name, stars, array, bits in declarators:
            members.append(CField(TypeName(base, stars, array, span=span), name, bits, span=span))
    return members


def _enumerators(body: str, span: Span) -> list[tuple[str, int]]:
    values: dict[str, int] = {}
    result = []
    nxt = 0
    for item in body.split(","):
        if not item.strip():
            continue
        m = _ENUMERATOR.match(item)
        if m is None:
            raise PytraceError(f"Could not parse enumerator '{item.strip()}'", span)
        if m.group("value") is not None:
            text = m.group("value").strip()
            nxt = values[text] if text in values else _int(text, span)
        values[m.group("name")] = nxt
        result.append((m.group("name"), nxt))
        nxt += 1
    return result


def _int(text: str, span: Span) -> int:
    text = text.strip()
    negative = text.startswith("-")
    digits = text.lstrip("-").rstrip("uUlL")
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXbB":
            value = int(digits, 8)
        else:
            value = int(digits, 0)
    except ValueError:
        raise PytraceError(f"Expected an integer constant, got '{text}'", span) from None
    return -value if negative else value


def _typedef(text: str, clean: str, span: Span) -> CDefinition:
    decl = clean.strip()[len("typedef"):].rstrip().rstrip(";")
    body = _NESTED.match(decl)
    if body is not None and body.group(1) in ("struct", "union"):
        # `typedef struct { ... } name;`: the body is a definition of its own.
        outer = CDefinition("typedef", "", text, span=span)
        members = _nested_member(decl, span, outer)
        member = members[0]
        definition = CDefinition("typedef", member.name, text, aliased=member.type, span=span)
        definition.nested = outer.nested
        return definition
    base, declarators = _declaration(decl, span)
    name, stars, array, _ = declarators[0]
    tagged = re.match(r"^(struct|union|enum)\s+(\w+)", base)
    if tagged:
        base = f"{tagged.group(1)} {tagged.group(2)}"
    return CDefinition("typedef", name, text, aliased=TypeName(base, stars, array, span=span), span=span)
