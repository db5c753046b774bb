"""Start-up sends what it can without waiting: the load goes with BEGIN's run or
the attaches, the facts the probes read go with the handshake. What a user sees
stays what a local run shows: a verifier rejection names its probe, with no
banner before it, and a run costs a fixed, small number of round trips.
Through `--target exec:` (the agent is a child process on this machine)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.remote.helpers import REPO, pytrace

REJECTED = "kprobe:vfs_read { override(-22); }"   # no CONFIG_BPF_KPROBE_OVERRIDE here
SYSCALLS = ("getpid", "getppid", "read", "write", "openat", "close", "mmap", "munmap",
            "brk", "ioctl", "nanosleep")


def round_trips(done) -> int:
    found = re.search(r"^pytrace: (\d+) round trips to ", done.stderr, re.M)
    assert found, done.stderr
    return int(found.group(1))


@pytest.mark.kernel
@pytest.mark.parametrize("program", [
    REJECTED,                                                   # fails at the attaches
    'BEGIN { printf("x\\n"); } ' + REJECTED,                    # fails at BEGIN's run
    'tracepoint:syscalls:sys_enter_getpid { @ = count(); } ' + REJECTED,
], ids=["alone", "after BEGIN", "after a tracepoint"])
def test_a_verifier_rejection_is_reported_as_locally(program):
    local = pytrace(["--unsafe", "-e", program])
    if "bpf_override_return" not in local.stderr:
        pytest.skip("this kernel lets kprobes override")
    remote = pytrace(["--unsafe", "--target", "exec:", "-e", program])
    assert (remote.returncode, remote.stdout, remote.stderr) == \
        (local.returncode, local.stdout, local.stderr)
    assert remote.returncode == 1 and remote.stdout == ""
    assert "ERROR: The BPF verifier rejected the program for kprobe:vfs_read" in remote.stderr


@pytest.mark.kernel
@pytest.mark.parametrize("program, trips", [
    # HELLO; load + BEGIN; the maps at exit.
    ("BEGIN { exit(); }", 3),
    # HELLO; the formats (sent before the HELLO came); load + attaches; exit.
    ("\n".join(f"tracepoint:syscalls:sys_enter_{n} {{ @{n} = count(); }}" for n in SYSCALLS)
     + "\ninterval:ms:50 { exit(); }", 4),
], ids=["BEGIN exit", "12 probes"])
def test_start_costs_a_fixed_number_of_round_trips(program, trips):
    done = pytrace(["--target", "exec:", "-e", program],
                   env=dict(os.environ, PYTRACE_REMOTE_STATS="1"))
    assert done.returncode == 0, done.stderr
    assert round_trips(done) == trips


NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]


@pytest.mark.kernel
def test_a_compile_error_and_missing_privileges_report_the_privileges_first():
    """The HELLO (which brings the agent's capabilities) is not awaited before
    compiling; a compile error still waits for it, so the order is a local run's."""
    program = "BEGIN { @x = nosuchfunction(); }"
    local = subprocess.run(NO_CAPS + [sys.executable, "-m", "pytrace", "-e", program],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    remote = pytrace(["--target", "exec:" + " ".join(NO_CAPS), "-e", program])
    first = local.stderr.splitlines()[0]
    assert "privileges" in first, local.stderr
    assert remote.returncode == local.returncode == 1
    assert remote.stderr.splitlines()[0] == first
