"""Without root, pytrace says in one line which privileges it needs, never which
syscall failed: for a trace, for -l, for --info, and for tracefs it may not read
(which is not "tracefs is not mounted").

The command runs as user nobody through setpriv, from a copy of the package
(and its pure-Python dependencies) that user can read: a checkout or a Python
under /root is out of its reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.cli.command import REPO

pytestmark = pytest.mark.kernel

NOBODY = "65534"
NEEDS_ROOT = ("ERROR: pytrace needs root privileges, or the capabilities CAP_BPF and "
              "CAP_PERFMON; run it as root (e.g. with sudo)\n")
TRACEFS = ("ERROR: cannot read tracefs (/sys/kernel/tracing): permission denied; tracepoints "
           "need root privileges: run pytrace as root (e.g. with sudo)\n")


def _as_nobody(python: str, *args: str, caps: str = "") -> list[str]:
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if caps:
        cmd += [f"--inh-caps={caps}", f"--ambient-caps={caps}"]
    else:
        cmd += ["--inh-caps=-all"]
    return cmd + [python, *args]


@pytest.fixture(scope="module")
def unprivileged():
    """A function running `python -m pytrace ARGS` as nobody (optionally holding caps)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become another user")
    import elftools
    import lark
    home = tempfile.mkdtemp(prefix="pytrace-nobody-", dir="/tmp")
    try:
        shutil.copytree(REPO / "pytrace", os.path.join(home, "pytrace"), symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__", "grammar"))
        shutil.copytree(REPO / "grammar", os.path.join(home, "pytrace", "grammar"))
        for module in (lark, elftools):
            src = os.path.dirname(module.__file__)
            shutil.copytree(src, os.path.join(home, os.path.basename(src)),
                            ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(home):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755)
        os.chmod(home, 0o755)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "PYTHONPATH": home, "PYTHONDONTWRITEBYTECODE": "1"}
        python = _python_nobody_can_run(env, home)

        def run(*args: str, caps: str = "") -> subprocess.CompletedProcess:
            return subprocess.run(_as_nobody(python, "-m", "pytrace", *args, caps=caps),
                                  capture_output=True, text=True, env=env, cwd=home,
                                  timeout=120)
        yield run
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _python_nobody_can_run(env: dict, cwd: str) -> str:
    # It must also start itself again as that user (the loopback agent of
    # --target exec: does), which a path under /root may not allow.
    check = ("import subprocess, sys; assert sys.version_info >= (3, 10); "
             "subprocess.run([sys.executable, '-c', 'import lark, elftools, pytrace'], "
             "check=True)")
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run(_as_nobody(python, "-c", check), capture_output=True,
                               env=env, cwd=cwd)
        if probe.returncode == 0:
            return python
    pytest.skip("no Python that user nobody can run")


@pytest.mark.parametrize("args", [
    ["-e", "BEGIN { exit(); }"],
    ["-e", "tracepoint:syscalls:sys_enter_openat { exit(); }"],
    ["-e", "uprobe:/bin/sh:main { exit(); }"],
    ["-l"],
    ["-l", "tracepoint:syscalls:*open*"],
    ["--info"],
    # The agent of a remote target reports its privileges in its handshake.
    ["--target", "exec:", "-e", "BEGIN { exit(); }"],
    ["--target", "exec:", "-l", "tracepoint:syscalls:*open*"],
], ids=lambda a: " ".join(a))
def test_without_privileges_one_line_says_what_is_needed(unprivileged, args):
    done = unprivileged(*args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == NEEDS_ROOT


def test_what_needs_no_privileges_still_works(unprivileged):
    done = unprivileged("--help")
    assert (done.returncode, done.stderr) == (0, "")
    done = unprivileged("-d", "ast", "-e", "BEGIN { @x = 1; }")
    assert (done.returncode, done.stderr) == (0, "")


def test_bpf_capabilities_without_tracefs_access_name_tracefs_not_a_missing_mount(
        unprivileged):
    if not os.path.isdir("/sys/kernel/tracing/events"):
        pytest.skip("tracefs is not mounted at /sys/kernel/tracing")
    if os.stat("/sys/kernel/tracing").st_mode & 0o005:
        pytest.skip("this tracefs is readable by every user")
    listing = unprivileged("-l", "tracepoint:syscalls:*open*", caps="+bpf,+perfmon")
    assert (listing.returncode, listing.stdout, listing.stderr) == (1, "", TRACEFS)
