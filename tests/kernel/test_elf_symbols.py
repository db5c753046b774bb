"""User-space symbols: the file offsets uprobes attach at (libc, PIE and
non-PIE test programs), library name resolution, and turning a running
process's addresses back into function+offset."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pytrace.kernel import elf_symbols as es
from pytrace.target.files import LocalFiles
from tests.helpers.cbuild import build_c, require_gcc

TARGET = LocalFiles()

PROGRAM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int pytrace_fn_add(int a, int b) { return a + b * 3; }
__attribute__((noinline)) int pytrace_fn_mul(int a, int b) { return a * b + 1; }

int main(int argc, char **argv) {
    printf("%d %p %p %p\n", getpid(), (void *)pytrace_fn_add, (void *)pytrace_fn_mul,
           dlsym(RTLD_DEFAULT, "getpid"));
    fflush(stdout);
    char c;
    if (read(0, &c, 1) < 0) return 1;  /* wait until the test has looked */
    return pytrace_fn_add(argc, 2) + pytrace_fn_mul(argc, 3) > 0 ? 0 : 1;
}
"""


def readelf_offset(path: str, name: str) -> int:
    """File offset of `name` computed from readelf's own output, independently
    of pyelftools: st_value mapped through the containing LOAD segment."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    syms = subprocess.run(["readelf", "-Ws", path], capture_output=True, text=True,
                          check=True).stdout
    value = None
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[3] == "FUNC" and parts[6] != "UND" and \
                parts[7].split("@")[0] == name:
            value = int(parts[1], 16)
            break
    assert value is not None, f"readelf lists no {name} in {path}"
    segs = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                          check=True).stdout
    for m in re.finditer(r"LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+"
                         r"0x([0-9a-f]+)", segs):
        offset, vaddr, filesz = (int(g, 16) for g in m.groups())
        if vaddr <= value < vaddr + filesz:
            return value - vaddr + offset
    raise AssertionError(f"{name} at 0x{value:x} is in no LOAD segment")


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    require_gcc()
    out = tmp_path_factory.mktemp("elf")
    return {"pie": build_c(PROGRAM, out, "prog_pie", ("-O1", "-fPIE", "-pie", "-ldl")),
            "nopie": build_c(PROGRAM, out, "prog_nopie", ("-O1", "-fno-pie", "-no-pie", "-ldl"))}


def test_libc_symbol_resolves_to_uprobe_offset():
    libc = es.resolve_binary(TARGET, "libc")
    assert os.path.basename(libc).startswith("libc.so")
    assert es.resolve_binary(TARGET, "libc.so.6") == libc
    assert es.resolve_binary(TARGET, "c") == libc
    syms = es.ElfSymbols.load(TARGET, libc)
    assert syms.is_pie  # shared objects are ET_DYN
    for name in ("getpid", "malloc"):
        assert syms.uprobe_offset(name) == readelf_offset(libc, name)
        assert syms.lookup(name).is_function


@pytest.mark.parametrize("kind", ["pie", "nopie"])
def test_program_symbols_resolve_to_uprobe_offsets(programs, kind):
    path = str(programs[kind])
    syms = es.ElfSymbols.load(TARGET, path)
    assert syms.is_pie == (kind == "pie")
    for name in ("pytrace_fn_add", "pytrace_fn_mul", "main"):
        assert syms.uprobe_offset(name) == readelf_offset(path, name)
    if kind == "nopie":
        # Absolute addresses: the offset is NOT the symbol value.
        sym = syms.lookup("pytrace_fn_add")
        assert sym.address >= 0x400000 and syms.uprobe_offset("pytrace_fn_add") < sym.address
    names = [s.name for s in syms.functions("pytrace_fn_*")]
    assert sorted(names) == ["pytrace_fn_add", "pytrace_fn_mul"]
    with pytest.raises(es.SymbolError, match="no symbol"):
        syms.uprobe_offset("no_such_function")


@pytest.mark.parametrize("kind", ["pie", "nopie"])
def test_running_process_addresses_symbolize(programs, kind):
    child = subprocess.Popen([str(programs[kind])], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        pid_s, add_s, mul_s, getpid_s = child.stdout.readline().split()
        pid = int(pid_s)
        assert pid == child.pid
        add, mul, getpid = int(add_s, 16), int(mul_s, 16), int(getpid_s, 16)
        sym = es.UserSymbolizer(TARGET, pid)
        assert sym.symbolize(add) == "pytrace_fn_add+0"
        assert sym.symbolize(add + 3) == "pytrace_fn_add+3"
        assert sym.symbolize(mul, with_offset=False) == "pytrace_fn_mul"
        assert sym.symbolize(getpid) == "getpid+0"
        assert sym.resolve(getpid)[2].endswith(os.path.basename(es.resolve_binary(TARGET, "libc")))
        assert sym.symbolize(8) == "0x8"
        # A library name resolves through the process's own mappings.
        in_proc = es.resolve_binary(TARGET, "libc", pid=pid)
        assert in_proc.startswith(f"/proc/{pid}/root/") and "libc.so" in in_proc
    finally:
        child.stdin.write("x")
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


def test_deleted_binary_still_symbolizes(tmp_path):
    exe = build_c(PROGRAM, tmp_path, "prog_deleted", ("-O1", "-ldl"))
    child = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid, add = (int(x, 0) for x in child.stdout.readline().split()[:2])
        exe.unlink()  # an upgraded package leaves running programs like this
        sym = es.UserSymbolizer(TARGET, pid)
        assert sym.symbolize(add + 1) == "pytrace_fn_add+1"
    finally:
        child.stdin.write("x")
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


def test_ld_so_cache_matches_ldconfig():
    if shutil.which("ldconfig") is None or not os.path.exists(es.LD_SO_CACHE):
        pytest.skip("no ldconfig / ld.so.cache")
    entries = es.parse_ld_so_cache(TARGET.read_file(es.LD_SO_CACHE))
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    expected = [(m.group(1), m.group(2)) for m in
                re.finditer(r"^\s+(\S+) \(.*?\) => (\S+)$", out, re.M)]
    assert [(e.soname, e.path) for e in entries] == expected


def test_binaries_by_name_and_missing_ones():
    assert es.resolve_binary(TARGET, "sh").endswith("/sh")
    with pytest.raises(es.SymbolError, match="could not find"):
        es.resolve_binary(TARGET, "no_such_library_xyz")
    with pytest.raises(es.SymbolError, match="no such file"):
        es.resolve_binary(TARGET, "/no/such/binary")
    with pytest.raises(es.SymbolError, match="not a readable ELF"):
        es.ElfSymbols(b"#!/bin/sh\necho hi\n" * 10, "script.sh")


def test_library_name_rules():
    m = es._library_name_matches
    assert m("libc", "libc.so.6") and m("c", "libc.so.6") and m("libc.so", "libc.so.6")
    assert m("libc", "libc-2.31.so")
    assert not m("libc", "libcap.so.2")
    assert not m("libc", "libc.a")


def test_parse_maps():
    text = ("55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234   /usr/bin/my prog\n"
            "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
            "7f0000100000-7f0000200000 r-xp 00028000 08:01 99 /lib/libc.so.6 (deleted)\n"
            "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0          [stack]\n")
    maps = es.parse_maps(text)
    assert maps[0].path == "/usr/bin/my prog" and maps[0].is_file
    assert maps[1].path == "" and not maps[1].is_file
    assert maps[2].offset == 0x28000 and maps[2].perms == "r-xp"
    assert maps[3].path == "[stack]" and not maps[3].is_file
