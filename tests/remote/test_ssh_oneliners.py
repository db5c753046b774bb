"""One-liners through a real ssh session to 127.0.0.1 (the private sshd of
tests/helpers/sshd.py): `--target ssh://pytrace-test` must print, byte for byte,
what the recorded bpftrace run printed locally. A subset of tests/e2e's cases,
chosen to cover each path through the transport: BEGIN-only programs, maps of
each kind printed at exit, JSON, positional parameters, `-c` children on the
target with tracepoints, kernel stacks resolved from the target's kallsyms,
cat()/system() run on the target, and signals sent there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cbuild import build_c
from tests.remote.helpers import pytrace

E2E = Path(__file__).resolve().parents[1] / "e2e"
CASES = {case["name"]: case for path in sorted(E2E.glob("oneliners*.json"))
         for case in json.loads(path.read_text())}
OVER_SSH = [
    "printf_signed", "printf_strings", "hist_small", "lhist", "stats", "count_order",
    "multi_key", "tuple_value", "print_map", "positional", "end_probe", "json_output",
    "tp_count_comm", "tp_openat_filename", "tp_write_hist", "tp_latency_pair", "tp_data_loc",
    "tp_join", "tp_exit_in_probe", "interval_ms", "json_keyed_counts",
    "stacks_kstack2_map_key", "buf_filename_constant_length", "cat_file", "system_echo",
    "printf_cat_system_in_program_order", "signal_kill_by_name",
]


def test_the_subset_names_recorded_cases():
    assert [name for name in OVER_SSH if name not in CASES] == []


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    # The ssh target is this machine, so the host's path is the target's path too.
    source = (E2E / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))


@pytest.mark.kernel
@pytest.mark.parametrize("name", OVER_SSH)
def test_oneliner_over_ssh_prints_what_bpftrace_prints(name, ssh_server, wl):
    case = CASES[name]
    argv = ["--target", ssh_server.target] + [a.replace("{wl}", wl) for a in case["argv"]]
    done = pytrace(argv, env=ssh_server.environ())
    assert done.returncode == 0, done.stderr
    assert done.stdout == case["stdout"].replace("{wl}", wl)
