"""Every event a probe produced before the run ended is printed or counted as
lost, on a remote target as here: Ctrl-C in the middle of a flood and a run
that ends with its -c command. Each event also counts into @n, so the printed
lines plus the reported losses must add up to @n exactly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from tests.remote.helpers import REPO, eventually, kill

FLOOD = "import os\nfor _ in range({n}):\n    os.getppid()\n"


def program(pid_filter: str) -> str:
    return (f'tracepoint:syscalls:sys_enter_getppid /{pid_filter}/ '
            '{ printf("x\\n"); @n = count(); }')


def accounted(out: str) -> tuple[int, int, int]:
    """(printed lines, events reported lost, @n) of a run's output."""
    lines = out.splitlines().count("x")
    lost = sum(int(n) for n in re.findall(r"^Lost (\d+) events$", out, re.M))
    n = int(re.search(r"^@n: (\d+)$", out, re.M).group(1))
    return lines, lost, n


def assert_every_event_accounted(code: int, err, out: str) -> None:
    """A flood run interrupted by SIGINT: it ended well, and printed lines
    plus reported losses are @n exactly."""
    assert code == 0, err
    lines, lost, n = accounted(out)
    assert lines > 1000
    assert lines + lost == n, f"{n - lines - lost} events neither printed nor counted lost"


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_ctrl_c_in_a_flood_prints_every_event_or_counts_it_lost(target, tmp_path):
    flood = subprocess.Popen([sys.executable, "-S", "-c", FLOOD.format(n=10**9)])
    out_path = tmp_path / "out"
    argv = (["--target", target] if target else []) + ["-e", program(f"pid == {flood.pid}")]
    with out_path.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytrace", *argv], cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                text=True)
    try:
        assert eventually(lambda: out_path.stat().st_size > 2_000_000, deadline_s=60), \
            "no flood of events"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        kill(flood.pid)
        flood.wait()
        if proc.poll() is None:
            kill(proc.pid)
            proc.wait()
    assert_every_event_accounted(proc.returncode, err, out_path.read_text())


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_a_run_ending_with_its_command_prints_every_event(target):
    count = 300_000
    argv = (["--target", target] if target else []) + [
        "-e", program("pid == cpid"), "-c", f"python3 -S -c '{FLOOD.format(n=count)}'"]
    done = subprocess.run([sys.executable, "-m", "pytrace", *argv], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines, lost, n = accounted(done.stdout)
    assert n >= count   # and what the interpreter's start-up made (a pyenv shim: bash's)
    assert lines + lost == n


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_print_then_clear_each_interval_loses_no_count(target):
    """The per-interval `print(@m); clear(@m);` of vfsstat-like tools: every
    count lands in one printed interval, however fast they come, apart from
    an add that a running program makes to the entry just as the read deletes
    it (at most one per CPU per clear; reading, then deleting, lost thousands)."""
    count = 1_000_000   # about a second of calls: several intervals go by
    argv = (["--target", target] if target else []) + [
        "-e", 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
              '{ @n[1] = count(); @total = count(); } '
              'interval:ms:20 { print(@n); clear(@n); }',
        "-c", f"python3 -S -c '{FLOOD.format(n=count)}'"]
    done = subprocess.run([sys.executable, "-m", "pytrace", *argv], cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = [int(n) for n in re.findall(r"^@n\[1\]: (\d+)$", done.stdout, re.M)]
    total = int(re.search(r"^@total: (\d+)$", done.stdout, re.M).group(1))
    assert total >= count and len(printed) > 3, done.stdout
    assert total - 2 * len(printed) <= sum(printed) <= total


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_ctrl_c_while_the_reader_holds_up_stdout_loses_nothing(target):
    """Ctrl-C lands while pytrace is blocked writing to a pipe nobody reads
    yet: the write it interrupts must still go out whole (Python's buffered
    writer returned short there, and the rest of the chunk was lost)."""
    import time
    argv = (["--target", target] if target else []) + [
        "-e", program("pid == cpid"), "-c", f"python3 -S -c '{FLOOD.format(n=10**9)}'"]
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", *argv], cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(3)   # the pipe fills at once: pytrace waits in write(2)
        proc.send_signal(signal.SIGINT)
        time.sleep(2)   # and the reader is still away for a while
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            kill(proc.pid)
            proc.wait()
    assert_every_event_accounted(proc.returncode, err, out.decode())
