"""One-liners end to end on the real kernel: pytrace's stdout must equal bpftrace's.

Each case in oneliners*.json holds the command-line arguments and the exact
stdout bpftrace 0.17 printed for them on this machine (produced once while
writing the case; bpftrace is not needed to run these tests). Workloads are
deterministic: BEGIN-only programs, timers that exit after a fixed number of
ticks, or `-c` runs of `wl`, a static C program that makes exactly the
system calls its arguments name. `{wl}` stands for the workload's path. A
case may set environment variables (`"env": {"BPFTRACE_STRLEN": "8"}`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytrace.cli import main
from tests.helpers.cbuild import build_c

HERE = Path(__file__).parent
# oneliners.json and one oneliners_<topic>.json per group of builtins.
CASES = [case for path in sorted(HERE.glob("oneliners*.json"))
         for case in json.loads(path.read_text())]


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    source = (HERE / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))


def run_pytrace(argv: list[str], capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


# Every case runs on this machine and again through a remote agent on the
# loopback (`--target exec:`: the agent is a child process speaking the
# protocol over pipes), whose output must be the same, byte for byte.
TARGETS = [[], ["--target", "exec:"]]


@pytest.mark.kernel
@pytest.mark.parametrize("target", TARGETS, ids=["local", "exec"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_oneliner_prints_what_bpftrace_prints(case, target, wl, capfd, monkeypatch):
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value)
    argv = target + [a.replace("{wl}", wl) for a in case["argv"]]
    code, out, err = run_pytrace(argv, capfd)
    assert code == 0, err
    assert out == case["stdout"].replace("{wl}", wl)


@pytest.mark.kernel
def test_records_the_ring_buffer_cannot_take_are_counted_exactly(wl, tmp_path, capfd):
    """100 printf records per getppid, 2000 calls: far more than the buffer holds
    before userspace drains it. Every record is either printed or counted lost."""
    out = tmp_path / "flood.txt"
    program = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
               '{ unroll(100) { printf("%s %s %s %s %s %s\\n", comm, comm, comm, comm, comm, comm); } }')
    code, stdout, err = run_pytrace(["-o", str(out), "-e", program, "-c", f"{wl} getppid 2000"],
                                    capfd)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "Attaching 1 probe..."
    printed = lines.count("wl wl wl wl wl wl")
    lost = [int(ln.split()[1]) for ln in lines if ln.startswith("Lost ")]
    assert all(ln.endswith(" events") for ln in lines if ln.startswith("Lost "))
    assert lost, "expected the flood to overflow the ring buffer"
    assert printed + sum(lost) == 200_000
    assert stdout == "\n\n"
