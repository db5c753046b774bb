"""The run path of the `pytrace` command: -o, -d, -v, -q, --target, -p, signals, the library API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pytrace.cli import main
from pytrace.session import Session, trace_output


def pytrace_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytrace", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# Prints one line on its first tick, so a test knows the probe is live.
TICKER = 'interval:ms:10 /@started == 0/ { @started = 1; printf("tick\\n"); }'


def wait_for_first_tick(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line == "Attaching 1 probe...\n", proc.stderr.read()
    assert proc.stdout.readline() == "tick\n"


@pytest.mark.kernel
def test_output_file_gets_the_trace_and_stdout_the_exit_separator(tmp_path, capfd):
    out = tmp_path / "trace.txt"
    code = main(["-o", str(out), "-e", 'BEGIN { printf("hi\\n"); @x = 3; exit(); }'])
    stdout, _ = capfd.readouterr()
    assert code == 0
    assert out.read_text() == "Attaching 1 probe...\nhi\n@x: 3\n"
    assert stdout == "\n\n"


@pytest.mark.kernel
def test_quiet_json_has_no_banner(capfd):
    code = main(["-q", "-f", "json", "-e", 'BEGIN { printf("a\\n"); exit(); }'])
    stdout, _ = capfd.readouterr()
    assert code == 0
    assert stdout == '{"type": "printf", "data": "a\\n"}\n\n\n'


@pytest.mark.parametrize("stage, expect", [
    ("ir", "define"), ("asm", "exit"), ("resources", "ProgramSpec("),
])
def test_debug_stages_print_and_do_not_load(stage, expect, capfd):
    code = main(["-d", stage, "-e", 'BEGIN { @c = count(); exit(); }'])
    stdout, _ = capfd.readouterr()
    assert code == 0
    assert expect in stdout
    assert "Attaching" not in stdout


@pytest.mark.kernel
def test_verbose_reports_instruction_counts(capfd):
    code = main(["-v", "-e", 'BEGIN { @c = count(); exit(); } END { @d = 1; }'])
    stdout, stderr = capfd.readouterr()
    assert code == 0
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Program ")]
    assert [ln.split(":")[0] for ln in lines] == ["Program BEGIN", "Program END"]
    for ln in lines:
        numbers = [int(w) for w in ln.replace(",", " ").split() if w.isdigit()]
        assert len(numbers) == 3 and all(n > 0 for n in numbers), ln
    assert stdout == "Attaching 2 probes...\n\n\n@c: 1\n@d: 1\n"


def test_malformed_targets_are_refused_cleanly(capfd):
    for target, message in (
            ("ssh://", "--target ssh://: no host (use ssh://[user@]host[:port])"),
            ("ssh://host:port", "--target ssh://host:port: the port must be a number"),
            ("telnet://host", "--target telnet://host: unknown target (use local, "
                              "exec:COMMAND, ssh://[user@]host[:port] or adb[:serial])")):
        code = main(["--target", target, "-e", "BEGIN { exit(); }"])
        _, stderr = capfd.readouterr()
        assert code == 1
        assert stderr == f"ERROR: {message}\n"


def test_an_unreachable_remote_target_is_one_clean_line(capfd):
    code = main(["--target", "ssh://no-such-host.invalid", "-e", "BEGIN { exit(); }"])
    stdout, stderr = capfd.readouterr()
    assert code == 1 and stdout == ""
    assert stderr.startswith("ERROR: --target ssh://no-such-host.invalid: ")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_a_missing_command_is_an_error_not_a_hang(capfd):
    code = main(["-c", "/nonexistent/cmd", "-e", "BEGIN { exit(); }"])
    _, stderr = capfd.readouterr()
    assert code == 1
    assert stderr == ("ERROR: Failed to fork child: path '/nonexistent/cmd' does not exist "
                      "or is not executable\n")


@pytest.mark.kernel
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_trace_and_prints_the_maps(sig):
    proc = pytrace_process("-e", TICKER)
    try:
        wait_for_first_tick(proc)
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert stdout == "\n\n@started: 1\n"
    assert took < 1.0


@pytest.mark.kernel
def test_dash_p_ends_when_the_process_exits():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        proc = pytrace_process("-p", str(sleeper.pid), "-e", TICKER)
        wait_for_first_tick(proc)
        sleeper.kill()
        sleeper.wait()
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode == 0, stderr
    assert stdout == "\n\n@started: 1\n"


def test_dash_p_of_a_missing_process_is_an_error(capfd):
    pid = os.getpid()
    while True:  # a pid nobody has right now
        pid += 7919
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            continue
    code = main(["-p", str(pid), "-e", "BEGIN { exit(); }"])
    _, stderr = capfd.readouterr()
    assert code == 1
    assert stderr == f"ERROR: No such process: {pid}\n"


@pytest.mark.kernel
def test_library_api_returns_the_text_bpftrace_would_print():
    text = trace_output('BEGIN { printf("%s-%d\\n", str($1), 7); @n = count(); exit(); }', "x")
    assert text == "Attaching 1 probe...\nx-7\n\n\n@n: 1\n"


@pytest.mark.kernel
def test_session_runs_with_a_given_stream():
    import io
    out = io.StringIO()
    assert Session("BEGIN { @a[1] = 2; exit(); }", output=out, quiet=True).run() == 0
    assert out.getvalue() == "\n\n@a[1]: 2\n"


def bpf_fds() -> list[str]:
    """This process's fds that hold BPF programs, maps, links or perf events."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("anon_inode:") and ("bpf" in link or "perf" in link):
            out.append(link)
    return out


@pytest.mark.kernel
def test_an_attach_failure_is_one_error_and_leaves_nothing_open(capfd):
    before = bpf_fds()
    # kprobes load here but cannot attach (no CONFIG_KPROBES): a real attach error.
    code = main(["-e", 'BEGIN { printf("b\\n"); } kprobe:do_nanosleep { @ = 1; }'])
    stdout, stderr = capfd.readouterr()
    assert code == 1
    assert stderr.startswith("ERROR: ") and len(stderr.splitlines()) == 1
    assert "Traceback" not in stderr
    assert stdout.startswith("Attaching 2 probes...\n")
    assert bpf_fds() == before


@pytest.mark.kernel
def test_a_finished_run_leaves_nothing_open(capfd):
    before = bpf_fds()
    code = main(["-e", "interval:ms:5 { @n++; if (@n == 2) { exit(); } }"])
    capfd.readouterr()
    assert code == 0
    assert bpf_fds() == before
