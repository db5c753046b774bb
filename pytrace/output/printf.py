"""printf(): bpftrace's format specifiers applied to decoded arguments.

bpftrace (0.17, the oracle here) recognises `%[-][width][.prec]` followed by
d u x X o (with length modifiers hh h l ll j z t), p (with l ll), s, c or r
(buffers: printable bytes as is, others \\xNN; rx: every byte \\xNN; rh: every
byte as two hex digits, space separated), and splits the format after each such
specifier. Each piece is handed to C snprintf with its one argument, so `%%`
becomes `%` in a piece that ends with a specifier, while text after the last
specifier (and a format with no specifier at all) is printed as written. Integers travel as 64-bit values;
without a length modifier C reads the low 32 bits, with h/hh the low 16/8.
Anything else with a `%` (`%i`, `%+d`, `%#x`, `%f`) is plain text to 0.17.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from pytrace.output.text import buffer_text, value_text
from pytrace.output.values import Buffer
from pytrace.types import BufferType, IntType, StringType, Type

SPECIFIER = re.compile(
    r"%(-?)([0-9]*)(?:\.([0-9]+))?"
    r"(?:(hh|h|ll|l|j|z|t)?([duxXo])|(?:ll|l)?(p)|(r[xh]?|[sc]))")

# Wider fields are refused when compiling: C's printf fails past INT_MAX (bpftrace
# then stops at run time), and a gigabyte of padding per line helps no one.
MAX_FIELD = 1_000_000

_BITS = {None: 32, "h": 16, "hh": 8, "l": 64, "ll": 64, "j": 64, "z": 64, "t": 64}
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Spec:
    left: bool
    zero: bool
    width: int
    precision: int | None
    conversion: str  # d u x X o p s c r rx rh
    bits: int


@dataclass(frozen=True)
class ParsedFormat:
    # Text before a specifier and the specifier (None: the text took it as `%%`).
    pieces: tuple[tuple[str, Spec | None], ...]
    tail: str                              # text after the last specifier

    @property
    def arg_count(self) -> int:
        return len(self.pieces)


# What C snprintf sees in one piece: any conversion, `%%` and `%5%` included.
_C_CONVERSION = re.compile(r"%[-+ #0]*[0-9]*(?:\.[0-9]*)?(?:hh|h|ll|l|j|z|t|L|q)?([a-zA-Z%])")


def _c_scan(piece: str, spec_start: int) -> tuple[str, bool]:
    """The literal text snprintf makes of `piece` before its argument, and
    whether the argument is used by the specifier at spec_start (a `%` just
    before it pairs with the specifier's own `%`: `%%d` prints `%d`)."""
    out, i = [], 0
    while True:
        j = piece.find("%", i)
        if j < 0:
            out.append(piece[i:])
            return "".join(out), False
        out.append(piece[i:j])
        m = _C_CONVERSION.match(piece, j)
        if m is None:
            out.append("%")
            i = j + 1
        elif j == spec_start:
            return "".join(out), True
        elif m.group(1) == "%":
            out.append("%")
            i = m.end()
        else:
            # A conversion bpftrace does not know (%i, %+d) would eat the
            # argument in C and read garbage for the next; print it as written.
            out.append(m.group(0))
            i = m.end()


@lru_cache(maxsize=1024)
def parse_format(fmt: str) -> ParsedFormat:
    pieces, pos = [], 0
    for m in SPECIFIER.finditer(fmt):
        left, width, prec, length, int_conv, p_conv, other = m.groups()
        conv = int_conv or p_conv or other
        bits = _BITS[length] if int_conv else 64
        spec = Spec(left=bool(left), zero=width.startswith("0"), width=_field(width or "0"),
                    precision=_field(prec) if prec is not None else None,
                    conversion=conv, bits=bits)
        text, used = _c_scan(fmt[pos:m.end()], m.start() - pos)
        pieces.append((text, spec if used else None))
        pos = m.end()
    return ParsedFormat(tuple(pieces), fmt[pos:])


def _field(digits: str) -> int:
    # int() refuses 4300+ digits; anything past 12 is over MAX_FIELD anyway.
    return int(digits) if len(digits.lstrip("0")) <= 12 else 10 ** 12


def _pad(body: str, spec: Spec, numeric_sign: str = "") -> str:
    if spec.left:
        return (numeric_sign + body).ljust(spec.width)
    if spec.zero and spec.precision is None and spec.conversion not in "scp":
        return numeric_sign + body.rjust(spec.width - len(numeric_sign), "0")
    return (numeric_sign + body).rjust(spec.width)


def format_integer(value: int, spec: Spec) -> str:
    bits = spec.bits
    raw = (value & _MASK64) & ((1 << bits) - 1)
    sign = ""
    conv = spec.conversion
    if conv == "d":
        if raw >> (bits - 1):
            raw = (1 << bits) - raw
            sign = "-"
        digits = str(raw)
    elif conv == "u":
        digits = str(raw)
    elif conv == "x":
        digits = f"{raw:x}"
    elif conv == "X":
        digits = f"{raw:X}"
    else:  # o
        digits = f"{raw:o}"
    if spec.precision is not None:
        digits = "" if spec.precision == 0 and raw == 0 else digits.rjust(spec.precision, "0")
    return _pad(digits, spec, sign)


def _string_bytes(text: str, spec: Spec) -> str:
    if spec.precision is None and spec.width == 0:
        return text
    if text.isascii():
        if spec.precision is not None:
            text = text[:spec.precision]
        return _pad(text, spec)
    # Width and precision count bytes, as C does.
    data = text.encode("utf-8", "surrogateescape")
    if spec.precision is not None:
        data = data[:spec.precision]
    fill = b" " * max(0, spec.width - len(data))
    data = data + fill if spec.left else fill + data
    return data.decode("utf-8", "surrogateescape")


def _char(value: int) -> str:
    b = value & 0xFF
    return chr(b) if b < 0x80 else chr(0xDC00 + b)  # surrogateescape for high bytes


def format_arg(spec: Spec, t: Type | None, value) -> str:
    conv = spec.conversion
    if conv in "duxXo":
        return format_integer(int(value), spec)
    if conv in ("rx", "rh"):
        data = value.data if isinstance(value, Buffer) else bytes(value)
        text = "".join(f"\\x{b:02x}" for b in data) if conv == "rx" else \
            " ".join(f"{b:02x}" for b in data)
        return _string_bytes(text, spec)
    if conv == "s" or conv == "r":
        if isinstance(t, StringType) or isinstance(value, str):
            text = value
        elif isinstance(t, BufferType) or isinstance(value, (Buffer, bytes)):
            text = buffer_text(value.data if isinstance(value, Buffer) else value)
        else:
            text = value_text(t, value) if t is not None else str(value)
        return _string_bytes(text, spec)
    if conv == "c":
        # A NUL character ends the C string snprintf produced for this piece.
        out = _pad(_char(int(value)), spec)
        cut = out.find("\0")
        return out if cut < 0 else out[:cut]
    # p: glibc prints (nil) for NULL, else 0x + hex digits.
    addr = int(value) & _MASK64
    if addr == 0:
        return _pad("(nil)", spec)
    digits = f"{addr:x}"
    if spec.precision is not None:
        digits = digits.rjust(spec.precision, "0")
    return _pad("0x" + digits, spec)


def format_printf(fmt: str, args: list[tuple[Type, object]]) -> str:
    """The text printf(fmt, args...) writes; args are (type, decoded value)."""
    parsed = parse_format(fmt)
    if not parsed.pieces:
        return fmt
    out = []
    for (text, spec), arg in zip(parsed.pieces, args):
        t, value = arg
        out.append(text)
        if spec is not None:
            out.append(format_arg(spec, t, value))
    out.append(parsed.tail)
    return "".join(out)


# ---- printf bound once per action -------------------------------------------------
# printf runs per event, at hundreds of thousands of lines a second. Binding
# resolves every quirk above for the argument types an action has, once: the
# result formats a decoded argument tuple with one Python %-format whose
# operands are the values themselves or a masking expression. Specifiers whose
# C behaviour %-formatting does not share (precision, byte-counted string
# widths, %c, %p, non-integer arguments) keep going through format_arg.

def _python_spec(spec: Spec) -> str:
    conv = "d" if spec.conversion in "du" else spec.conversion
    return ("%" + ("-" if spec.left else "") + ("0" if spec.zero else "")
            + (str(spec.width) if spec.width else "") + conv)


def _int_operand(spec: Spec, t: IntType, name: str) -> str:
    """A Python expression over `name` giving what C prints for this integer."""
    bits = spec.bits
    if spec.conversion == "d":
        if t.bits < bits or (t.signed and t.bits == bits):
            return name
        half = 1 << (bits - 1)
        return f"((({name}) + {half}) & {(1 << bits) - 1}) - {half}"
    if not t.signed and t.bits <= bits:
        return name
    return f"({name}) & {(1 << bits) - 1}"


def bind_printf(fmt: str, types: tuple[Type, ...],
                raw_strings: bool = False) -> Callable[[tuple], str]:
    """A function (decoded values,) -> the text printf(fmt, values...) writes,
    for arguments of `types`; the same text as format_printf, built once.

    With raw_strings, string arguments arrive as their NUL-padded bytes (as a
    struct unpack gives them) and are cut and decoded inside the function.
    """
    parsed = parse_format(fmt)
    if not parsed.pieces:
        return lambda values: fmt
    template, operands, slow = [], [], {}
    for i, ((text, spec), t) in enumerate(zip(parsed.pieces, types)):
        template.append(text.replace("%", "%%"))
        if spec is None:
            continue  # `%%d`: the argument is consumed and not printed
        name = f"v[{i}]"
        if raw_strings and isinstance(t, StringType):
            # Anything after the first NUL is stale (see runtime.decode).
            name = f'v[{i}].partition(b"\\0")[0].decode("utf-8", "surrogateescape")'
        if (isinstance(t, IntType) and spec.conversion in "duxXo"
                and spec.precision is None):
            template.append(_python_spec(spec))
            operands.append(_int_operand(spec, t, name))
        elif (isinstance(t, StringType) and spec.conversion == "s"
                and spec.precision is None and spec.width == 0):
            template.append("%s")
            operands.append(name)
        else:
            slow[f"f{i}"] = functools.partial(format_arg, spec, t)
            template.append("%s")
            operands.append(f"f{i}({name})")
    template.append(parsed.tail.replace("%", "%%"))
    # Only indices, integer constants and the names above go into the source.
    source = f"lambda v: _template % ({''.join(op + ', ' for op in operands)})"
    return eval(source, {"_template": "".join(template), **slow})  # noqa: S307
