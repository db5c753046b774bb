"""`-c CMD`: when pytrace is killed outright (SIGKILL, the OOM killer), CMD dies
with it instead of running on as an orphan."""

import os
import signal
import subprocess
import sys
import time

from tests.hostile.run import ROOT


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_command_dies_when_pytrace_is_killed(tmp_path):
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        tracer = subprocess.Popen(
            [sys.executable, "-m", "pytrace", "-B", "line", "-c", "sleep 300", "-e",
             'BEGIN { printf("%d\\n", cpid); }'],
            cwd=ROOT, stdout=f, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        cpid = None
        while time.monotonic() < deadline and cpid is None:
            lines = out.read_text().split()
            cpid = int(lines[-1]) if lines and lines[-1].isdigit() else None
            time.sleep(0.05)
        assert cpid is not None, tracer.stderr.read() if tracer.poll() is not None else ""
        assert _alive(cpid)
        os.kill(tracer.pid, signal.SIGKILL)
        tracer.wait()
        deadline = time.monotonic() + 5
        while _alive(cpid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(cpid), f"the -c command {cpid} outlived pytrace"
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
