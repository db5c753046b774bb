"""However a remote run over ssh ends (the ssh client killed, the agent killed,
pytrace itself killed, Ctrl-C), the agent on the target ends and the kernel
frees everything it held: nothing of pytrace's is left there. When the
connection is what broke, pytrace ends non-zero with one line saying why (no
traceback, no hang); Ctrl-C still prints the maps."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.helpers.processes import alive, descendants
from tests.remote.helpers import (bpf_map_names, eventually, kill, ssh_client_of,
                                  pytrace_running, unique_map_name, wait_for_line)


def program(map_name: str) -> str:
    return f"interval:ms:50 {{ @{map_name} = count(); }}"


def end_after_client_killed(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("pytrace hung after its ssh client was killed")
    return proc.returncode, proc.stderr.read()


def assert_one_line_reason(code: int, stderr: str) -> None:
    assert code != 0
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert "connection" in lines[0].lower() or "target" in lines[0].lower(), lines[0]


@pytest.mark.kernel
def test_killing_the_ssh_client_leaves_nothing_on_the_target(ssh_server):
    name = unique_map_name()
    with pytrace_running(["--target", ssh_server.target, "-e", program(name)],
                         env=ssh_server.environ()) as proc:
        wait_for_line(proc.stdout, "Attaching")
        agents = descendants(ssh_server.process.pid)
        assert agents, "no ssh session on the target"
        assert f"AT_{name}" in eventually(lambda: bpf_map_names(_bpftool()) & {f"AT_{name}"})
        kill(ssh_client_of(proc))
        assert_one_line_reason(*end_after_client_killed(proc))
        left = eventually(lambda: not descendants(ssh_server.process.pid), deadline_s=30)
        assert left, f"still running under sshd: {descendants(ssh_server.process.pid)}"
        assert map_freed(name)


@pytest.mark.kernel
def test_killing_the_ssh_client_leaves_nothing_in_the_6_1_guest(qemu_guest):
    name = unique_map_name()
    with pytrace_running(["--target", qemu_guest.ssh.target, "-e", program(name)],
                         env=qemu_guest.ssh.environ()) as proc:
        wait_for_line(proc.stdout, "Attaching")
        assert f"AT_{name}" in bpf_map_names(_guest(qemu_guest, "bpftool map show"))
        kill(ssh_client_of(proc))
        assert_one_line_reason(*end_after_client_killed(proc))

        # PID 1 of the guest is a python3 too (the reaper): any other one is an agent.
        agents = "ps -eo pid=,comm= | awk '$2 ~ /^python3/ && $1 != 1'"
        assert eventually(lambda: _guest(qemu_guest, agents) == "", deadline_s=60, step=1), \
            _guest(qemu_guest, "ps -ef")
        assert eventually(lambda: f"AT_{name}" not in bpf_map_names(
            _guest(qemu_guest, "bpftool map show")), deadline_s=60, step=1)
        assert _guest(qemu_guest, "cat /sys/kernel/tracing/kprobe_events /sys/kernel/tracing/uprobe_events") == ""


def map_freed(name: str) -> bool:
    # The kernel frees a map from a work queue after its last reference goes.
    return eventually(lambda: f"AT_{name}" not in bpf_map_names(_bpftool()))


def _bpftool() -> str:
    return subprocess.run(["bpftool", "map", "show"], capture_output=True, text=True,
                          timeout=60).stdout


def _guest(vm, command: str) -> str:
    done = vm.ssh.run(command, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.kernel
def test_killing_pytrace_itself_ends_the_agent_on_the_target(ssh_server):
    """SIGKILL gives pytrace no chance to clean up: the agent must notice its
    stdin close (the ssh client sends EOF when its parent's pipe closes)."""
    name = unique_map_name()
    with pytrace_running(["--target", ssh_server.target, "-e", program(name)],
                         env=ssh_server.environ()) as proc:
        wait_for_line(proc.stdout, "Attaching")
        client = ssh_client_of(proc)
        kill(proc.pid)
        proc.wait(timeout=30)
        assert eventually(lambda: not alive(client)), "the ssh client outlived pytrace"
        assert eventually(lambda: not descendants(ssh_server.process.pid)), \
            f"still running under sshd: {descendants(ssh_server.process.pid)}"
        assert map_freed(name)


@pytest.mark.kernel
def test_killing_the_agent_ends_pytrace_with_one_line(ssh_server):
    name = unique_map_name()
    with pytrace_running(["--target", ssh_server.target, "-e", program(name)],
                         env=ssh_server.environ()) as proc:
        wait_for_line(proc.stdout, "Attaching")
        agents = [p for p in descendants(ssh_server.process.pid) if _comm(p).startswith("python")]
        assert len(agents) == 1, [(_comm(p), p) for p in descendants(ssh_server.process.pid)]
        kill(agents[0])
        assert_one_line_reason(*end_after_client_killed(proc))
        assert eventually(lambda: not descendants(ssh_server.process.pid))
        assert map_freed(name)


@pytest.mark.kernel
def test_ctrl_c_over_ssh_prints_the_maps_and_frees_everything(ssh_server):
    name = unique_map_name()
    with pytrace_running(["--target", ssh_server.target, "-e",
                          f"BEGIN {{ @{name}[\"begin\"] = 7; }} "
                          "interval:ms:50 { @ticks = count(); printf(\"tick\\n\"); }"],
                         env=ssh_server.environ()) as proc:
        wait_for_line(proc.stdout, "tick")
        assert f"AT_{name}" in bpf_map_names(_bpftool())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        events, _, maps = ("\n" + out).partition("\n\n\n")
        assert set(events.split()) <= {"tick"}, out
        assert f"@{name}[begin]: 7\n" in maps and "\n@ticks: " in maps, out
        assert eventually(lambda: not descendants(ssh_server.process.pid))
        assert map_freed(name)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
