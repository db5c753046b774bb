"""A target that never answers, or stops answering, does not hang pytrace: no
HELLO within PYTRACE_REMOTE_TIMEOUT ends the run with one line and the
transport killed; after Ctrl-C a silent target is given up on within seconds,
with one line, and what the agent held is freed. Through `--target exec:`."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from tests.helpers.processes import alive, descendants
from tests.remote.helpers import (REPO, eventually, kill, one_error_line, pytrace,
                                  start_pytrace, wait_for_line)
from tests.remote.test_exec_teardown import assert_nothing_left, finish, held_by

RELAY = f"{sys.executable} {REPO / 'tests' / 'remote' / 'relay.py'}"
TICKS = 'interval:ms:20 { @ticks = count(); printf("tick\\n"); }'



@pytest.mark.parametrize("shell", [
    "exec sleep 1000",                      # says nothing at all
    "echo Welcome to the box; exec sleep 1000",   # a banner, then nothing
])
def test_a_target_that_never_answers_times_out_and_is_killed(tmp_path, shell):
    pid_file = tmp_path / "pid"
    # sh -c SCRIPT: the agent's command line pytrace appends becomes $0 $1 ...
    target = f"exec:sh -c 'echo $$ > {pid_file}; {shell}'"
    env = dict(os.environ, PYTRACE_REMOTE_TIMEOUT="2")
    started = time.monotonic()
    done = pytrace(["--target", target, "-e", "BEGIN { exit(); }"], env=env, timeout=60)
    assert time.monotonic() - started < 30
    assert one_error_line(done) == (
        f"ERROR: --target {target}: no answer from the agent within 2 s (is the transport "
        "waiting for a password or a confirmation?); PYTRACE_REMOTE_TIMEOUT sets the wait")
    assert done.stdout == ""
    pid = int(pid_file.read_text())
    assert eventually(lambda: not alive(pid), deadline_s=10), "the transport still runs"


@pytest.mark.parametrize("value", ["0", "soon", "-3"])
def test_a_bad_timeout_value_is_one_line(value):
    env = dict(os.environ, PYTRACE_REMOTE_TIMEOUT=value)
    line = one_error_line(pytrace(["--target", "exec:", "-e", "BEGIN { exit(); }"], env=env))
    assert line == ("ERROR: PYTRACE_REMOTE_TIMEOUT: expected a number of seconds above 0, "
                    f"got {value!r}")


def stop_agent(how: str, proc) -> list[int]:
    """Make the running target go silent; the processes that hold its BPF objects."""
    pids = descendants(proc.pid)
    if how == "SIGSTOP":
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
    return pids


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["SIGSTOP", "relay stalls"])
def test_ctrl_c_with_a_silent_target_ends_within_seconds(how):
    target = "exec:" if how == "SIGSTOP" else f"exec:{RELAY} --stall-after-bytes 6000 --"
    proc = start_pytrace(["--target", target, "-e", TICKS])
    pids = []
    try:
        wait_for_line(proc.stdout, "tick")
        pids = descendants(proc.pid)
        held = eventually(lambda: (lambda h: h if all(h.values()) else None)(held_by(pids)))
        assert held, "the agent holds no program/map/link"
        if how == "SIGSTOP":
            stop_agent(how, proc)
        else:
            assert _output_stops(proc), "the relay did not stall"
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, _, err = finish(proc, timeout=30)
        assert time.monotonic() - started < 10
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 1 and len(lines) == 1, err
        assert lines[0] == (f"ERROR: the target {target} stopped answering (nothing for 3 s "
                            "after the interrupt): the run ends without its final output")
        assert_nothing_left(pids, held)
    finally:
        for pid in pids:
            kill(pid)
        if proc.poll() is None:
            kill(proc.pid)
            proc.wait()


def _output_stops(proc, quiet_s: float = 1.5, deadline_s: float = 60) -> bool:
    """Read pytrace's stdout until nothing came for quiet_s (the relay stalled)."""
    last = [time.monotonic()]

    def read():
        for _ in proc.stdout:
            last[0] = time.monotonic()

    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if time.monotonic() - last[0] > quiet_s:
            return True
        time.sleep(0.1)
    return False
