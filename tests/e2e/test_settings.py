"""BPFTRACE_* environment variables and the config block, with bpftrace's meanings.

Outputs that bpftrace 0.17 prints for the same workload are one-liners in
oneliners_runtime.json (BPFTRACE_STRLEN, BPFTRACE_CAT_BYTES_MAX, ...); here are
the settings whose effect is checked against pytrace's own explicit forms
(0.17 has no BPFTRACE_STACK_MODE nor config block), C++ demangling (checked
against names bpftrace 0.17 printed for the same program), the limits and the
refusals of bad values.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pathlib import Path

from pytrace.cli import main
from tests.helpers.cbuild import build_c

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    source = (Path(__file__).parent / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))

KSTACK = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
          '{{ print({stack}); @[{stack}] = count(); }}')


def trace(argv: list[str], capfd) -> str:
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("how", ["env", "config", "config by variable name"])
def test_stack_mode_sets_the_mode_of_kstack_without_one(how, wl, capfd, monkeypatch):
    run = ["-c", f"{wl} getppid 1", "-e"]
    explicit = trace(run + [KSTACK.format(stack="kstack(perf, 2)")], capfd)
    program = KSTACK.format(stack="kstack(2)")
    if how == "env":
        monkeypatch.setenv("BPFTRACE_STACK_MODE", "perf")
    elif how == "config":
        program = "config = { stack_mode = perf } " + program
    else:
        program = "config = { BPFTRACE_STACK_MODE = perf } " + program
    got = trace(run + [program], capfd)
    assert re.search(r"\t[0-9a-f]+ perf_syscall_enter\+\d+\n", got), got
    assert got == explicit


def test_the_environment_wins_over_the_config_block(wl, capfd, monkeypatch):
    run = ["-c", f"{wl} getppid 1", "-e"]
    explicit = trace(run + [KSTACK.format(stack="kstack(bpftrace, 2)")], capfd)
    monkeypatch.setenv("BPFTRACE_STACK_MODE", "bpftrace")
    got = trace(run + ["config = { stack_mode = perf } " + KSTACK.format(stack="kstack(2)")],
                capfd)
    assert got == explicit


def test_config_block_sets_strlen(wl, capfd):
    out = trace(["-c", f"{wl} open /etc/hostname 1", "-e",
                 "config = { max_strlen = 8 } tracepoint:syscalls:sys_enter_openat "
                 "/pid == cpid/ { printf(\"%s|\\n\", str(args->filename)); }"], capfd)
    assert out == "Attaching 1 probe...\n/etc/ho|\n\n\n"


CPP = r"""
#include <unistd.h>
namespace ns { struct K { static int __attribute__((noinline)) leaf(int x, void *self)
    { return (int)syscall(110) + x + (self != 0); } }; }
