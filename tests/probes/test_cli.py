"""Probe types through the `pytrace` command line (`-c`), exact output asserted."""

from __future__ import annotations

import os

import pytest

from pytrace.cli import main
from tests.probes import workloads

pytestmark = pytest.mark.kernel

N = 5


@pytest.fixture(scope="module")
def progs(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli")
    return {"calls": workloads.calls(tmp), "usdt": workloads.usdt(tmp),
            "syscalls": workloads.syscalls(tmp)}


def _run(program: str, command: str, capfd) -> str:
    code = main(["-e", program, "-c", f"env NOWAIT=1 {command}"])
    out, err = capfd.readouterr()
    assert code == 0, err
    return out


def test_uprobe_and_uretprobe_share_a_run(progs, capfd):
    p = progs["calls"]
    out = _run(f"uprobe:{p}:work {{ @n = count(); @a = sum(arg0); }} "
               f"uretprobe:{p}:work {{ @r = sum(retval); }}", f"{p} {N}", capfd)
    assert out == (f"Attaching 2 probes...\n\n\n@a: {sum(range(N))}\n@n: {N}\n"
                   f"@r: {sum(2 * i + 7 for i in range(N))}\n")


def test_usdt_with_printf(progs, capfd):
    p = progs["usdt"]
    out = _run(f'usdt:{p}:app:plain {{ printf("%d %d %d\\n", arg0, arg1, arg2); }}',
               f"{p} {N}", capfd)
    assert out == "Attaching 1 probe...\n" + "".join(f"{i} {-i} 5\n" for i in range(N)) + \
        "\n\n"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall number of getppid")
def test_rawtracepoint_counts_the_child_syscalls(progs, capfd):
    p = progs["syscalls"]
    out = _run("rawtracepoint:sys_enter /pid == cpid && args.id == 110/ { @ = count(); }",
               f"{p} {N}", capfd)
    assert out == f"Attaching 1 probe...\n\n\n@: {N}\n"
