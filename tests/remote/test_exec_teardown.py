"""However a remote run ends (exit(), Ctrl-C, SIGTERM, the agent killed, pytrace
killed), nothing of it stays on the target: the agent ends, and no BPF program,
link or map it held is left, and uprobe_events stays empty. Through
`--target exec:` (the agent is a child process of pytrace on this machine);
the ssh transport has the same checks in test_ssh_teardown.py. Ctrl-C and
SIGTERM still print the maps."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from tests.helpers.processes import alive, descendants
from tests.remote.helpers import eventually, kill, start_pytrace, unique_map_name, wait_for_line

UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"


def bpftool(*args: str) -> list[dict]:
    done = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
    return json.loads(done.stdout or "[]") if done.returncode == 0 else []


def held_by(pids: list[int]) -> dict[str, set[int]]:
    """Ids of the programs, maps and links these processes hold: their fds'
    fdinfo names them (prog_id, map_id, link_id)."""
    held: dict[str, set[int]] = {"prog": set(), "map": set(), "link": set()}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fdinfo")
        except OSError:
            continue
        for fd in fds:
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    info = f.read()
            except OSError:
                continue
            for line in info.splitlines():
                key, _, value = line.partition(":")
                if key in ("prog_id", "map_id", "link_id"):
                    held[key[:-3]].add(int(value))
    return held


def still_there(held: dict[str, set[int]]) -> dict[str, set[int]]:
    now = {kind: {obj["id"] for obj in bpftool(kind, "show")} for kind in held}
    return {kind: ids & now[kind] for kind, ids in held.items() if ids & now[kind]}


def program(name: str) -> str:
    # A tracepoint, a timer and a uprobe: a perf event, a link and a uprobe each.
    return (f"tracepoint:syscalls:sys_enter_getppid {{ @{name}[1] = count(); }}\n"
            f"interval:ms:20 {{ @{name}[2] = count(); printf(\"tick\\n\"); }}\n"
            f"uprobe:/bin/bash:readline {{ @{name}[3] = count(); }}")


def start(name: str, extra: str = "") -> tuple[subprocess.Popen, list[int], dict]:
    proc = start_pytrace(["--target", "exec:", "-e", program(name) + extra])
    wait_for_line(proc.stdout, "tick")
    agents = descendants(proc.pid)
    assert agents, "pytrace started no agent"
    held = eventually(lambda: (lambda h: h if all(h.values()) else None)(held_by(agents)))
    assert held and all(held.values()), f"the agent holds no program/map/link: {held}"
    return proc, agents, held


def assert_nothing_left(agents: list[int], held: dict) -> None:
    assert eventually(lambda: not any(alive(p) for p in agents), deadline_s=30), \
        f"agent still running: {agents}"
    assert eventually(lambda: not still_there(held), deadline_s=30), still_there(held)
    with open(UPROBE_EVENTS) as f:
        assert f.read().strip() == ""


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("pytrace did not end")
    return proc.returncode, out, err


@pytest.mark.kernel
def test_after_exit_nothing_is_left():
    name = unique_map_name()
    proc, agents, held = start(name, "\ninterval:ms:300 { exit(); }")
    code, out, err = finish(proc)
    assert code == 0, err
    assert f"@{name}[2]: " in out
    assert_nothing_left(agents, held)


@pytest.mark.kernel
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_run_with_the_maps_printed_and_nothing_left(sig):
    name = unique_map_name()
    proc, agents, held = start(name)
    proc.send_signal(sig)
    code, out, err = finish(proc)
    assert code == 0, err
    assert f"@{name}[2]: " in out
    assert_nothing_left(agents, held)


@pytest.mark.kernel
def test_killing_the_agent_leaves_nothing():
    name = unique_map_name()
    proc, agents, held = start(name)
    for pid in agents:
        kill(pid)
    code, _, err = finish(proc)
    assert code == 1 and "lost the connection to the target exec:" in err
    assert_nothing_left(agents, held)


@pytest.mark.kernel
def test_killing_pytrace_leaves_nothing():
    name = unique_map_name()
    proc, agents, held = start(name)
    kill(proc.pid)
    proc.wait(timeout=30)
    assert_nothing_left(agents, held)
