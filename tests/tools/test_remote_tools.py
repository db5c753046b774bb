"""The BPFd article's tools through a remote target: `--target exec:` runs the agent
as a child process here (the loopback remote), and the output has the same shape
as a local run's."""

import re

import pytest

from tests.tools.harness import ToolRun, top_intervals
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
    with ToolRun("biotop", "1", "0", "C", options=REMOTE) as run:
        reader = direct_io(loop, write=False, blocks=5, block_size=8192)
        run.wait_for(rf"^@io\[{reader}, dd, R\w*, {major}, {minor}\]", timeout=5)
    assert re.search(rf"^@io\[{reader}, dd, R\w*, {major}, {minor}\]: count 5, average 8, "
                     r"total 40$", run.output, re.M), run.output
    assert_no_clear_shape(run.output, "@io[PID, COMM, D, MAJ, MIN]: ")


def assert_no_clear_shape(output: str, header: str) -> None:
    """C (BCC's -C): no screen clearing; each interval after a blank line, as
    the local shape otherwise (tests/tools/test_block_tools.py)."""
    intervals = top_intervals(output)
    assert intervals and "\x1b" not in output, output
    for block in intervals:
        assert re.match(r"\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+\n\n"
                        + re.escape(header), block), block
        assert output[:output.index(block)].endswith("\n\n")


def test_filetop_through_exec_target(short_tmp):
    from tests.tools.workloads import spawn_and_wait
    path = short_tmp / "remote-file"
    with ToolRun("filetop", "1", "0", "C", options=REMOTE) as run:
        pid = spawn_and_wait(["python3", "-c", f"open('{path}', 'w').write('z' * 5_000_000)"])
        run.wait_for(rf"^@writes\[{pid}, python3, \d+, {path}\]", timeout=5)
    assert re.search(rf"^@writes\[{pid}, python3, \d+, {path}\]: count 1, average 5000000, "
                     r"total 5000000$", run.output, re.M), run.output
    assert_no_clear_shape(run.output, "@reads/@writes[TID, COMM, FD, FILE]: ")


def test_hardirqs_through_exec_target(tmp_path):
    import subprocess
    with ToolRun("hardirqs", options=REMOTE) as run:
        subprocess.run(["dd", "if=/dev/zero", f"of={tmp_path / 'f'}", "bs=64k", "count=16",
                        "oflag=direct", "status=none"], check=True)
    counts = re.findall(r"^@count\[(.+)\]: (\d+)$", run.output, re.M)
    usecs = re.findall(r"^@usecs\[(.+)\]: (\d+)$", run.output, re.M)
    assert counts and {n for n, _ in counts} == {n for n, _ in usecs}, run.output


# ---- ssh and the 6.1 kernel: fixtures of the remote-targets work (tests/helpers/sshd.py,
# qemu_vm.py); these tests skip where those fixtures are not there.

def remote_fixture(request, name: str):
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"the {name} fixture (remote-targets test helpers) is not available")


@pytest.mark.parametrize("tool", ["biosnoop", "biotop"])
def test_block_tools_over_ssh_match_the_local_shape(request, loop, tool):
    ssh = remote_fixture(request, "ssh_server")
    major, minor = device_numbers(loop)
    options = ("--target", ssh.target)
    with ToolRun(tool, options=options, env=ssh.environ(),
                 link_roots=[ssh.process.pid]) as run:
        writer = direct_io(loop, write=True, blocks=3, block_size=65536)
        if tool == "biotop":
            run.wait_for(rf"^@io\[{writer}, dd, W\w*, {major}, {minor}\]", timeout=5)
    if tool == "biosnoop":
        rows = [r for r in run.rows(8) if len(r) == 8 and r[2] == str(writer)]
        assert [(r[1], r[3], r[4], r[5], r[6]) for r in rows] == [
            ("dd", f"{major}:{minor}", "W", str(i * 128), "65536") for i in range(3)]
    else:
        assert re.search(rf"^@io\[{writer}, dd, W\w*, {major}, {minor}\]: count 3, "
                         r"average 64, total 192$", run.output, re.M), run.output


def test_filetop_and_hardirqs_over_ssh(request, short_tmp):
    import subprocess
    from tests.tools.workloads import spawn_and_wait
    ssh = remote_fixture(request, "ssh_server")
    path = short_tmp / "ssh-file"
    with ToolRun("filetop", options=("--target", ssh.target), env=ssh.environ(),
                 link_roots=[ssh.process.pid]) as run:
        pid = spawn_and_wait(["python3", "-c", f"open('{path}', 'w').write('z' * 700_000)"])
        run.wait_for(rf"^@writes\[{pid}, python3, \d+, {path}\]", timeout=5)
    assert re.search(rf"^@writes\[{pid}, python3, \d+, {path}\]: count 1, average 700000, "
                     r"total 700000$", run.output, re.M), run.output
    with ToolRun("hardirqs", options=("--target", ssh.target), env=ssh.environ(),
                 link_roots=[ssh.process.pid]) as run:
        subprocess.run(["dd", "if=/dev/zero", f"of={short_tmp / 'f'}", "bs=64k", "count=16",
                        "oflag=direct", "status=none"], check=True)
    assert re.search(r"^@count\[.+\]: \d+$", run.output, re.M), run.output


def test_dcsnoop_traces_on_the_kernel_with_kprobes(request):
    """dcsnoop needs kprobes, which the 6.1 test VM has: a lookup of a name that does
    not exist there shows as a miss (M) made by the process that looked."""
    import time
    vm = remote_fixture(request, "qemu_guest")
    with ToolRun("dcsnoop", options=("--target", vm.ssh.target), env=vm.ssh.environ(),
                 count_links=False) as run:
        deadline = time.monotonic() + 60
        seen = None
        while seen is None and time.monotonic() < deadline:
            vm.ssh.run("cat", "/pt-dcsnoop-missing", timeout=30)
            seen = re.search(r"^\d+\s+\d+\s+cat\s+M pt-dcsnoop-missing$", run.output_so_far(),
                             re.M)
    assert seen, run.output
