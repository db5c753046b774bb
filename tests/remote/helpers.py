"""What the remote-target tests share: running the CLI against a target, and
checking that a target holds nothing of pytrace's once a run has ended."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers.processes import descendants

REPO = Path(__file__).resolve().parents[2]


def pytrace(argv: list[str], env: dict[str, str] | None = None, timeout: float = 300,
            **kwargs) -> subprocess.CompletedProcess:
    """Run `python3 -m pytrace ARGV` from the repo root, text output captured."""
    return subprocess.run([sys.executable, "-m", "pytrace", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def start_pytrace(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytrace", *argv], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def pytrace_running(argv: list[str], env: dict[str, str] | None = None):
    """start_pytrace for the body of a `with`; killed at the end if still running."""
    proc = start_pytrace(argv, env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def one_error_line(done) -> str:
    """The one line a failed run printed on stderr (exit 1, no traceback)."""
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("ERROR: "), lines[0]
    return lines[0]


def wait_for_line(stream, prefix: str, deadline_s: float = 180) -> str:
    """Read `stream` until a line starting with `prefix` (blocking reads; bounded by the
    caller's process ending, which closes the stream)."""
    seen = []
    end = time.monotonic() + deadline_s
    for line in stream:
        seen.append(line)
        if line.startswith(prefix):
            return line
        if time.monotonic() > end:
            break
    raise AssertionError(f"no line starting with {prefix!r}; got {''.join(seen)!r}")


def unique_map_name() -> str:
    """A map name no other run on the machine uses (pytrace names the BPF map AT_<name>)."""
    return "td" + secrets.token_hex(4)


def bpf_map_names(bpftool_output: str) -> set[str]:
    """The map names in `bpftool map show` output (from wherever it ran)."""
    return set(re.findall(r"\bname (\S+)", bpftool_output))


def ssh_client_of(proc: subprocess.Popen, deadline_s: float = 30) -> int:
    """The pid of the `ssh` process pytrace started as its transport."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for pid in descendants(proc.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "ssh":
                    return pid
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError("pytrace started no ssh client")


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def eventually(check, deadline_s: float = 30, step: float = 0.2):
    """Poll check() until it returns a true value; return it, or the last value at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(step)
