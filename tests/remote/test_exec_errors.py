"""A remote session that cannot start or goes wrong ends with one clear line and
a non-zero status: never a traceback, never a hang. Through `--target exec:`,
the agent running on this machine (tests/remote/relay.py damages or cuts the
stream where a test needs it)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.remote.helpers import REPO, one_error_line, pytrace, start_pytrace, wait_for_line

RELAY = f"{sys.executable} {REPO / 'tests' / 'remote' / 'relay.py'}"
TICKS = 'interval:ms:20 { printf("tick %d\\n", 7); }'



@pytest.mark.kernel
def test_a_target_without_python3_says_so():
    done = pytrace(["--target", "exec:env PATH=/nonexistent", "-e", "BEGIN { exit(); }"])
    line = one_error_line(done)
    assert line.startswith("ERROR: --target exec:env PATH=/nonexistent: the target has no "
                           "python3 (the agent needs Python 3.6 or later there): ")
    assert done.stdout == ""


@pytest.mark.kernel
def test_an_agent_of_another_version_is_refused():
    env = dict(os.environ, PYTRACE_TEST_AGENT_VERSION="0123456789abcdef")
    line = one_error_line(pytrace(["--target", "exec:", "-e", "BEGIN { exit(); }"], env=env))
    assert line.startswith("ERROR: the agent on exec: is version 0123456789abcdef, "
                           "this pytrace ships ")
    assert line.endswith(": a mismatched agent is refused")


@pytest.mark.kernel
@pytest.mark.parametrize("byte, reason", [
    (1, "corrupt frame before the handshake (not a pytrace agent speaking?)"),
    (20, "corrupt frame (checksum mismatch)"),
])
def test_a_corrupt_frame_at_the_start_ends_the_session(byte, reason):
    target = f"exec:{RELAY} --corrupt-at {byte} --"
    line = one_error_line(pytrace(["--target", target, "-e", "BEGIN { exit(); }"]))
    assert line == f"ERROR: target {target}: {reason}"


@pytest.mark.kernel
def test_a_corrupt_frame_while_tracing_ends_the_session_with_what_was_printed():
    """The stream breaks well after the start, among the events."""
    target = f"exec:{RELAY} --corrupt-at 6000 --"
    done = pytrace(["--target", target, "-e", TICKS], timeout=120)
    line = one_error_line(done)
    assert line.startswith(f"ERROR: target {target}: corrupt frame")
    assert done.stdout.startswith("Attaching 1 probe...\ntick 7\n")


@pytest.mark.kernel
def test_a_dropped_connection_prints_what_it_had_and_one_line():
    target = f"exec:{RELAY} --kill-after-bytes 6000 --"
    done = pytrace(["--target", target, "-e", TICKS], timeout=120)
    line = one_error_line(done)
    assert line.startswith(f"ERROR: lost the connection to the target {target}")
    assert done.stdout.startswith("Attaching 1 probe...\ntick 7\n")
    assert set(done.stdout.splitlines()[1:]) == {"tick 7"}


@pytest.mark.kernel
def test_a_target_without_btf_gets_the_error_a_kernel_without_btf_gets():
    """The located error (message, source line, marker) a BTF-less kernel gives."""
    env = dict(os.environ, PYTRACE_TEST_AGENT_NO_BTF="1")
    done = pytrace(["--target", "exec:", "-e", "kfunc:vfs_read { @ = count(); }"], env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("stdin:1:1-15: ERROR: kfunc:vfs_read: fentry probes need kernel BTF "
                           "(/sys/kernel/btf/vmlinux is missing)\n"
                           "kfunc:vfs_read { @ = count(); }\n~~~~~~~~~~~~~~\n")


@pytest.mark.kernel
def test_tracepoint_arguments_need_no_btf_on_the_target():
    env = dict(os.environ, PYTRACE_TEST_AGENT_NO_BTF="1")
    done = pytrace(["--target", "exec:", "-e",
                    'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
                    '{ printf("%d\\n", args.__syscall_nr); exit(); }',
                    "-c", "python3 -S -c 'import os; os.getppid()'"], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["Attaching 1 probe...", "110"]


@pytest.mark.kernel
def test_an_unknown_target_kind_is_one_line():
    line = one_error_line(pytrace(["--target", "exec", "-e", "BEGIN { exit(); }"]))
    assert line == ("ERROR: --target exec: unknown target (use local, exec:COMMAND, "
                    "ssh://[user@]host[:port] or adb[:serial])")


@pytest.mark.kernel
def test_a_session_whose_agent_is_killed_ends_at_once():
    proc = start_pytrace(["--target", "exec:", "-e", TICKS])
    try:
        wait_for_line(proc.stdout, "tick 7")
        from tests.helpers.processes import descendants
        agents = descendants(proc.pid)
        assert agents, "pytrace started no agent"
        for pid in agents:
            os.kill(pid, 9)
        proc.wait(timeout=60)
        stderr = proc.stderr.read()
        assert proc.returncode == 1
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(
            "ERROR: lost the connection to the target exec:"), stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
