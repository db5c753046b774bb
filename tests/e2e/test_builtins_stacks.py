"""kstack, ustack, ksym and usym on the real kernel, checked against independent sources.

Kernel frames must be functions /proc/kallsyms lists (and in perf mode, the
printed address must be that symbol's address plus the printed offset). User
frames come from a C program built here with nested noinline functions and
frame pointers; names, offsets and addresses are checked against nm.
Exact text for stable cases lives in oneliners_stacks.json (recorded from
bpftrace 0.17).
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from pytrace.cli import main
from pytrace.diagnostics import PytraceError
from pytrace.session import trace_output
from tests.helpers.cbuild import build_c
from tests.probes.harness import uprobe_events

pytestmark = pytest.mark.kernel

HERE = Path(__file__).parent
GETPPID = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ "
# `@name[` + one frame per line + `]: count`, as maps with a stack key print.
STACK_ENTRY = re.compile(r"^(@\w*)\[\n(.*?)\]: (\d+)$", re.M | re.S)

NESTED_C = r"""
#include <stdlib.h>
#include <unistd.h>
#define KEEP __asm__ volatile("" ::: "memory")
__attribute__((noinline)) int leaf(int x) { KEEP; return x + 1; }
__attribute__((noinline)) int middle(int x) { int r = leaf(x) * 2; KEEP; return r; }
__attribute__((noinline)) int outer(int x) { int r = middle(x) + 3; KEEP; return r; }
__attribute__((noinline)) int take(int (*f)(int)) { int r = f(1); KEEP; return r; }
__attribute__((noinline)) void done(void) { KEEP; }
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;
    for (int i = 0; i < n; i++)
        s += outer(i) + take(leaf);
    done();
    pause();  /* alive while the tracer prints, so its maps can be read */
    return s;
}
"""
# push %rbp; mov %rsp,%rbp: a probe after these sees the caller's frame linked.
PROLOGUE = bytes.fromhex("554889e5")


@pytest.fixture(scope="module")
def kallsyms() -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    with open("/proc/kallsyms") as f:
        for line in f:
            addr, _kind, name = line.split()[:3]
            out[name].append(int(addr, 16))
    return out


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    source = (HERE / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))


@pytest.fixture(scope="module")
def nested(tmp_path_factory) -> tuple[str, dict[str, tuple[int, int]]]:
    exe = build_c(NESTED_C, tmp_path_factory.mktemp("nested"), "nested",
                  flags=("-O0", "-g", "-fno-omit-frame-pointer", "-fcf-protection=none"))
    nm = subprocess.run(["nm", "-S", str(exe)], capture_output=True, text=True, check=True)
    syms = {}
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt":
            syms[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return str(exe), syms


@pytest.fixture(autouse=True)
def no_uprobes_left():
    yield
    assert uprobe_events() == ""


def run(argv: list[str], capfd) -> str:
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 0, err
    return out


def stack_entries(out: str) -> dict[str, list[tuple[list[str], int]]]:
    """Map name -> [(frame lines without indentation, count)]."""
    entries = defaultdict(list)
    for name, body, count in STACK_ENTRY.findall(out):
        entries[name].append((body.splitlines(), int(count)))
    return entries


def libc_debug_file() -> str | None:
    """libc's separate debug file (by build id), if installed."""
    notes = subprocess.run(["readelf", "-n", "/lib/x86_64-linux-gnu/libc.so.6"],
                           capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", notes)
    if not m:
        return None
    path = Path(f"/usr/lib/debug/.build-id/{m[1][:2]}/{m[1][2:]}.debug")
    return str(path) if path.exists() else None


def split_frame(text: str) -> tuple[str, int]:
    if text.startswith("0x"):  # unresolved (libc without symbols): hex address
        return text, 0
    name, _, off = text.rpartition("+")
    return name, int(off)


# ---- kstack ----------------------------------------------------------------------

def test_kstack_keys_are_kernel_functions_on_the_syscall_entry_path(wl, kallsyms, capfd):
    out = run(["-c", f"{wl} getppid 3", "-e", GETPPID +
               "{ @[kstack] = count(); @p[kstack(perf)] = count(); @two[kstack(2)] = count(); }"],
              capfd)
    entries = stack_entries(out)
    assert sum(c for _, c in entries["@"]) == 3
    for name in ("@", "@p", "@two"):
        assert sum(c for _, c in entries[name]) == 3

    frames, _ = entries["@"][0]
    assert all(line.startswith("    ") and not line.startswith("     ") for line in frames)
    names = [split_frame(line.strip())[0] for line in frames]
    assert all(n in kallsyms for n in names), names
    assert "do_syscall_64" in names
    assert any(n.startswith("entry_SYSCALL_64") for n in names)

    # perf mode: tab, hex address, symbol+offset; the address is the symbol's + offset.
    perf_frames, _ = entries["@p"][0]
    perf_names = []
    for line in perf_frames:
        m = re.fullmatch(r"\t([0-9a-f]+) (\S+)\+(\d+)", line)
        assert m, line
        addr, sym, off = int(m[1], 16), m[2], int(m[3])
        assert addr - off in kallsyms[sym]
        perf_names.append(sym)
    assert perf_names == names

    # kstack(2): the first two frames of the same stack.
    two, _ = entries["@two"][0]
    assert [line.strip() for line in two] == [line.strip() for line in frames[:2]]


def test_kstack_as_printf_argument_and_print_value_indents_8(wl, kallsyms, capfd):
    out = run(["-c", f"{wl} getppid 1", "-e", GETPPID +
               '{ printf("<%s>\\n", kstack(3)); print(kstack(raw, 2)); }'], capfd)
    lines = out.splitlines()
    start = lines.index("<")
    printed = lines[start + 1:start + 4]
    assert lines[start + 4] == ">"
    assert all(line.startswith(" " * 8) for line in printed)
    assert all(split_frame(line.strip())[0] in kallsyms for line in printed)
    # raw mode (newer bpftrace): bare hex addresses, each inside a kallsyms function.
    raw = lines[start + 6:start + 8]
    assert all(re.fullmatch(r"[0-9a-f]{16}", line) for line in raw), raw
    first = split_frame(printed[0].strip())
    assert int(raw[0], 16) - first[1] in kallsyms[first[0]]


# ---- ustack, usym ------------------------------------------------------------------

def test_ustack_names_the_nested_functions_in_order(nested, capfd):
    exe, syms = nested
    with open(exe, "rb") as f:
        image = f.read()
    # -O0 with frame pointers, no endbr64: leaf's first bytes are the prologue.
    assert image[syms["leaf"][0]:syms["leaf"][0] + 4] == PROLOGUE
    out = run(["-c", f"{exe} 2", "-e",
               f"uprobe:{exe}:leaf+4 /pid == cpid/ {{ @[ustack] = count(); "
               f"@p[ustack(perf, 3)] = count(); }} "
               f"uprobe:{exe}:take /pid == cpid/ {{ printf(\"%s\\n\", usym(arg0)); }} "
               f"uprobe:{exe}:done /pid == cpid/ {{ exit(); }}"], capfd)
    assert out.splitlines()[1:3] == ["leaf", "leaf"]
    entries = stack_entries(out)

    chains = {}
    for frames, count in entries["@"]:
        assert count == 2
        parsed = [split_frame(line.strip()) for line in frames]
        for name, off in parsed:
            if name in syms:
                assert off < syms[name][1]  # inside the function nm sized
        chains[tuple(n for n, _ in parsed[:4])] = parsed
    assert ("leaf", "middle", "outer", "main") in chains
    assert ("leaf", "take", "main") in {k[:3] for k in chains}
    assert chains[("leaf", "middle", "outer", "main")][0] == ("leaf", 4)
    # Below main: libc's local __libc_start_call_main, named from libc's separate
    # debug file when the machine has it (nm of that file is the reference).
    debug = libc_debug_file()
    if debug is not None:
        below_main = chains[("leaf", "middle", "outer", "main")][4][0]
        nm = subprocess.run(["nm", debug], capture_output=True, text=True).stdout
        assert re.search(rf" [Tt] {re.escape(below_main)}$", nm, re.M), below_main

    # perf mode: address = load bias + nm value + offset, and the mapped file.
    for frames, _ in entries["@p"]:
        assert len(frames) == 3
        bias = None
        for line in frames:
            m = re.fullmatch(r"\t([0-9a-f]+) (\w+)\+(\d+) \((.*)\)", line)
            assert m, line
            assert m[4] == exe
            where = int(m[1], 16) - syms[m[2]][0] - int(m[3])
            bias = where if bias is None else bias
            assert where == bias


# ---- ksym ------------------------------------------------------------------------------

def test_ksym_names_a_kallsyms_function_and_hex_for_unknown(kallsyms):
    name = next(n for n in ("vfs_read", "ksys_read", "do_sys_openat2")
                if len(kallsyms.get(n, ())) == 1)
    addr = kallsyms[name][0]
    out = trace_output(f'BEGIN {{ printf("%s|%s|\\n", ksym({addr} + 3), ksym(5)); '
                       f'@[ksym({addr})] = count(); exit(); }}')
    assert out.splitlines()[1] == f"{name}|0x5|"
    assert f"@[{name}]: 1" in out.splitlines()


# ---- errors --------------------------------------------------------------------------

@pytest.mark.parametrize("program, message, col", [
    ("BEGIN { print(kstack(1,2,3)); }", "kstack() takes up to 2 arguments (3 provided)", 15),
    ('BEGIN { print(kstack("x")); }', "kstack() expects a integer literal (string provided)",
     15),
    ("BEGIN { print(kstack(perf, -1)); }",
     "kstack([int limit]): limit shouldn't exceed 1024, 18446744073709551615 given", 15),
    ("BEGIN { print(ustack(0)); }", "ustack([int limit]): limit should be at least 1, 0 given",
     15),
    ("BEGIN { $x = 3; print(kstack($x)); }",
     "kstack() expects a integer literal (integer provided)", 23),
    ("BEGIN { print(kstack(foo)); }", "Unknown identifier: 'foo'", 22),
    ("BEGIN { print(ustack(3, perf)); }",
     "ustack() expects a stack mode literal (integer provided)", 15),
    ("BEGIN { print(kstack(perf, bpftrace)); }",
     "kstack() expects a integer literal (stack mode provided)", 15),
    ("BEGIN { print(ksym()); }", "ksym() requires one argument (0 provided)", 15),
    ("BEGIN { print(usym(1, 2)); }", "usym() requires one argument (2 provided)", 15),
    ('BEGIN { print(ksym("s")); }', "ksym() expects an integer or pointer argument", 15),
    ("BEGIN { print(usym(kstack)); }", "usym() expects an integer or pointer argument", 15),
])
def test_misuse_is_a_located_error(program, message, col):
    with pytest.raises(PytraceError) as caught:
        trace_output(program)
    assert caught.value.message == message
    assert caught.value.span.col == col


def test_limit_beyond_perf_event_max_stack_is_an_error_before_loading():
    with open("/proc/sys/kernel/perf_event_max_stack") as f:
        most = int(f.read())
    if most >= 1024:
        pytest.skip("perf_event_max_stack allows every limit")
    with pytest.raises(PytraceError) as caught:
        trace_output(f"BEGIN {{ print(kstack({most + 1})); }}")
    assert caught.value.message.startswith(f"kstack([int limit]): limit {most + 1} exceeds "
                                           f"kernel.perf_event_max_stack ({most})")
