"""Tools about processes, files and signals, each run under a workload it must report."""

import os
import re
import signal
import subprocess

from tests.tools.harness import ToolRun
from tests.tools.workloads import send_signal_to_sleeper, spawn_and_wait


def test_opensnoop_reports_the_workloads_open_with_fd_and_errno(short_tmp):
    present = short_tmp / "present"
    present.write_text("x")
    missing = short_tmp / "missing"
    with ToolRun("opensnoop") as run:
        pid = spawn_and_wait(["cat", str(present), str(missing)])
    rows = [r for r in run.rows(5) if r[0] == str(pid)]
    by_path = {r[4]: r for r in rows}
    assert by_path[str(present)][1] == "cat"
    assert int(by_path[str(present)][2]) >= 3 and by_path[str(present)][3] == "0"
    assert by_path[str(missing)][2:4] == ["-1", "2"]  # ENOENT


def test_execsnoop_reports_the_command_line(short_tmp):
    with ToolRun("execsnoop") as run:
        pid = spawn_and_wait(["/bin/echo", "pt-exec-marker", "second arg"])
    line = next(l for l in run.output.splitlines() if "pt-exec-marker" in l)
    fields = line.split(None, 2)
    assert fields[1] == str(pid)
    assert fields[2] == "/bin/echo pt-exec-marker second arg"
    assert re.fullmatch(r"\d+", fields[0])


def test_killsnoop_reports_sender_signal_target_and_result():
    with ToolRun("killsnoop") as run:
        sender, target = send_signal_to_sleeper(signal.SIGUSR1)
        try:
            os.kill(target, signal.SIGUSR2)  # reaped by now: ESRCH
        except ProcessLookupError:
            pass
    rows = [r for r in run.rows(6) if len(r) == 6 and r[1] == str(sender) and r[4] == str(target)]
    assert [(r[3], r[5]) for r in rows] == [(str(int(signal.SIGUSR1)), "0"),
                                            (str(int(signal.SIGUSR2)), "-3")], run.output
    with open("/proc/self/comm") as f:
        assert rows[0][2] == f.read().strip()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", rows[0][0])


def test_pidpersec_counts_forks_each_second():
    with ToolRun("pidpersec") as run:
        for _ in range(20):
            spawn_and_wait(["true"])
        run.wait_for(r"PIDs/sec: @: \d+", timeout=5)
    counts = [int(n) for n in re.findall(r"PIDs/sec: @: (\d+)", run.output)]
    assert sum(counts) >= 20


def test_runqlat_histogram_of_wakeups():
    with ToolRun("runqlat") as run:
        for _ in range(5):
            spawn_and_wait(["sleep", "0.01"])
    assert "@usecs:" in run.output
    counts = [int(n) for n in re.findall(r"^\[.*\)\s+(\d+) \|", run.output, re.M)]
    assert sum(counts) >= 5


def test_cpuwalk_counts_samples_on_the_cpu_a_busy_process_runs_on():
    with ToolRun("cpuwalk") as run:
        busy = subprocess.Popen(["taskset", "-c", "0", "timeout", "1", "sh", "-c",
                                 "while :; do :; done"])
        busy.wait()
    match = re.search(r"^\[0, 1\)\s+(\d+) \|", run.output, re.M)
    assert "@cpu:" in run.output and match, run.output
    assert int(match.group(1)) >= 50  # ~99 samples in the busy second


def test_naptime_shows_the_sleeper_its_parent_and_the_duration():
    with ToolRun("naptime") as run:
        shell = subprocess.Popen(["sh", "-c", "sleep 0.25; sleep 0.3"])
        shell.wait()
    rows = [r for r in run.rows(6) if len(r) == 6 and r[1] == str(shell.pid)]
    assert [(r[2], r[4], r[5]) for r in rows] == [("sh", "sleep", "0.250"),
                                                  ("sh", "sleep", "0.300")], run.output
