"""pytrace on a machine where nothing was set up by hand: no tracefs mounted, or
tracefs reachable only under debugfs (/sys/kernel/debug/tracing, older systems).

Each run happens in a private mount namespace (`unshare -m`), where the test
unmounts or mounts what it needs; the machine's own mounts stay as they are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces and BPF need root"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)"),
]

NO_TRACEFS = ("umount -l /sys/kernel/debug/tracing 2>/dev/null; "
              "umount -l /sys/kernel/debug 2>/dev/null; "
              "umount -l /sys/kernel/tracing 2>/dev/null; "
              "! test -e /sys/kernel/tracing/events || exit 90")

# A process that calls getppid(2) exactly seven times (Python's start-up makes none).
GETPPID_7 = f"{sys.executable} -c 'import os\nfor _ in range(7): os.getppid()'"


def in_fresh_namespace(setup: str, *pytrace_args: str, after: str = "true"):
    """Run `setup`, then pytrace, then `after` (its output on stderr) in a new mount
    namespace; the completed process."""
    script = f'{setup}\n"$@"; rc=$?\n{{ {after}; }} >&2\nexit $rc'
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
         sys.executable, "-m", "pytrace", *pytrace_args],
        cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_tracepoint_counts_exactly_where_tracefs_was_not_mounted():
    done = in_fresh_namespace(
        NO_TRACEFS,
        "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }",
        "-c", GETPPID_7,
        after="grep -c ' /sys/kernel/tracing tracefs ' /proc/mounts")
    assert done.returncode == 0, done.stderr
    assert "@calls: 7" in done.stdout
    # pytrace mounted tracefs itself, where current kernels expect it.
    assert done.stderr.strip().splitlines()[-1] == "1"


def test_uprobe_counts_exactly_where_tracefs_was_not_mounted():
    done = in_fresh_namespace(
        NO_TRACEFS,
        "-e", "uprobe:libc:getppid /pid == cpid/ { @calls = count(); }",
        "-c", GETPPID_7)
    assert done.returncode == 0, done.stderr
    assert "@calls: 7" in done.stdout


def test_listing_works_where_tracefs_was_not_mounted():
    done = in_fresh_namespace(NO_TRACEFS, "-l", "tracepoint:syscalls:sys_enter_getppid")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tracepoint:syscalls:sys_enter_getppid\n"
    done = in_fresh_namespace(NO_TRACEFS, "-lv", "tracepoint:syscalls:sys_enter_getppid")
    assert done.returncode == 0, done.stderr
    assert "int __syscall_nr" in done.stdout


def test_tracefs_under_debugfs_is_used_where_it_is():
    """Older systems mount only debugfs; its tracing/ directory is tracefs."""
    setup = (NO_TRACEFS + "\nmount -t debugfs nodev /sys/kernel/debug || exit 91\n"
             "test -e /sys/kernel/debug/tracing/events || exit 92")
    done = in_fresh_namespace(
        setup,
        "-e", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }",
        "-c", GETPPID_7,
        after="grep -c ' /sys/kernel/tracing tracefs ' /proc/mounts")
    if done.returncode in (91, 92):
        pytest.skip("this kernel has no debugfs with a tracing directory")
    assert done.returncode == 0, done.stderr
    assert "@calls: 7" in done.stdout
    # It used the debugfs location and mounted nothing more.
    assert done.stderr.strip().splitlines()[-1] == "0"
