"""x86-64 instruction lengths, checked against objdump's disassembly of the
machine's own libc and bash (every function of a sample, vector code included)."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess

import pytest

from pytrace.kernel.elf_symbols import ElfSymbols
from pytrace.probes.x86_insn import instruction_length, starts_instruction
from pytrace.target.local import LocalTarget

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64" or not shutil.which("objdump"),
                                reason="needs x86-64 and objdump")

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def objdump_starts(path: str, address: int, size: int) -> list[int]:
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn",
                          f"--start-address={address}", f"--stop-address={address + size}",
                          path], capture_output=True, text=True, check=True).stdout
    return [int(m.group(1), 16) - address for m in re.finditer(r"^\s*([0-9a-f]+):\s", out, re.M)]


def decoded_starts(code: bytes) -> list[int]:
    starts, at = [], 0
    while at < len(code):
        starts.append(at)
        n = instruction_length(code, at)
        assert n is not None, f"unknown encoding {code[at:at + 8].hex()}"
        at += n
    return starts


def sample(path: str) -> list:
    syms = ElfSymbols.load(LocalTarget(), path)
    funcs = [s for s in syms.functions("*") if s.size > 0]
    # Every 8th function, and all the hand-written vector ones (AVX2, EVEX).
    picked = funcs[::8] + [s for s in funcs if re.search(r"avx|evex|sse", s.name)][:150]
    return [(syms, s) for s in picked]


@pytest.mark.parametrize("path", [LIBC, "/bin/bash"])
def test_instruction_boundaries_match_objdump(path):
    data = open(path, "rb").read()
    checked = 0
    for syms, s in sample(path):
        start = syms.file_offset(s.address)
        code = data[start:start + s.size]
        assert decoded_starts(code) == objdump_starts(path, s.address, s.size), s.name
        checked += 1
    assert checked > 50


def test_starts_instruction_walks_from_the_function_start():
    # endbr64; push %rbp; mov %rsp,%rbp; mov $0x1,%eax (5 bytes); ret
    code = bytes.fromhex("f30f1efa" "55" "4889e5" "b801000000" "c3")
    assert [starts_instruction(code, n) for n in (0, 4, 5, 8, 13)] == [True] * 5
    assert [starts_instruction(code, n) for n in (1, 2, 6, 9, 12)] == [False] * 5


def test_an_unknown_encoding_is_none():
    assert instruction_length(bytes([0x06]), 0) is None       # push %es: not in 64-bit mode
    assert starts_instruction(bytes([0x06, 0x90]), 1) is None
    assert instruction_length(bytes([0xE8, 0, 0]), 0) is None  # cut short
