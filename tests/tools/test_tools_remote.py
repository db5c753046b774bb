"""The tools through remote targets: `--target exec:` (the agent as a child
process here) and `--target ssh://` (the private sshd of tests/helpers/sshd.py,
on this machine), compared with a local run of the same tool.

- biosnoop, biotop, filetop and hardirqs, the BPFd article's tools, print the
  same shape remotely as locally under the same workload: the same banner and
  header lines, the same rows for the workload's I/O (its pid and timings
  aside), the same kinds of lines for everything else.
- Every tool compiles and loads through the verifier through `--target
  exec:`, in one agent session: what a remote target adds (facts read through
  the agent, programs and maps made by it) breaks no tool.
"""

from __future__ import annotations

import io
import re
import subprocess

import pytest

from tests.tools.harness import ToolRun, tool_names, tool_path
from tests.tools.workloads import device_numbers, direct_io, loop_device, spawn_and_wait


@pytest.fixture(scope="module")
def loop():
    with loop_device() as device:
        yield device


def targets(request) -> dict[str, dict]:
    """ToolRun keyword arguments for each target: local, exec and ssh."""
    ssh = request.getfixturevalue("ssh_server")
    return {
        "local": {},
        "exec": {"options": ("--target", "exec:")},
        "ssh": {"options": ("--target", ssh.target), "env": ssh.environ(),
                "link_roots": [ssh.process.pid]},
    }


def shape(output: str, pid: int, ours=lambda line: True, key_free: bool = False) -> set[str]:
    """The lines of a run as kinds of line: numbers written N (the workload's
    pid PID), runs of blanks as one. Rows (map entries, biosnoop's events)
    that are not the workload's are left out, as what else ran differs between
    runs; so are those `ours` rejects. key_free: map keys written KEY and every
    entry kept (hardirqs: which interrupts fire is the machine's business)."""
    kinds = set()
    for line in output.splitlines():
        if not line.strip():
            continue
        if line.startswith("@") or re.match(r"\s*\d+\.\d+ ", line):
            if key_free:
                line = re.sub(r"^(@\w+)\[.*\]:", r"\1[KEY]:", line)
            elif re.search(rf"\b{pid}\b", line) and ours(line):
                line = re.sub(rf"\b{pid}\b", "PID", line)
            else:
                continue
        kinds.add(re.sub(r"\s+", " ", re.sub(r"\b\d+\b", "N", line)).strip())
    return kinds


def run_each_target(request, tool: str, workload, wait: str | None = None) -> dict[str, tuple]:
    """The tool on each target with the workload (which returns its pid): {target: (output, pid)}."""
    runs = {}
    for name, options in targets(request).items():
        with ToolRun(tool, **options) as run:
            pid = workload()
            if wait:
                run.wait_for(wait.replace("PID", str(pid)), timeout=10)
        runs[name] = (run.output, pid)
    return runs


def test_biosnoop_prints_the_local_shape_through_exec_and_ssh(request, loop):
    major, minor = device_numbers(loop)
    runs = run_each_target(request, "biosnoop",
                           lambda: direct_io(loop, write=True, blocks=3, block_size=65536))
    shapes = {name: shape(out, pid, lambda line: f" {major}:{minor} " in line)
              for name, (out, pid) in runs.items()}
    local_out = runs["local"][0]
    assert local_out.splitlines()[1].split() == [
        "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES", "LAT(ms)"], local_out
    # The three writes: sectors 0, 128, 256 are numbers, so the rows' kind is one line.
    assert "N.N dd PID N:N W N N N.N" in shapes["local"], local_out
    assert shapes["exec"] == shapes["local"]
    assert shapes["ssh"] == shapes["local"]
    for name, (out, pid) in runs.items():
        header = out.splitlines()[1]
        assert header == local_out.splitlines()[1], name
        rows = [r.split() for r in out.splitlines()
                if re.search(rf" {pid} +{major}:{minor} ", r)]
        assert [(r[4], r[5], r[6]) for r in rows] == [
            ("W", str(i * 128), "65536") for i in range(3)], (name, out)


