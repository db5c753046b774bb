"""A script whose probe fires on the agent's own writes (each EVENTS frame it
sends is a write(2)) floods the connection forever; Ctrl-C still ends the run
promptly, cleanly and with nothing left attached. The local target too."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.helpers.processes import descendants
from tests.remote.helpers import eventually, kill, start_pytrace, wait_for_line
from tests.remote.test_exec_teardown import assert_nothing_left, finish, held_by

SELF_TRACING = 'tracepoint:syscalls:sys_enter_write { printf("x\\n"); }'


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_ctrl_c_ends_a_self_tracing_run(target):
    argv = (["--target", target] if target else []) + ["-e", SELF_TRACING]
    proc = start_pytrace(argv)
    # The loop needs a first write after the attach; a quiet machine may make
    # none for minutes (locally the banner comes before the attach).
    seeder = subprocess.Popen(["sh", "-c", "while :; do echo > /dev/null; sleep 0.2; done"])
    holders = []
    try:
        wait_for_line(proc.stdout, "x")
        seeder.kill()
        holders = descendants(proc.pid) if target else [proc.pid]
        assert holders, "pytrace started no agent"
        held = eventually(lambda: (lambda h: h if h["prog"] and h["map"] else None)(
            held_by(holders)))
        assert held, "nothing holds the script's program and map"
        time.sleep(1)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, _, err = finish(proc, timeout=60)
        assert time.monotonic() - started < 15, "Ctrl-C took too long"
        assert code == 0, err
        assert "Traceback" not in err and "ERROR" not in err, err
        assert_nothing_left(holders if target else [], held)
    finally:
        seeder.kill()
        seeder.wait()
        if target:
            for pid in holders:
                kill(pid)
        if proc.poll() is None:
            kill(proc.pid)
            proc.wait()
