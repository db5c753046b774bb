"""What a user sees when an ssh target cannot be traced: one line naming the
cause (ssh's own words where ssh failed), a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import alive
from tests.helpers.sshd import SshEndpoint, SshServer, free_tcp_port
from tests.remote.helpers import eventually, pytrace

PROGRAM = "BEGIN { exit(); }"


def one_line_error(done) -> str:
    assert done.returncode != 0
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_target_without_that_python(ssh_server):
    env = ssh_server.environ()
    env["PYTRACE_REMOTE_PYTHON"] = "/nonexistent/python3"
    line = one_line_error(pytrace(["--target", ssh_server.target, "-e", PROGRAM], env=env))
    assert "/nonexistent/python3" in line


def test_nothing_listening_on_the_port(ssh_keys):
    closed = SshEndpoint(ssh_keys, "pytrace-closed-port", free_tcp_port())
    line = one_line_error(pytrace(["--target", closed.target, "-e", PROGRAM],
                                  env=closed.environ()))
    assert "Connection refused" in line


@pytest.mark.parametrize("what", ["host key", "client key"])
def test_ssh_refusing_to_connect_is_ssh_s_reason(ssh_server, tmp_path, what):
    env = ssh_server.environ()
    config = ssh_server.config_file.read_text()
    if what == "host key":
        # A known_hosts with another key for the alias: ssh must refuse (BatchMode).
        other = tmp_path / "known_hosts"
        other.write_text(f"{ssh_server.alias} ssh-ed25519 "
                         "AAAAC3NzaC1lZDI1NTE5AAAAIBKi2bP0tY2mR0Yl7eJc1v3v1cQ4Xr8bQ0m1y0o9l2qX\n")
        config = config.replace(str(ssh_server.keys.known_hosts), str(other))
    else:
        config = config.replace(str(ssh_server.keys.client_key), str(tmp_path / "no-such-key"))
    cfg = tmp_path / "ssh_config"
    cfg.write_text(config)
    env["PYTRACE_SSH_OPTS"] = f"-F {cfg}"
    line = one_line_error(pytrace(["--target", ssh_server.target, "-e", PROGRAM], env=env))
    expected = "Host key verification failed" if what == "host key" else "Permission denied"
    assert expected in line


@pytest.fixture(scope="module")
def password_server(ssh_keys):
    """An sshd that also offers password logins (so ssh would prompt for one)."""
    server = SshServer(ssh_keys, alias="pytrace-password")
    text = server.sshd_config_file.read_text()
    server.sshd_config_file.write_text(text.replace("PasswordAuthentication no",
                                                    "PasswordAuthentication yes"))
    with server.start():
        yield server


def prompting_env(server, tmp_path, extra_opts: str = "") -> tuple[dict, Path]:
    """ssh with no usable key, no BatchMode in its config, and an askpass program
    that never answers (it records its pid): a password prompt that hangs."""
    config = server.config_file.read_text().replace("  BatchMode yes\n", "")
    config = config.replace(str(server.keys.client_key), str(tmp_path / "no-such-key"))
    cfg = tmp_path / "ssh_config"
    cfg.write_text(config)
    pid_file = tmp_path / "askpass.pid"
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 1000\n")
    askpass.chmod(0o755)
    env = server.environ()
    env.update(PYTRACE_SSH_OPTS=f"-F {cfg} {extra_opts}".strip(), SSH_ASKPASS=str(askpass),
               SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    return env, pid_file


def test_a_password_prompt_fails_at_once_with_ssh_s_words(password_server, tmp_path):
    env, pid_file = prompting_env(password_server, tmp_path)
    env["PYTRACE_REMOTE_TIMEOUT"] = "300"   # what ends it must be ssh, not the timeout
    line = one_line_error(pytrace(["--target", password_server.target, "-e", PROGRAM],
                                  env=env, timeout=120))
    assert "Permission denied" in line
    assert not pid_file.exists(), "ssh asked for a password"


def test_batchmode_no_prompts_and_the_handshake_timeout_ends_it(password_server, tmp_path):
    env, pid_file = prompting_env(password_server, tmp_path, "-o BatchMode=no")
    env["PYTRACE_REMOTE_TIMEOUT"] = "3"
    line = one_line_error(pytrace(["--target", password_server.target, "-e", PROGRAM],
                                  env=env, timeout=120))
    assert line == (f"ERROR: --target {password_server.target}: no answer from the agent "
                    "within 3 s (is the transport waiting for a password or a "
                    "confirmation?); PYTRACE_REMOTE_TIMEOUT sets the wait")
    pid = int(pid_file.read_text())   # the prompt was up...
    assert eventually(lambda: not alive(pid), deadline_s=10)   # ...and is gone with ssh
