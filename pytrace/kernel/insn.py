"""A tiny BPF instruction encoder.

Owns the 8-byte `struct bpf_insn` encoding for the handful of instructions that
hand-written test programs and the loader's patching need (moves, 64-bit
immediates including map-fd pseudo loads, memory access, atomics, jumps,
helper calls, exit). Each function returns bytes; `program()` joins them.
"""

from __future__ import annotations

import struct

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

# Instruction classes.
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
# Sizes.
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
SIZES = {1: B, 2: H, 4: W, 8: DW}
# Modes and sources.
IMM, MEM, ATOMIC = 0x00, 0x60, 0xC0
K, X = 0x00, 0x08
# ALU ops.
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0)
# Jump ops.
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, CALL, EXIT, JLT, JLE, JSLT, JSLE = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0)

PSEUDO_MAP_FD = 1


def raw(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    # dst_reg sits in the low nibble on little-endian machines.
    return struct.pack("<BBhi", code, (src << 4) | dst, off, _s32(imm))


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def mov_imm(dst: int, imm: int) -> bytes:
    return raw(ALU64 | MOV | K, dst, imm=imm)


def mov_reg(dst: int, src: int) -> bytes:
    return raw(ALU64 | MOV | X, dst, src)


def alu_imm(op: int, dst: int, imm: int) -> bytes:
    return raw(ALU64 | op | K, dst, imm=imm)


def alu_reg(op: int, dst: int, src: int) -> bytes:
    return raw(ALU64 | op | X, dst, src)


def ld_imm64(dst: int, imm: int, src: int = 0) -> bytes:
    """Two slots: the low 32 bits in the first, the high 32 bits in the second."""
    imm &= 0xFFFFFFFFFFFFFFFF
    return raw(LD | DW | IMM, dst, src, imm=imm & 0xFFFFFFFF) + raw(0, imm=imm >> 32)


def ld_map_fd(dst: int, map_fd: int) -> bytes:
    return ld_imm64(dst, map_fd, src=PSEUDO_MAP_FD)


def ldx(size: int, dst: int, src: int, off: int) -> bytes:
    return raw(LDX | MEM | SIZES[size], dst, src, off)


def stx(size: int, dst: int, off: int, src: int) -> bytes:
    return raw(STX | MEM | SIZES[size], dst, src, off)


def st_imm(size: int, dst: int, off: int, imm: int) -> bytes:
    return raw(ST | MEM | SIZES[size], dst, off=off, imm=imm)


def atomic_add(size: int, dst: int, off: int, src: int) -> bytes:
    """*(dst + off) += src, atomically (size 4 or 8)."""
    return raw(STX | ATOMIC | SIZES[size], dst, src, off, ADD)


def jmp_imm(op: int, dst: int, imm: int, off: int) -> bytes:
    return raw(JMP | op | K, dst, off=off, imm=imm)


def jmp_reg(op: int, dst: int, src: int, off: int) -> bytes:
    return raw(JMP | op | X, dst, src, off)


def ja(off: int) -> bytes:
    return raw(JMP | JA, off=off)


def call(helper: int) -> bytes:
    return raw(JMP | CALL, imm=helper)


def exit_() -> bytes:
    return raw(JMP | EXIT)


def program(*parts: bytes) -> bytes:
    return b"".join(parts)


def count(code: bytes) -> int:
    return len(code) // 8
