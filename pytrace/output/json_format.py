"""bpftrace's JSON output (`-f json`): one JSON object per line (OUTPUT.md §9).

Named json_format so that `json` inside this package still means the stdlib.
Escaping follows bpftrace byte for byte, including its quirk of printing
every byte >= 0x80 as `\\uffffffXX` (a signed char widened to int).
"""

from __future__ import annotations


from pytrace.output import hist as histfmt
from pytrace.output.sort import average, gc_paused, ordered_for_print, sorts_by_value
from pytrace.output.text import (
    KEY_INT_FULL,
    KEY_INT_HALF,
    buffer_text,
    key_field_texts,
    truncating_div,
    value_text,
)
from pytrace.output.values import Buffer
from pytrace.types import (
    ArrayType,
    AvgType,
    BoolType,
    BufferType,
    HistType,
    InetType,
    IntType,
    LhistType,
    RecordType,
    SpecialType,
    StackType,
    StatsType,
    StringType,
    SymbolType,
    TupleType,
    Type,
)

_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n",
                 ord("\r"): "\\r", ord("\t"): "\\t"})
_ESCAPES.update({b: f"\\uffffff{b:02x}" for b in range(0x80, 0x100)})


def json_escape(text: str) -> str:
    if text.isascii():
        if text.isprintable() and '"' not in text and "\\" not in text:
            return text  # nothing to escape: the usual case, kept cheap
    else:
        # Escape the UTF-8 bytes, not the characters (bpftrace works on bytes).
        text = text.encode("utf-8", "surrogateescape").decode("latin-1")
    return text.translate(_ESCAPES)


def quoted(text: str) -> str:
    return '"' + json_escape(text) + '"'


def json_value(t: Type, value) -> str:
    """A value as bpftrace writes it inside JSON (print(), map values)."""
    if sorts_by_value(t):
        return str(int(value))
    if isinstance(t, StringType):
        return quoted(value)
    if isinstance(t, TupleType):
        return "[" + ",".join(json_value(et, ev) for et, ev in zip(t.elems, value)) + "]"
    if isinstance(t, ArrayType):
        return "[" + ",".join(json_value(t.elem, ev) for ev in value) + "]"
    if isinstance(t, RecordType):
        return "{ " + ", ".join(f'"{f.name}": {json_value(f.type, value[f.name])}'
                                for f in t.fields) + " }"
    if isinstance(t, BufferType):
        return quoted(buffer_text(value.data if isinstance(value, Buffer) else value))
    if isinstance(t, (StackType, SymbolType, SpecialType, InetType)):
        return quoted(value_text(t, value))
    # Pointers and anything else print as in text, unquoted (as bpftrace does).
    return value_text(t, value)


def json_keys(key_types: tuple[Type, ...], keys: list) -> list[str]:
    """Each key as a JSON string: fields as in text, joined by ',' (no space)."""
    if len(key_types) == 1:
        return [quoted(t) for t in key_field_texts(key_types[0], [k for (k,) in keys])]
    columns = [key_field_texts(t, [k[i] for k in keys]) for i, t in enumerate(key_types)]
    return [quoted(",".join(fields)) for fields in zip(*columns)]


def _message_kind(value_type: Type) -> str:
    if isinstance(value_type, (HistType, LhistType)):
        return "hist"
    if isinstance(value_type, AvgType):
        return "stats"
    return "map"


def _element(value_type: Type, value, div: int) -> str:
    if isinstance(value_type, (HistType, LhistType)):
        return histfmt.hist_json(value.buckets, value_type, div)
    if isinstance(value_type, StatsType):
        return (f'{{"count": {value.count}, "average": {average(value)}, '
                f'"total": {value.total}}}')
    if isinstance(value_type, AvgType):
        return str(truncating_div(average(value), div))
    if sorts_by_value(value_type):
        return str(truncating_div(value, div))
    return json_value(value_type, value)


def _single_key_elements(t: Type, ordered: list) -> list[str]:
    """`"key": N` for the usual @[comm] / @[pid] count maps, in one pass."""
    if isinstance(t, StringType):
        return [f'"{json_escape(k)}": {v}' for (k,), v in ordered]
    half, full = KEY_INT_HALF, KEY_INT_FULL
    return [f'"{k - full if k >= half else k}": {v}' for (k,), v in ordered]


@gc_paused
def map_json(name: str, key_types: tuple[Type, ...], value_type: Type,
             entries: list, top: int = 0, div: int = 0, descending: bool = False) -> str:
    """One line for a map, or '' for an empty map (bpftrace prints nothing);
    `descending` as for text.map_text."""
    if not entries:
        return ""
    ordered = ordered_for_print(key_types, value_type, entries, top, descending)
    head = f'{{"type": "{_message_kind(value_type)}", "data": {{{quoted(name)}: '
    if not key_types:
        body = ", ".join(_element(value_type, v, div) for _, v in ordered)
        return head + body + "}}\n"
    if sorts_by_value(value_type) and div <= 1 and len(key_types) == 1 and isinstance(
            key_types[0], (StringType, IntType, BoolType)):
        body = ", ".join(_single_key_elements(key_types[0], ordered))
    else:
        keys = json_keys(key_types, [k for k, _ in ordered])
        body = ", ".join([f"{kt}: {_element(value_type, v, div)}"
                          for kt, (_, v) in zip(keys, ordered)])
    return head + "{" + body + "}}}\n"


def message_json(kind: str, text: str) -> str:
    """printf, time, cat, join, syscall: the text as a JSON string."""
    return f'{{"type": "{kind}", "data": {quoted(text)}}}\n'


def counter_json(kind: str, field: str, n: int) -> str:
    return f'{{"type": "{kind}", "data": {{"{field}": {n}}}}}\n'


def value_json(t: Type, value) -> str:
    return f'{{"type": "value", "data": {json_value(t, value)}}}\n'


def helper_error_json(helper: str, retcode: int, line: int, col: int) -> str:
    # bpftrace 0.17's shape: no message; the helper name is a fixed ASCII text.
    return (f'{{"type": "helper_error", "helper": "{helper}", "retcode": {retcode}, '
            f'"line": {line}, "col": {col}}}\n')