def test_biotop_prints_the_local_shape_through_exec_and_ssh(request, loop):
    major, minor = device_numbers(loop)
    runs = run_each_target(request, "biotop",
                           lambda: direct_io(loop, write=True, blocks=3, block_size=65536),
                           wait=rf"^@io\[PID, dd, W\w*, {major}, {minor}\]")
    # dd's own start-up may read its binary from another disk: not the workload's.
    shapes = {name: shape(out, pid, lambda line: f", {major}, {minor}]" in line)
              for name, (out, pid) in runs.items()}
    assert "@io[PID, dd, WS, N, N]: count N, average N, total N" in shapes["local"], shapes
    assert shapes["exec"] == shapes["local"] and shapes["ssh"] == shapes["local"], shapes
    for name, (out, pid) in runs.items():
        assert re.search(rf"^@io\[{pid}, dd, W\w*, {major}, {minor}\]: count 3, average 64, "
                         r"total 192$", out, re.M), (name, out)


def test_filetop_prints_the_local_shape_through_exec_and_ssh(request, short_tmp):
    path = short_tmp / "shape-file"
    runs = run_each_target(
        request, "filetop",
        lambda: spawn_and_wait(["python3", "-c", f"open('{path}', 'w').write('z' * 3000)"]),
        wait=rf"^@writes\[PID, python3, \d+, {path}\]")
    shapes = {name: shape(out, pid, lambda line: str(path) in line)
              for name, (out, pid) in runs.items()}
    assert f"@writes[PID, python3, N, {path}]: count N, average N, total N" in shapes["local"]
    assert shapes["exec"] == shapes["local"] and shapes["ssh"] == shapes["local"], shapes
    for name, (out, pid) in runs.items():
        assert re.search(rf"^@writes\[{pid}, python3, \d+, {path}\]: count 1, average 3000, "
                         r"total 3000$", out, re.M), (name, out)


def test_hardirqs_prints_the_local_shape_through_exec_and_ssh(request, short_tmp):
    def disk_io() -> int:
        return spawn_and_wait(["dd", "if=/dev/zero", f"of={short_tmp / 'f'}", "bs=64k",
                               "count=16", "oflag=direct", "status=none"])
    runs = run_each_target(request, "hardirqs", disk_io)
    shapes = {name: shape(out, pid, key_free=True) for name, (out, pid) in runs.items()}
    # Which maps get rows depends on which interrupts fired during each run:
    # every run has the two counting maps, and the lines around them agree.
    for kinds in shapes.values():
        assert {"@count[KEY]: N", "@usecs[KEY]: N"} <= kinds, shapes

    def fixed(kinds):
        return {k for k in kinds if not k.startswith("@")}
    assert fixed(shapes["exec"]) == fixed(shapes["local"]) == fixed(shapes["ssh"]), shapes


# ---- every tool through the exec target -------------------------------------------------

@pytest.fixture(scope="module")
def exec_target():
    from pytrace.target.choose import open_target
    target = open_target("exec:")
    yield target
    target.close_all()


def load_through(target, path: str) -> int:
    """Compile a tool against the target's facts and load its programs there,
    attaching nothing; the number of programs loaded."""
    from pytrace.diagnostics import Source
    from pytrace.runtime.loader import load
    from pytrace.session import Session

    with open(path, encoding="utf-8") as f:
        source = Source(f.read(), path)
    compiled = Session(source, target=target, warning_stream=io.StringIO()).compile()
    loaded = load(target, compiled.object, compiled.resources)
    try:
        # A remote target sends the load with the next request: wait for it,
        # so a verifier rejection there fails here.
        target.sync()
        return len(loaded.programs)
    finally:
        loaded.close(target)


@pytest.mark.parametrize("name", tool_names())
def test_every_tool_loads_through_the_exec_target(exec_target, name):
    asked = exec_target.round_trips
    assert load_through(exec_target, tool_path(name)) >= 1
    assert exec_target.round_trips > asked   # the agent did the loading
