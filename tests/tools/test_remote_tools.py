"""The BPFd article's tools through a remote target: `--target exec:` runs the agent
as a child process here (the loopback remote), and the output has the same shape
as a local run's."""

import re

import pytest

from tests.tools.harness import ToolRun
from tests.tools.workloads import device_numbers, direct_io, loop_device

REMOTE = ("--target", "exec:")


@pytest.fixture(scope="module")
def loop():
    with loop_device() as device:
        yield device


def test_biosnoop_through_exec_target(loop):
    major, minor = device_numbers(loop)
    with ToolRun("biosnoop", options=REMOTE) as run:
        writer = direct_io(loop, write=True, blocks=3, block_size=65536)
    assert run.output.splitlines()[1].split() == [
        "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)"]
    rows = [r for r in run.rows(8) if len(r) == 8 and r[2] == str(writer)]
    assert [(r[1], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("dd", f"{major}:{minor}", "W", str(i * 128), "65536") for i in range(3)]


def test_biotop_through_exec_target(loop):
    major, minor = device_numbers(loop)
    with ToolRun("biotop", options=REMOTE) as run:
        reader = direct_io(loop, write=False, blocks=5, block_size=8192)
        run.wait_for(rf"^@io\[{reader}, dd, R\w*, {major}, {minor}\]", timeout=5)
    assert re.search(rf"^@io\[{reader}, dd, R\w*, {major}, {minor}\]: count 5, average 8, "
                     r"total 40$", run.output, re.M), run.output
    assert re.search(r"^\d\d:\d\d:\d\d loadavg: [\d.]+ ", run.output, re.M)


def test_filetop_through_exec_target(short_tmp):
    from tests.tools.workloads import spawn_and_wait
    path = short_tmp / "remote-file"
    with ToolRun("filetop", options=REMOTE) as run:
        pid = spawn_and_wait(["python3", "-c", f"open('{path}', 'w').write('z' * 5000)"])
        run.wait_for(rf"^@writes\[{pid}, python3, \d+, {path}\]", timeout=5)
    assert re.search(rf"^@writes\[{pid}, python3, \d+, {path}\]: count 1, average 5000, "
                     r"total 5000$", run.output, re.M), run.output


def test_hardirqs_through_exec_target(tmp_path):
    import subprocess
    with ToolRun("hardirqs", options=REMOTE) as run:
        subprocess.run(["dd", "if=/dev/zero", f"of={tmp_path / 'f'}", "bs=64k", "count=16",
                        "oflag=direct", "status=none"], check=True)
    counts = re.findall(r"^@count\[(.+)\]: (\d+)$", run.output, re.M)
    usecs = re.findall(r"^@usecs\[(.+)\]: (\d+)$", run.output, re.M)
    assert counts and {n for n, _ in counts} == {n for n, _ in usecs}, run.output
