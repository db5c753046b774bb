"""One-liners end to end on the real kernel: pytrace's stdout must equal bpftrace's.

Each case in oneliners.json holds the command-line arguments and the exact
stdout bpftrace 0.17 printed for them on this machine (produced once while
writing the case; bpftrace is not needed to run these tests). Workloads are
deterministic: BEGIN-only programs, timers that exit after a fixed number of
ticks, or `-c` runs of `wl`, a static C program that makes exactly the
system calls its arguments name. `{wl}` stands for the workload's path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytrace.cli import main
from tests.helpers.cbuild import build_c

HERE = Path(__file__).parent
CASES = json.loads((HERE / "oneliners.json").read_text())


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    source = (HERE / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))


def run_pytrace(argv: list[str], capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_oneliner_prints_what_bpftrace_prints(case, wl, capfd):
    argv = [a.replace("{wl}", wl) for a in case["argv"]]
    code, out, err = run_pytrace(argv, capfd)
    assert code == 0, err
    assert out == case["stdout"].replace("{wl}", wl)
