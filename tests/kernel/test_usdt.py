"""USDT probes found in a C program built with <sys/sdt.h>: provider, name,
uprobe offset, semaphore offset and typed arguments, cross-checked against
readelf's decoding of the same notes (and bpftrace's listing when present)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pytrace.kernel import usdt
from pytrace.target.files import LocalFiles
from tests.helpers.cbuild import build_c, require_header

TARGET = LocalFiles()

MAIN = r"""
#include <sys/sdt.h>
#include <stdio.h>
void guarded(int);
int main(int argc, char **argv) {
    int intvar = argc + 41;
    long longvar = argc * 1000L;
    DTRACE_PROBE2(myprov, myprobe, intvar, longvar);
    STAP_PROBE2(myprov, withconst, (short)argc, 5);
    guarded(argc);
    printf("%d %ld\n", intvar, longvar);
    fflush(stdout);
    if (argc > 1) {  /* "wait": stay alive until stdin closes */
        char c;
        return fread(&c, 1, 1, stdin) > 1;
    }
    return 0;
}
"""

# Semaphores are a per-translation-unit choice in sdt.h, so the guarded probe
# lives in its own file.
GUARDED = r"""
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short myprov_guarded_semaphore __attribute__((unused))
    __attribute__((section(".probes")));
void guarded(int x) {
    if (myprov_guarded_semaphore)
        STAP_PROBE1(myprov, guarded, x);
}
"""


@pytest.fixture(scope="module", params=["-O2", "-O0"])
def program(request, tmp_path_factory):
    require_header("sys/sdt.h")
    out = tmp_path_factory.mktemp("usdt")
    return str(build_c(MAIN, out, "usdt_prog", (request.param, "-g"),
                       extra_sources={"guarded.c": GUARDED}))


def readelf_notes(path):
    """(provider, name, pc, semaphore, args) of each stapsdt note per readelf -n."""
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    text = subprocess.run(["readelf", "-nW", path], capture_output=True, text=True,
                          check=True).stdout
    notes = []
    for m in re.finditer(r"Provider: (\S+)\s+Name: (\S+)\s+Location: 0x([0-9a-f]+), "
                         r"Base: 0x[0-9a-f]+, Semaphore: 0x([0-9a-f]+)\s+Arguments: ?([^\n]*)",
                         text):
        notes.append((m.group(1), m.group(2), int(m.group(3), 16), int(m.group(4), 16),
                      m.group(5).strip()))
    return notes


def readelf_file_offset(path, vaddr):
    segs = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True,
                          check=True).stdout
    for m in re.finditer(r"LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+"
                         r"0x([0-9a-f]+)\s+0x([0-9a-f]+)", segs):
        offset, seg_vaddr, _filesz, memsz = (int(g, 16) for g in m.groups())
        if seg_vaddr <= vaddr < seg_vaddr + memsz:
            return vaddr - seg_vaddr + offset
    raise AssertionError(f"0x{vaddr:x} in no LOAD segment")


def readelf_symbol(path, name):
    syms = subprocess.run(["readelf", "-Ws", path], capture_output=True, text=True,
                          check=True).stdout
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[7] == name:
            return int(parts[1], 16)
    raise AssertionError(f"no symbol {name}")


def test_probes_found_with_provider_name_and_offsets(program):
    probes = usdt.load_probes(TARGET, program)
    ours = [(p.provider, p.name, p.pc, p.semaphore, p.arg_spec) for p in probes]
    assert ours == readelf_notes(program)
    assert {(p.provider, p.name) for p in probes} == \
        {("myprov", "myprobe"), ("myprov", "withconst"), ("myprov", "guarded")}
    for p in probes:
        assert p.file_offset == readelf_file_offset(program, p.pc)
        assert p.path == program


def test_plain_probe_arguments(program):
    (probe,) = usdt.match_probes(usdt.load_probes(TARGET, program), "myprov", "myprobe")
    assert not probe.has_semaphore and probe.semaphore_offset == 0
    intvar, longvar = probe.args
    assert (intvar.size, intvar.signed) == (4, True)
    assert (longvar.size, longvar.signed) == (8, True)
    for arg in probe.args:
        # -O2 keeps them in registers, -O0 on the stack; either way the
        # location names a real pt_regs slot.
        assert arg.kind in ("reg", "mem")
        assert arg.reg in usdt.REGISTERS["EM_X86_64"] and arg.reg_offset >= 0
        if arg.kind == "mem":
            assert arg.reg in ("rbp", "rsp")


def test_constant_argument(program):
    (probe,) = usdt.match_probes(usdt.load_probes(TARGET, program), "*", "withconst")
    short_arg, const_arg = probe.args
    assert (short_arg.size, short_arg.signed) == (2, True)
    assert (const_arg.kind, const_arg.offset, const_arg.size) == ("const", 5, 4)


def test_semaphore_offset_for_ref_ctr(program):
    (probe,) = usdt.match_probes(usdt.load_probes(TARGET, program), "myprov", "guarded")
    assert probe.has_semaphore
    sema_vaddr = readelf_symbol(program, "myprov_guarded_semaphore")
    assert probe.semaphore == sema_vaddr
    assert probe.semaphore_offset == readelf_file_offset(program, sema_vaddr)
    (arg,) = probe.args
    assert (arg.size, arg.signed) == (4, True)


def test_wildcards_and_bpftrace_listing(program):
    probes = usdt.load_probes(TARGET, program)
    assert len(usdt.match_probes(probes, "myprov", "*")) == 3
    assert [p.name for p in usdt.match_probes(probes, "*", "my*")] == ["myprobe"]
    assert usdt.match_probes(probes, "other", "*") == []
    if shutil.which("bpftrace") is None:
        return
    listed = subprocess.run(["bpftrace", "-l", f"usdt:{program}:*"], capture_output=True,
                            text=True, timeout=60).stdout.split()
    assert sorted(listed) == sorted(f"usdt:{program}:{p.provider}:{p.name}" for p in probes)


def test_probes_of_a_running_process(program):
    child = subprocess.Popen([program, "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # the program is running and fully mapped
        probes = usdt.load_process_probes(TARGET, child.pid)
        names = sorted(p.name for p in probes if p.provider == "myprov")
        assert names == ["guarded", "myprobe", "withconst"]
        assert all(p.path.startswith(f"/proc/{child.pid}/root/") for p in probes)
    finally:
        child.stdin.close()
        child.wait(timeout=10)
        child.stdout.close()


def test_binary_without_notes(tmp_path):
    require_header("stdio.h")
    plain = build_c("int main(void) { return 0; }\n", tmp_path, "plain")
    assert usdt.load_probes(TARGET, str(plain)) == []


@pytest.mark.parametrize("spec, expected", [
    ("-4@%edi", ("reg", "rdi", 112, 0, 4, True)),
    ("8@%rax", ("reg", "rax", 80, 0, 8, False)),
    ("1@%al", ("reg", "rax", 80, 0, 1, False)),
    ("1@%ah", ("reg", "rax", 81, 0, 1, False)),
    ("-2@%r9w", ("reg", "r9", 64, 0, 2, True)),
    ("8@-16(%rbp)", ("mem", "rbp", 32, -16, 8, False)),
    ("-4@0x10(%rsp)", ("mem", "rsp", 152, 16, 4, True)),
    ("4@$5", ("const", "", -1, 5, 4, False)),
    ("-8@$-3", ("const", "", -1, -3, 8, True)),
])
def test_x86_64_arg_specs(spec, expected):
    a = usdt.parse_arg(spec)
    assert (a.kind, a.reg, a.reg_offset, a.offset, a.size, a.signed) == expected


def test_x86_64_indexed_and_rip_relative():
    a = usdt.parse_arg("8@(%rsp,%rdx,8)")
    assert (a.kind, a.reg, a.index_reg, a.index_reg_offset, a.scale) == \
        ("mem", "rsp", "rdx", 96, 8)
    b = usdt.parse_arg("-4@counter+8(%rip)")
    assert (b.kind, b.reg, b.symbol, b.offset) == ("mem", "rip", "counter", 8)
    c = usdt.parse_args("-4@%edi  8@-16(%rbp) 4@$5")
    assert [x.kind for x in c] == ["reg", "mem", "const"]


def test_aarch64_arg_specs():
    args = usdt.parse_args("8@x0 -4@w1 4@[sp, 12] -4@[x29, -12] 8@[x2] -4@5", "EM_AARCH64")
    got = [(a.kind, a.reg, a.reg_offset, a.offset, a.size, a.signed) for a in args]
    assert got == [("reg", "x0", 0, 0, 8, False), ("reg", "x1", 8, 0, 4, True),
                   ("mem", "sp", 248, 12, 4, False), ("mem", "x29", 232, -12, 4, True),
                   ("mem", "x2", 16, 0, 8, False), ("const", "", -1, 5, 4, True)]


def test_bad_specs_are_clear_errors():
    with pytest.raises(usdt.UsdtError, match="unknown register"):
        usdt.parse_arg("8@%xmm0")
    with pytest.raises(usdt.UsdtError, match="cannot parse"):
        usdt.parse_arg("8@what?")
    with pytest.raises(usdt.UsdtError, match="not supported"):
        usdt.parse_arg("8@r1", "EM_RISCV")
