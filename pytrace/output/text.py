"""bpftrace's text output: values, map keys and whole maps as strings.

Pure functions of decoded values (see values.py) and their types; the sink
decides where the text goes. Rules: OUTPUT.md §2-§7 (checked against the
bpftrace 0.17 binary, including its quirks: ksym/usym values have no element
separator, zeroed histograms print only their header).
"""

from __future__ import annotations

from typing import Callable

from pytrace.output import hist as histfmt
from pytrace.output.sort import average, gc_paused, ordered_for_print, sorts_by_value
from pytrace.output.values import Buffer, Named, Stack, Symbol
from pytrace.types import (
    ArrayType,
    AvgType,
    BoolType,
    BufferType,
    HistType,
    InetType,
    IntType,
    LhistType,
    PointerType,
    RecordType,
    SpecialType,
    StackType,
    StatsType,
    StringType,
    SymbolType,
    TupleType,
    Type,
)

KEY_STACK_INDENT = 4
VALUE_STACK_INDENT = 8
# Integer key fields print as int64 whatever their width (bpftrace widens
# keys to 8 bytes): (uint32)-1 -> 4294967295, (int32)-1 and (uint64)-1 -> -1.
KEY_INT_HALF, KEY_INT_FULL = 1 << 63, 1 << 64


# ---- pieces ------------------------------------------------------------------

