"""Tools about files, interrupts, capabilities, memory and load, each under a workload."""

import os
import re
import subprocess
import time

import pytest

from tests.tools.harness import CLEAR_SCREEN, ToolRun, rows_in_order, run_tool, top_intervals
from tests.tools.workloads import spawn_and_wait


def test_filetop_counts_reads_and_writes_of_a_file_by_thread(short_tmp):
    path, small = short_tmp / "filetop-data", short_tmp / "filetop-small"
    with ToolRun("filetop") as run:
        # One process, back to back: the big file's writes and the small one's
        # fall in the same interval, where the big one's row must come first.
        # Megabytes, so that both are among the 20 rows shown on a busy machine.
        script = (f"f = open('{path}', 'wb', buffering=0)\n"
                  f"g = open('{small}', 'wb', buffering=0)\n"
                  "for _ in range(5): f.write(b'x' * 3_000_000)\n"
                  "g.write(b'y' * 1_000_000)\n"
                  "f.close(); g.close()\n"
                  f"f = open('{path}', 'rb', buffering=0)\n"
                  "while f.read(1_000_000): pass\n")
        pid = spawn_and_wait(["python3", "-c", script])
        run.wait_for(rf"^@reads\[{pid}, python3, \d+, {path}\]", timeout=5)
    writes = re.search(rf"^@writes\[{pid}, python3, \d+, {path}\]: (.*)$", run.output, re.M)
    reads = re.search(rf"^@reads\[{pid}, python3, \d+, {path}\]: (.*)$", run.output, re.M)
    assert writes.group(1) == "count 5, average 3000000, total 15000000"
    assert reads.group(1) == "count 15, average 1000000, total 15000000"
    # Busiest first: in the interval with both, the 15 MB row is above the
    # 1 MB one (bpftrace's own order would put it below).
    both = [rows_in_order(block, rf"^@writes\[{pid}, python3, \d+, {path}\]",
                          rf"^@writes\[{pid}, python3, \d+, {small}\]: count 1, average 1000000, ")
            for block in top_intervals(run.output)]
    both = [found for found in both if found]
    assert both and all(big < little for big, little in both), run.output
    # Each interval clears the screen, then the time, load averages and the header.
    intervals = top_intervals(run.output)
    assert intervals and all(block.startswith(CLEAR_SCREEN) for block in intervals)
    assert all(re.match(r"\x1b\[H\x1b\[2J\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ "
                        r"\d+\n\n@reads/@writes\[TID, COMM, FD, FILE\]: count, average bytes, "
                        r"total bytes\n", block) for block in intervals), intervals[0]


def interrupt_counts() -> dict[str, int]:
    counts = {}
    with open("/proc/interrupts") as f:
        cpus = len(f.readline().split())
        for line in f:
            fields = line.split()
            if not fields[0].rstrip(":").isdigit():
                continue
            total = sum(int(n) for n in fields[1:1 + cpus])
            counts[fields[-1]] = counts.get(fields[-1], 0) + total
    return counts


def test_hardirqs_counts_the_disk_interrupts_of_direct_io(tmp_path):
    before = interrupt_counts()
    with ToolRun("hardirqs") as run:
        path = tmp_path / "irq-data"
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=64k", "count=64",
                        "oflag=direct", "status=none"], check=True)
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=64k", "iflag=direct",
                        "status=none"], check=True)
    after = interrupt_counts()
    busiest = max(after, key=lambda name: after[name] - before.get(name, 0))
    seen = dict(re.findall(r"^@count\[(.+)\]: (\d+)$", run.output, re.M))
    usecs = dict(re.findall(r"^@usecs\[(.+)\]: (\d+)$", run.output, re.M))
    assert busiest in seen, run.output
    assert 0 < int(seen[busiest]) <= after[busiest] - before.get(busiest, 0)
    assert set(seen) <= set(after) and busiest in usecs


def test_capable_reports_checks_granted_and_denied():
    with ToolRun("capable") as run:
        granted = spawn_and_wait(["nice", "-n", "-1", "true"])
        denied = spawn_and_wait(["setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups", "nice", "-n", "-1", "true"])
    rows = [r for r in run.rows(7) if len(r) == 7]
    nice_ok = [r for r in rows if r[2] == str(granted) and r[5] == "CAP_SYS_NICE"]
    nice_no = [r for r in rows if r[2] == str(denied) and r[5] == "CAP_SYS_NICE"]
    assert nice_ok and nice_ok[0][1:5] == ["0", str(granted), "nice", "23"], run.output
    assert nice_no and nice_no[0][1] == "65534" and nice_no[-1][6] == "-1", run.output
    assert nice_ok[0][6] == "0"


def test_loads_prints_the_kernels_load_averages_each_second():
    with ToolRun("loads") as run:
        run.wait_for(r"load averages: ", timeout=5)
        with open("/proc/loadavg") as f:
            now = f.read().split()
    line = re.search(r"^(\d\d:\d\d:\d\d) load averages: (\S+) (\S+) (\S+) \d+/\d+ \d+$",
                     run.output, re.M)
    assert line, run.output
    for shown, actual in zip(line.groups()[1:], now[:3]):
        assert abs(float(shown) - float(actual)) < 1.0


def test_gethostlatency_times_libc_lookups():
    with ToolRun("gethostlatency") as run:
        pid = spawn_and_wait(["python3", "-c",
                              "import socket; socket.getaddrinfo('localhost', 80)"])
    rows = [r for r in run.rows(5) if len(r) == 5 and r[1] == str(pid)]
    assert rows and rows[0][2] == "python3" and rows[0][4] == "localhost", run.output
    assert re.fullmatch(r"\d+\.\d\d", rows[0][3])


def test_bashreadline_shows_a_command_typed_into_an_interactive_bash():
    import pty
    with ToolRun("bashreadline") as run:
        pid, fd = pty.fork()
        if pid == 0:
            os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"],
                      {"PATH": "/usr/bin:/bin", "TERM": "dumb", "PS1": "$ "})
        os.write(fd, b"echo pt-readline-marker\n")
        time.sleep(0.5)
        os.write(fd, b"exit\n")
        _drain(fd)
        os.waitpid(pid, 0)
    rows = [r for r in run.rows(3) if len(r) == 3 and r[1] == str(pid)]
    assert [r[2] for r in rows] == ["echo pt-readline-marker", "exit"], run.output


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:  # EIO once the shell has exited
        pass
    os.close(fd)


@pytest.fixture
def memory_cgroup():
    """A 48 MiB memory cgroup (v1 or v2), removed afterwards."""
    for root, limit in (("/sys/fs/cgroup/memory", "memory.limit_in_bytes"),
                        ("/sys/fs/cgroup", "memory.max")):
        if os.path.exists(os.path.join(root, limit)) or os.path.exists(
                os.path.join(root, "cgroup.controllers")):
            path = os.path.join(root, f"pt-oom-{os.getpid()}")
            try:
                os.mkdir(path)
                with open(os.path.join(path, limit), "w") as f:
                    f.write(str(48 << 20))
            except OSError:
                continue
            yield path
            os.rmdir(path)
            return
    pytest.skip("no memory cgroup to limit")


def test_oomkill_reports_the_victim_of_a_cgroup_oom(memory_cgroup):
    with ToolRun("oomkill") as run:
        hog = subprocess.Popen(["sh", "-c", f"echo $$ > {memory_cgroup}/cgroup.procs; "
                                "exec python3 -c 'x = b\"y\" * (400 << 20)'"])
        assert hog.wait() == -9
    line = re.search(r'^\d\d:\d\d:\d\d Triggered by PID (\d+) \("(.*?)"\), OOM kill of PID '
                     r'(\d+) \("(.*?)"\), total-vm (\d+) kB, rss anon (\d+) kB', run.output, re.M)
    assert line, run.output
    assert line.group(3) == str(hog.pid) and line.group(4) == "python3"
    assert int(line.group(6)) >= 40 << 10  # the hog's anon memory, near the 48 MiB limit
    assert "loadavg: " in line.string


def test_offcputime_sums_time_a_sleeper_spent_off_cpu():
    # Held on stdin until the tool is tracing, then sleeps 0.5 s; only its pid is traced.
    sleeper = subprocess.Popen(["sh", "-c", "read go; exec sleep 0.5"], stdin=subprocess.PIPE)
    with ToolRun("offcputime", "0", str(sleeper.pid)) as run:
        sleeper.communicate(b"go\n")
    entries = run.output.split("@usecs[")[1:]
    assert entries and all(", sleep]: " in e or ", sh]: " in e for e in entries), run.output
    slept = [e for e in entries if "do_nanosleep" in e and ", sleep]: " in e]
    assert slept, run.output
    total = int(re.search(r", sleep\]: (\d+)", slept[0]).group(1))
    assert 450_000 <= total <= 2_000_000


def test_offcputime_stops_after_its_duration():
    result = run_tool("offcputime", "1", str(os.getpid()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Attaching ")
