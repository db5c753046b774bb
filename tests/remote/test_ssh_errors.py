"""What a user sees when an ssh target cannot be traced: one line naming the
cause (ssh's own words where ssh failed), a non-zero exit, no traceback."""

from __future__ import annotations

import pytest

from tests.helpers.sshd import SshEndpoint, free_tcp_port
from tests.remote.helpers import pytrace

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
