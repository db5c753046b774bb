"""What `pytrace` leaves when it exits after tracing many tracepoints: each
trace event's close waits an RCU grace period in the kernel, so the command
unlinks every program, prints, and hands the bare events to a detached child
that closes them. The output must be whole, the programs and maps gone at
once, and the child must hold nothing else and end by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.kernel


def _bpf_objects(kind: str) -> set[tuple[int, str]]:
    out = subprocess.run(["bpftool", "-j", kind, "list"], capture_output=True,
                         text=True).stdout
    return {(o["id"], o.get("name", "")) for o in json.loads(out or "[]")}


def _processes_with(marker: str) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(name))
        except OSError:
            pass
    return pids


def _fd_kinds(pid: int) -> set[str]:
    kinds = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            kinds.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return kinds


def test_many_tracepoints_exit_whole_and_leave_nothing_behind():
    marker = uuid.uuid4().hex
    events = sorted(e for e in os.listdir("/sys/kernel/tracing/events/syscalls")
                    if e.startswith("sys_enter_get"))
    assert len(events) > 8   # more than are closed in place
    progs, maps = _bpf_objects("prog"), _bpf_objects("map")
    program = (f"// {marker}\n"
               "tracepoint:syscalls:sys_enter_get* /pid == cpid/ { @[probe] = count(); }")
    done = subprocess.run([sys.executable, "-m", "pytrace", "-c", "/usr/bin/id -u", "-e",
                           program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Attaching {len(events)} probes...\n")
    assert "@[tracepoint:syscalls:sys_enter_geteuid]: 1\n" in done.stdout
    # Programs and maps are released with the command (the kernel may take a
    # grace period to drop their ids), not with the slow trace events.
    deadline = time.monotonic() + 5
    while not (_bpf_objects("prog") <= progs and _bpf_objects("map") <= maps):
        assert time.monotonic() < deadline, (_bpf_objects("prog") - progs,
                                             _bpf_objects("map") - maps)
        time.sleep(0.05)
    left = _processes_with(marker)
    for pid in left:
        try:
            kinds = _fd_kinds(pid)
        except FileNotFoundError:
            continue   # already done
        # Only the bare perf events (and /dev/null for stdio) are left in it.
        assert kinds <= {"anon_inode:[perf_event]", "/dev/null"}, kinds
    deadline = time.monotonic() + 60
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == []
