"""Instruction lengths of x86-64 machine code: enough to tell whether a uprobe
offset inside a function starts an instruction.

A uprobe placed in the middle of an instruction replaces a byte of it with a
breakpoint: the traced process then runs a different instruction (or
crashes). bpftrace refuses such an offset ("Could not add uprobe into middle
of instruction") after disassembling the function; this module decodes only
the lengths, from the function's first byte on. An encoding it does not know
gives None, and the caller refuses the offset as unverifiable.
"""

from __future__ import annotations

_LEGACY_PREFIXES = frozenset({0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65})

# One-byte opcodes: what follows the opcode. "m": a ModRM operand; "b"/"w"/"z":
# an 8-bit, 16-bit, or 16/32-bit (by operand size) immediate; "" nothing.
# Opcodes missing here are invalid in 64-bit mode or handled apart.
_ONE_BYTE: dict[int, str] = {}
for _base in range(0x00, 0x40, 8):
    _ONE_BYTE.update({_base: "m", _base + 1: "m", _base + 2: "m", _base + 3: "m",
                      _base + 4: "b", _base + 5: "z"})
_ONE_BYTE.update({op: "" for op in range(0x50, 0x60)})
_ONE_BYTE.update({0x63: "m", 0x68: "z", 0x69: "mz", 0x6A: "b", 0x6B: "mb",
                  0x6C: "", 0x6D: "", 0x6E: "", 0x6F: ""})
_ONE_BYTE.update({op: "b" for op in range(0x70, 0x80)})
_ONE_BYTE.update({0x80: "mb", 0x81: "mz", 0x83: "mb"})
_ONE_BYTE.update({op: "m" for op in range(0x84, 0x90)})
_ONE_BYTE.update({op: "" for op in range(0x90, 0xA0) if op != 0x9A})
_ONE_BYTE.update({0xA4: "", 0xA5: "", 0xA6: "", 0xA7: "", 0xA8: "b", 0xA9: "z",
                  0xAA: "", 0xAB: "", 0xAC: "", 0xAD: "", 0xAE: "", 0xAF: ""})
_ONE_BYTE.update({op: "b" for op in range(0xB0, 0xB8)})
_ONE_BYTE.update({0xC0: "mb", 0xC1: "mb", 0xC2: "w", 0xC3: "", 0xC6: "mb", 0xC7: "mz",
                  0xC8: "wb", 0xC9: "", 0xCA: "w", 0xCB: "", 0xCC: "", 0xCD: "b", 0xCF: ""})
_ONE_BYTE.update({0xD0: "m", 0xD1: "m", 0xD2: "m", 0xD3: "m", 0xD7: ""})
_ONE_BYTE.update({op: "m" for op in range(0xD8, 0xE0)})   # x87
_ONE_BYTE.update({op: "b" for op in range(0xE0, 0xE8)})
_ONE_BYTE.update({0xE8: "d", 0xE9: "d", 0xEB: "b", 0xEC: "", 0xED: "", 0xEE: "", 0xEF: ""})
_ONE_BYTE.update({0xF1: "", 0xF4: "", 0xF5: "", 0xF8: "", 0xF9: "", 0xFA: "", 0xFB: "",
                  0xFC: "", 0xFD: "", 0xFE: "m", 0xFF: "m"})

# Two-byte opcodes (0F xx), same letters.
_TWO_BYTE: dict[int, str] = {}
_TWO_BYTE.update({0x00: "m", 0x01: "m", 0x02: "m", 0x03: "m", 0x05: "", 0x06: "", 0x07: "",
                  0x08: "", 0x09: "", 0x0B: "", 0x0D: "m", 0x0E: "", 0x0F: "mb"})
_TWO_BYTE.update({op: "m" for op in range(0x10, 0x24)})
_TWO_BYTE.update({op: "m" for op in range(0x28, 0x30)})
_TWO_BYTE.update({op: "" for op in range(0x30, 0x38)})
_TWO_BYTE.update({op: "m" for op in range(0x40, 0x70)})
_TWO_BYTE.update({0x70: "mb", 0x71: "mb", 0x72: "mb", 0x73: "mb", 0x74: "m", 0x75: "m",
                  0x76: "m", 0x77: "", 0x78: "m", 0x79: "m"})
_TWO_BYTE.update({op: "m" for op in range(0x7C, 0x80)})
_TWO_BYTE.update({op: "d" for op in range(0x80, 0x90)})
_TWO_BYTE.update({op: "m" for op in range(0x90, 0xA0)})
_TWO_BYTE.update({0xA0: "", 0xA1: "", 0xA2: "", 0xA3: "m", 0xA4: "mb", 0xA5: "m",
                  0xA8: "", 0xA9: "", 0xAA: "", 0xAB: "m", 0xAC: "mb", 0xAD: "m",
                  0xAE: "m", 0xAF: "m"})
_TWO_BYTE.update({op: "m" for op in range(0xB0, 0xC0)})
_TWO_BYTE[0xBA] = "mb"
_TWO_BYTE.update({0xC0: "m", 0xC1: "m", 0xC2: "mb", 0xC3: "m", 0xC4: "mb", 0xC5: "mb",
                  0xC6: "mb", 0xC7: "m"})
_TWO_BYTE.update({op: "" for op in range(0xC8, 0xD0)})
_TWO_BYTE.update({op: "m" for op in range(0xD0, 0x100)})

# In VEX/EVEX map 1 (0F), these take an 8-bit immediate after ModRM.
_MAP1_IMM8 = frozenset({0x70, 0x71, 0x72, 0x73, 0xC2, 0xC4, 0xC5, 0xC6})


def instruction_length(code: bytes, at: int) -> int | None:
    """The length of the instruction starting at code[at], or None if it is not
    one this decoder knows (or runs past the end)."""
    try:
        n = _decode(code, at)
    except IndexError:
        return None
    return n if n is not None and at + n <= len(code) else None


def starts_instruction(code: bytes, offset: int) -> bool | None:
    """Whether `offset` into a function's code (which starts at code[0]) is the
    first byte of an instruction: decode from the start up to it. None when an
    unknown encoding comes first."""
    at = 0
    while at < offset:
        n = instruction_length(code, at)
        if n is None:
            return None
        at += n
    return at == offset


def _decode(code: bytes, start: int) -> int | None:
    i = start
    opsize16 = addr32 = False
    while code[i] in _LEGACY_PREFIXES:
        opsize16 |= code[i] == 0x66
        addr32 |= code[i] == 0x67
        i += 1
    rex_w = False
    if 0x40 <= code[i] <= 0x4F:
        rex_w = bool(code[i] & 8)
        i += 1
    op = code[i]
    i += 1
    if op in (0xC4, 0xC5):               # VEX: always VEX in 64-bit mode
        if op == 0xC5:
            opmap, i = 1, i + 1
        else:
            opmap, i = code[i] & 0x1F, i + 2
        return _vex_like(code, i, opmap, start, vzero=True)
    if op == 0x62:                       # EVEX
        opmap = code[i] & 0x07
        return _vex_like(code, i + 3, opmap, start, vzero=False)
    if op == 0x0F:
        op2 = code[i]
        i += 1
        if op2 == 0x38:
            return _modrm_end(code, i + 1) - start
        if op2 == 0x3A:
            return _modrm_end(code, i + 1) + 1 - start
        shape = _TWO_BYTE.get(op2)
    elif 0xB8 <= op <= 0xBF:             # mov reg, imm32 / imm64
        return i + (8 if rex_w else 2 if opsize16 else 4) - start
    elif 0xA0 <= op <= 0xA3:             # mov with a 64-bit (or 32-bit) address
        return i + (4 if addr32 else 8) - start
    elif op in (0xF6, 0xF7):             # test r/m, imm: only /0 and /1 have one
        end = _modrm_end(code, i)
        if (code[i] >> 3) & 7 in (0, 1):
            end += 1 if op == 0xF6 else (2 if opsize16 else 4)
        return end - start
    elif op == 0x8F:                     # pop r/m; other /n are AMD XOP
        if (code[i] >> 3) & 7:
            return None
        return _modrm_end(code, i) - start
    else:
        shape = _ONE_BYTE.get(op)
    if shape is None:
        return None
    if shape.startswith("m"):
        i = _modrm_end(code, i)
        shape = shape[1:]
    for imm in shape:
        i += {"b": 1, "w": 2, "z": 2 if opsize16 else 4, "d": 4}[imm]
    return i - start


def _vex_like(code: bytes, i: int, opmap: int, start: int, vzero: bool) -> int | None:
    """VEX/EVEX: `i` is at the opcode byte after the prefix."""
    if opmap not in (1, 2, 3):
        return None
    op = code[i]
    i += 1
    if vzero and opmap == 1 and op == 0x77:   # vzeroupper/vzeroall: no ModRM
        return i - start
    end = _modrm_end(code, i)
    if opmap == 3 or (opmap == 1 and op in _MAP1_IMM8):
        end += 1
    return end - start


def _modrm_end(code: bytes, i: int) -> int:
    """Past the ModRM byte at code[i], its SIB and its displacement (32- and
    64-bit addressing share the layout)."""
    modrm = code[i]
    i += 1
    mod, rm = modrm >> 6, modrm & 7
    if mod == 3:
        return i
    if rm == 4:
        sib = code[i]
        i += 1
        if mod == 0 and sib & 7 == 5:
            return i + 4
    if mod == 0:
        return i + 4 if rm == 5 else i
    return i + (1 if mod == 1 else 4)
