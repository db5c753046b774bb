"""`pytrace -l` for user binaries: uprobe functions and USDT probes of gcc-built programs."""

import subprocess
import time

import pytest

from pytrace.cli import main
from tests.helpers.cbuild import build_c, require_header

SOURCE = r"""
#include <sys/sdt.h>
#include <stdio.h>
#include <unistd.h>

unsigned short guarded_ready_semaphore __attribute__((section(".probes")));

__attribute__((noinline)) int add_numbers(int a, long b) {
    DTRACE_PROBE2(myprov, plain, a, b);
    if (guarded_ready_semaphore)
        DTRACE_PROBE1(guarded, ready, a);
    return a + (int)b;
}

__attribute__((noinline)) static int helper_static(int x) {
    DTRACE_PROBE1(other, st, x);
    return x * 2;
}

int main(int argc, char **argv) {
    if (argc > 1)
        sleep(30);
    printf("%d\n", add_numbers(argc, 3) + helper_static(argc));
    return 0;
}
"""


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    require_header("sys/sdt.h")
    return build_c(SOURCE, tmp_path_factory.mktemp("listing"), name="listed")


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def test_uprobe_lists_the_functions_defined_in_the_binary(capsys, binary):
    rc, lines, _ = run(capsys, "-l", f"uprobe:{binary}:*")
    funcs = {line.rpartition(":")[2] for line in lines}
    assert rc == 0
    assert all(line.startswith(f"uprobe:{binary}:") for line in lines)
    assert {"main", "add_numbers", "helper_static"} <= funcs
    assert "printf" not in funcs  # imported, not defined here
    assert lines == sorted(lines)


def test_uprobe_glob_and_retprobe_spelling(capsys, binary):
    _, lines, _ = run(capsys, "-l", f"uretprobe:{binary}:add_*")
    assert lines == [f"uretprobe:{binary}:add_numbers"]


def test_usdt_lists_provider_and_name_of_each_probe(capsys, binary):
    rc, lines, _ = run(capsys, "-l", f"usdt:{binary}:*")
    assert rc == 0
    assert lines == [f"usdt:{binary}:guarded:ready", f"usdt:{binary}:myprov:plain",
                     f"usdt:{binary}:other:st"]


def test_usdt_name_alone_matches_under_any_provider(capsys, binary):
    _, lines, _ = run(capsys, "-l", f"usdt:{binary}:plain")
    assert lines == [f"usdt:{binary}:myprov:plain"]
    _, lines, _ = run(capsys, "-l", f"usdt:{binary}:other:*")
    assert lines == [f"usdt:{binary}:other:st"]


def test_pid_lists_every_mapped_object_of_the_process(capsys, binary):
    proc = subprocess.Popen([str(binary), "wait"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while time.time() < deadline:  # until the dynamic loader mapped libc
            with open(f"/proc/{proc.pid}/maps") as f:
                if "libc" in f.read():
                    break
            time.sleep(0.02)
        rc, lines, _ = run(capsys, "-p", str(proc.pid), "-l", "uprobe:*")
        _, usdts, _ = run(capsys, "-p", str(proc.pid), "-l", "usdt:*")
    finally:
        proc.kill()
        proc.wait()
    root = f"/proc/{proc.pid}/root"
    assert rc == 0
    assert f"uprobe:{root}{binary}:add_numbers" in lines
    assert any(line.startswith(f"uprobe:{root}/") and "libc" in line and
               line.endswith(":malloc") for line in lines)
    assert f"usdt:{root}{binary}:myprov:plain" in usdts


def test_lv_uprobe_shows_dwarf_parameters(capsys, binary):
    rc, lines, _ = run(capsys, "-lv", f"uprobe:{binary}:add_numbers")
    assert rc == 0
    assert lines == [f"uprobe:{binary}:add_numbers", "    int a", "    long int b"]
    _, lines, _ = run(capsys, "-lv", f"uprobe:{binary}:main")
    assert lines[1:] == ["    int argc", "    char** argv"]


def test_lv_uprobe_without_debug_info_warns_once(capsys, tmp_path):
    stripped = build_c("int work(int x) { return x + 1; }\nint main(void) { return work(1); }\n",
                       tmp_path, name="stripped", flags=("-O1", "-g0"))
    rc, lines, err = run(capsys, "-lv", f"uprobe:{stripped}:*")
    assert rc == 0
    assert f"uprobe:{stripped}:work" in lines
    assert not any(line.startswith("    ") for line in lines)
    assert err == f'WARNING: No DWARF found for "{stripped}", cannot show parameter info\n'