def buffer_text(data: bytes) -> str:
    """buf(): printable ASCII as is, every other byte as \\xNN."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E else f"\\x{b:02x}" for b in data)


def address_text(addr: int) -> str:
    # C++ `std::showbase << std::hex` prints 0 without the 0x prefix.
    return f"0x{addr:x}" if addr else "0"


def symbol_text(sym: Symbol) -> str:
    return sym.name if sym.name is not None else address_text(sym.addr)


def stack_text(stack: Stack, indent: int) -> str:
    """A stack starts with a newline and ends each frame with one."""
    out = ["\n"]
    if stack.mode == "raw":
        out.extend(f"{f.addr:x}\n" for f in stack.frames)
    elif stack.mode == "perf":
        for f in stack.frames:
            sym = f"{f.name}+{f.offset}" if f.name is not None else f"0x{f.addr:x}"
            if stack.kernel:
                out.append(f"\t{f.addr:x} {sym}\n")
            else:
                out.append(f"\t{f.addr:x} {sym} ({f.module or '[unknown]'})\n")
    else:
        pad = " " * indent
        for f in stack.frames:
            sym = f"{f.name}+{f.offset}" if f.name is not None else f"0x{f.addr:x}"
            out.append(f"{pad}{sym}\n")
    return "".join(out)


def signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _special_text(value) -> str:
    if isinstance(value, Named):
        return value.text
    if isinstance(value, Symbol):
        return symbol_text(value)
    return str(value)


def value_text(t: Type, value, indent: int = VALUE_STACK_INDENT) -> str:
    """One value as a map value, a print() argument or a printf %s argument."""
    if sorts_by_value(t):  # integers and count/sum/min/max
        return str(int(value))
    if isinstance(t, StringType):
        return value
    if isinstance(t, TupleType):
        return "(" + ", ".join(value_text(et, ev, indent)
                               for et, ev in zip(t.elems, value)) + ")"
    if isinstance(t, PointerType):
        return str(int(value))  # bpftrace 0.17 prints a pointer map value in decimal
    if isinstance(t, StackType):
        return stack_text(value, indent)
    if isinstance(t, SymbolType):
        return symbol_text(value)
    if isinstance(t, BufferType):
        return buffer_text(value.data if isinstance(value, Buffer) else value)
    if isinstance(t, ArrayType):
        return "[" + ",".join(value_text(t.elem, ev, indent) for ev in value) + "]"
    if isinstance(t, RecordType):
        return "{ " + ", ".join(f".{f.name} = {value_text(f.type, value[f.name], indent)}"
                                for f in t.fields) + " }"
    if isinstance(t, SpecialType):
        return _special_text(value)
    if isinstance(value, int):
        return str(value)
    return "" if value is None else str(value)


def key_field_text(t: Type, value) -> str:
    """One key field: integers as int64 decimal."""
    if isinstance(t, (IntType, BoolType)):
        return str(signed(value, 64))
    if isinstance(t, StringType):
        return value
    if isinstance(t, StackType):
        return stack_text(value, KEY_STACK_INDENT)
    if isinstance(t, TupleType):
        return "(" + ", ".join(key_field_text(et, ev)
                               for et, ev in zip(t.elems, value)) + ")"
    if isinstance(t, ArrayType):
        return "[" + ",".join(key_field_text(t.elem, ev) for ev in value) + "]"
    if isinstance(t, RecordType):
        return "{" + ",".join(f".{f.name}={key_field_text(f.type, value[f.name])}"
                              for f in t.fields) + "}"
    return value_text(t, value, KEY_STACK_INDENT)


def key_formatter(key_types: tuple[Type, ...]) -> Callable[[tuple], str]:
    """A function from a key tuple to its `[a, b]` text ('' for keyless maps)."""
    if not key_types:
        return lambda key: ""
    return lambda key: "[" + ", ".join(key_field_text(kt, kv)
                                       for kt, kv in zip(key_types, key)) + "]"


def key_field_texts(t: Type, values: list) -> list[str]:
    """The text of one key field for many keys at once: a list comprehension
    per common type instead of a dispatch per element (100k-key maps)."""
    if isinstance(t, StringType):
        return values
    if isinstance(t, (IntType, BoolType)):
        half, full = KEY_INT_HALF, KEY_INT_FULL
        return [str(v - full if v >= half else v) for v in values]
    return [key_field_text(t, v) for v in values]


def key_texts(key_types: tuple[Type, ...], keys: list) -> list[str]:
    """`[a, b]` for each key tuple, '' for each key of a keyless map."""
    if not key_types:
        return [""] * len(keys)
    if len(key_types) == 1:
        t = key_types[0]
        if isinstance(t, StringType):
            return [f"[{k}]" for (k,) in keys]
        if isinstance(t, (IntType, BoolType)):
            half, full = KEY_INT_HALF, KEY_INT_FULL
            return [f"[{k - full if k >= half else k}]" for (k,) in keys]
    columns = [key_field_texts(t, [k[i] for k in keys]) for i, t in enumerate(key_types)]
    return ["[" + ", ".join(fields) + "]" for fields in zip(*columns)]


def truncating_div(value: int, div: int) -> int:
    # C++ integer division truncates toward zero; Python's // floors.
    if div <= 1:
        return value
    q = abs(value) // div
    return -q if value < 0 else q


def element_separator(value_type: Type) -> str:
    """Stack, ksym/usym and inet values are joined without a newline (their
    text usually ends in one; for ksym/usym bpftrace glues elements together)."""
    if isinstance(value_type, (StackType, SymbolType, InetType)):
        return ""
    if isinstance(value_type, SpecialType) and value_type.kind == "inet":
        return ""
    return "\n"


# ---- whole maps -----------------------------------------------------------------

@gc_paused
def map_text(name: str, key_types: tuple[Type, ...], value_type: Type,
             entries: list, top: int = 0, div: int = 0, descending: bool = False) -> str:
    """What bpftrace prints for a map at exit or for print(@m, top, div),
    trailing blank lines included; entries are (key tuple, value). `descending`:
    pytrace's print_order extension (sort.ordered_for_print)."""
    ordered = ordered_for_print(key_types, value_type, entries, top, descending)
    if isinstance(value_type, (HistType, LhistType, AvgType)):
        keys = key_texts(key_types, [k for k, _ in ordered])
    if isinstance(value_type, (HistType, LhistType)):
        # Each histogram ends with its bucket lines; one blank line per key.
        return "\n".join(f"{name}{kt}: \n{histfmt.hist_text(v.buckets, value_type, div)}"
                         for kt, (_, v) in zip(keys, ordered)) + "\n"
    if isinstance(value_type, StatsType):
        # print()'s top and div are both ignored for stats maps (0.17 warns).
        return "\n".join(f"{name}{kt}: count {v.count}, average "
                         f"{average(v)}, total {v.total}"
                         for kt, (_, v) in zip(keys, ordered)) + "\n\n"
    if isinstance(value_type, AvgType):
        return "\n".join(f"{name}{kt}: {truncating_div(average(v), div)}"
                         for kt, (_, v) in zip(keys, ordered)) + "\n\n"
    sep = element_separator(value_type)
    if sorts_by_value(value_type):
        if div > 1:
            ordered = [(k, truncating_div(v, div)) for k, v in ordered]
        return sep.join(_integer_lines(name, key_types, ordered)) + "\n"
    keys = key_texts(key_types, [k for k, _ in ordered])
    return sep.join([f"{name}{kt}: {value_text(value_type, v)}"
                     for kt, (_, v) in zip(keys, ordered)]) + "\n"


def _integer_lines(name: str, key_types: tuple[Type, ...], ordered: list) -> list[str]:
    """`@m[key]: N` lines, one pass over the entries for the usual key shapes
    (entries sit all over memory after the sort; every extra pass costs)."""
    if not key_types:
        return [f"{name}: {v}" for _, v in ordered]
    if len(key_types) == 1:
        t = key_types[0]
        if isinstance(t, StringType):
            return [f"{name}[{k}]: {v}" for (k,), v in ordered]
        if isinstance(t, (IntType, BoolType)):
            half, full = KEY_INT_HALF, KEY_INT_FULL
            return [f"{name}[{k - full if k >= half else k}]: {v}" for (k,), v in ordered]
    keys = key_texts(key_types, [k for k, _ in ordered])
    return [f"{name}{kt}: {v}" for kt, (_, v) in zip(keys, ordered)]


def print_value_text(t: Type, value) -> str:
    """print(value): the value then a newline."""
    return value_text(t, value) + "\n"


__all__ = [
    "address_text", "buffer_text", "element_separator",
    "key_field_text", "key_field_texts", "key_formatter", "key_texts", "map_text", "print_value_text", "signed",
    "stack_text", "symbol_text", "value_text",
]