int __attribute__((noinline)) outer(int v) { return ns::K::leaf(v, (void *)&ns::K::leaf) + 1; }
int main() { int r = outer(3); usleep(300000); return r > 1000000; }
"""


@pytest.fixture(scope="module")
def cpp_program(tmp_path_factory) -> str:
    if shutil.which("g++") is None:
        pytest.skip("no g++")
    out = tmp_path_factory.mktemp("cpp")
    (out / "t.cc").write_text(CPP)
    subprocess.run(["g++", "-O0", "-fno-omit-frame-pointer", "-o", str(out / "t"),
                    str(out / "t.cc")], check=True)
    return str(out / "t")


# What bpftrace 0.17 printed for this program, without and with the variable.
@pytest.mark.parametrize("env, names", [
    (None, ["ns::K::leaf(int, void*)", "ns::K::leaf(int, void*)+0", "outer(int)+31"]),
    ("1", ["_ZN2ns1K4leafEiPv", "_ZN2ns1K4leafEiPv+0", "_Z5outeri+31"]),
    ("0", ["ns::K::leaf(int, void*)", "ns::K::leaf(int, void*)+0", "outer(int)+31"]),
])
def test_cpp_names_are_demangled_unless_no_cpp_demangle(env, names, cpp_program, capfd,
                                                        monkeypatch):
    if env is not None:
        monkeypatch.setenv("BPFTRACE_NO_CPP_DEMANGLE", env)
    out = trace(["-c", cpp_program, "-e",
                 f"uprobe:{cpp_program}:_ZN2ns1K4leafEiPv "
                 "{ printf(\"%s|%s\\n\", usym(arg1), ustack(2)); }"], capfd)
    lines = out.splitlines()
    assert lines[1] == names[0] + "|"
    assert [ln.strip() for ln in lines[2:4]] == names[1:]


def test_max_probes_refuses_a_program_with_more(capfd, monkeypatch):
    monkeypatch.setenv("BPFTRACE_MAX_PROBES", "2")
    assert main(["-e", "BEGIN { exit(); } END { } interval:s:1 { }"]) == 1
    assert capfd.readouterr().err == (
        "ERROR: Can't attach to 3 probes because it exceeds the current limit of 2 probes "
        "(raise BPFTRACE_MAX_PROBES with care: many probes can make the system crash)\n")


def test_perf_rb_pages_sizes_the_ring_buffer(capfd, monkeypatch):
    import os
    monkeypatch.setenv("BPFTRACE_PERF_RB_PAGES", "64")
    assert main(["-d", "resources", "-e", 'BEGIN { printf("x\\n"); exit(); }']) == 0
    out = capfd.readouterr().out
    ring = re.search(r"bpf_type='ringbuf',.*?max_entries=(\d+)", out, re.S)
    cpus = os.sysconf("SC_NPROCESSORS_CONF")
    want = 64 * 4096 * cpus
    assert int(ring.group(1)) == 1 << (want - 1).bit_length()


@pytest.mark.parametrize("name, value, message", [
    ("BPFTRACE_NO_CPP_DEMANGLE", "yes",
     "ERROR: Env var 'BPFTRACE_NO_CPP_DEMANGLE' did not contain a valid value (0 or 1)."),
    ("BPFTRACE_STRLEN", "abc",
     "ERROR: Env var 'BPFTRACE_STRLEN' did not contain a valid uint64_t, or was zero-valued."),
    ("BPFTRACE_MAX_PROBES", "0",
     "ERROR: Env var 'BPFTRACE_MAX_PROBES' did not contain a valid uint64_t, or was "
     "zero-valued."),
    ("BPFTRACE_STRLEN", "300",
     "ERROR: 'BPFTRACE_STRLEN' 300 exceeds the current maximum of 200 bytes "
     "(strings live on the 512-byte BPF stack)"),
    ("BPFTRACE_PERF_RB_PAGES", "3", "ERROR: 'BPFTRACE_PERF_RB_PAGES' 3 is not a power of 2"),
    ("BPFTRACE_STACK_MODE", "fancy",
     "ERROR: Env var 'BPFTRACE_STACK_MODE' did not contain a valid stack mode "
     "(bpftrace, perf, raw)"),
    ("PYTRACE_PRINT_ORDER", "down",
     "ERROR: Env var 'PYTRACE_PRINT_ORDER' did not contain a valid print order "
     "(ascending, descending)"),
])
def test_a_bad_value_is_one_line(name, value, message, capfd, monkeypatch):
    monkeypatch.setenv(name, value)
    assert main(["-e", "BEGIN { exit(); }"]) == 1
    assert capfd.readouterr().err == message + "\n"


@pytest.mark.parametrize("block, where, message", [
    ("config = { max_strlen = 201 }", "1:25-28",
     "'BPFTRACE_STRLEN' 201 exceeds the current maximum of 200 bytes"),
    ("config = { verbose = 1 }", "1:22-23", "Unrecognized config variable: verbose"),
    ("config = { stack_mode = fancy }", "1:25-30",
     "stack_mode must be one of: bpftrace, perf, raw"),
    ("config = { no_cpp_demangle = 2 }", "1:30-31", "no_cpp_demangle must be 0 or 1"),
    ("config = { print_order = up }", "1:26-28",
     "print_order must be one of: ascending, descending"),
])
def test_a_bad_config_value_is_located(block, where, message, capfd):
    assert main(["-e", block + " BEGIN { exit(); }"]) == 1
    assert capfd.readouterr().err.startswith(f"stdin:{where}: ERROR: {message}")


def test_no_user_symbols_prints_addresses(cpp_program, capfd, monkeypatch):
    """As bpftrace 0.17 printed it: hex for usym, bare addresses in ustack,
    `ADDR 0xADDR ([unknown])` in perf mode."""
    monkeypatch.setenv("BPFTRACE_NO_USER_SYMBOLS", "1")
    monkeypatch.setenv("BPFTRACE_CACHE_USER_SYMBOLS", "1")
    out = trace(["-c", cpp_program, "-e",
                 f"uprobe:{cpp_program}:_ZN2ns1K4leafEiPv "
                 "{ printf(\"%s|%s|%s\\n\", usym(arg1), ustack(2), ustack(perf, 1)); }"], capfd)
    lines = out.splitlines()
    leaf = lines[1].rstrip("|")
    assert re.fullmatch(r"0x[0-9a-f]+", leaf)
    assert lines[2].strip() == leaf and re.fullmatch(r"0x[0-9a-f]+", lines[3].strip())
    assert lines[4] == "|"
    assert lines[5] == f"\t{leaf[2:]} {leaf} ([unknown])"


# pytrace's own setting (docs/reference.md): maps print largest first, in
# print() and at exit; the default stays bpftrace's ascending order.
COUNTS = ("BEGIN { @c[1] = count(); @c[2] = count(); @c[2] = count(); @c[3] = count(); "
          "@c[3] = count(); @c[3] = count(); print(@c, 2); exit(); }")


@pytest.mark.parametrize("how", ["default", "config", "env"])
def test_print_order_descending_puts_the_largest_first(how, capfd, monkeypatch):
    program = COUNTS
    if how == "config":
        program = "config = { print_order = descending } " + program
    elif how == "env":
        monkeypatch.setenv("PYTRACE_PRINT_ORDER", "descending")
    out = trace(["-e", program], capfd)
    printed, at_exit = out.split("\n\n\n")
    if how == "default":
        assert printed.splitlines()[1:] == ["@c[2]: 2", "@c[3]: 3"]
        assert at_exit.splitlines() == ["@c[1]: 1", "@c[2]: 2", "@c[3]: 3"]
    else:
        assert printed.splitlines()[1:] == ["@c[3]: 3", "@c[2]: 2"]
        assert at_exit.splitlines() == ["@c[3]: 3", "@c[2]: 2", "@c[1]: 1"]
