"""The private sshd the remote tests reach 127.0.0.1 through: a real ssh login with
no prompt, a clean binary stdin/stdout pipe (what the agent's protocol rides on),
and nothing left running once it stops."""

import os
import shlex
import subprocess
import time

from tests.helpers.processes import alive, descendants
from tests.helpers.sshd import SSH_OPTS_ENV, SshServer


def test_ssh_runs_a_command_without_prompting(ssh_server):
    done = ssh_server.run("python3", "-c", shlex.quote("import os; print('uid', os.getuid())"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"uid {os.getuid()}\n"


def test_ssh_carries_arbitrary_bytes_both_ways(ssh_server):
    payload = bytes(range(256)) * 4096 + b"\r\n\x00end"
    reverse = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"
    done = subprocess.run(ssh_server.ssh_command("python3", "-c", shlex.quote(reverse)),
                          input=payload, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == payload[::-1]


def test_environment_points_ssh_at_the_private_config(ssh_server):
    opts = shlex.split(ssh_server.environ()[SSH_OPTS_ENV])
    done = subprocess.run(["ssh", *opts, ssh_server.alias, "echo", "via-env"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout) == (0, "via-env\n"), done.stderr


def test_remote_exit_status_comes_back(ssh_server):
    assert ssh_server.run("exit 7").returncode == 7


def test_stop_ends_the_listener_and_its_sessions(ssh_keys):
    server = SshServer(ssh_keys, alias="pytrace-stop-test").start()
    session = subprocess.Popen(server.ssh_command("sleep", "300"), stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 20
        while not any(_comm(p) == "sleep" for p in descendants(server.process.pid)):
            assert time.monotonic() < end, "the ssh session never started its command"
            time.sleep(0.1)
        left = [server.process.pid] + descendants(server.process.pid)
        server.stop()
        assert [p for p in left if alive(p)] == []
        assert session.wait(timeout=20) != 0
        refused = server.run("true", timeout=30)
        assert refused.returncode == 255
    finally:
        session.kill()
        session.wait()
        server.stop()


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
