"""Workloads the tool tests run while a tool traces: each leaves something the
tool must report (a pid, a name, a size), and cleans up after itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest


def spawn_and_wait(argv: list[str]) -> int:
    """Run a program to its end; its pid."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.wait()
    return proc.pid


@contextlib.contextmanager
def loop_device(size_mb: int = 16):
    """A loop device over a file in /tmp (removed afterwards), for block I/O that
    is this test's own: its major:minor and name are known."""
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    fd, backing = tempfile.mkstemp(prefix="pt-loop", dir="/tmp")
    os.ftruncate(fd, size_mb << 20)
    os.close(fd)
    made = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", backing],
                          capture_output=True, text=True)
    if made.returncode != 0:
        os.unlink(backing)
        pytest.skip(f"no loop device: {made.stderr.strip()}")
    device = made.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True)
        os.unlink(backing)


def device_numbers(device: str) -> tuple[int, int]:
    st = os.stat(device)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def direct_io(device: str, write: bool, blocks: int, block_size: int = 4096) -> int:
    """O_DIRECT reads or writes of `blocks` x `block_size` on the device, from a
    dd process; its pid."""
    argv = ["dd", f"bs={block_size}", f"count={blocks}", "status=none"]
    if write:
        argv += ["if=/dev/zero", f"of={device}", "oflag=direct"]
    else:
        argv += [f"if={device}", "of=/dev/null", "iflag=direct"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    return proc.pid


def send_signal_to_sleeper(sig: int = signal.SIGUSR1) -> tuple[int, int]:
    """Start a sleeping child and kill() it with `sig` from this process: (sender, target)."""
    child = subprocess.Popen(["sleep", "30"])
    time.sleep(0.05)
    os.kill(child.pid, sig)
    child.wait()
    return os.getpid(), child.pid
