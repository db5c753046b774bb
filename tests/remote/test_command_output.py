"""The -c command's standard output is pytrace's standard output on a remote
target as on this machine (not the -o file, not stderr): the agent's own
stdout carries the protocol, so it relays the command's output to the host.
Its stderr is pytrace's stderr in both cases."""

from __future__ import annotations

import pytest

from tests.remote.helpers import pytrace

COMMAND = 'sh -c "echo one; echo two >&2; echo three"'
PROGRAM = 'BEGIN { printf("begin\\n"); }'


def run(target_args: list[str], tmp_path, env=None, command: str = COMMAND):
    out_file = tmp_path / "trace.txt"
    done = pytrace([*target_args, "-o", str(out_file), "-c", command, "-e", PROGRAM], env=env)
    assert done.returncode == 0, done.stderr
    return done, out_file.read_text()


@pytest.mark.kernel
@pytest.mark.parametrize("target", ["exec:", None], ids=["exec", "local"])
def test_the_commands_output_goes_to_stdout_and_the_trace_to_the_file(target, tmp_path):
    done, trace = run(["--target", target] if target else [], tmp_path)
    assert done.stdout == "one\nthree\n\n\n"
    assert done.stderr == "two\n"
    assert trace == "Attaching 1 probe...\nbegin\n"


@pytest.mark.kernel
def test_the_commands_output_comes_over_ssh(ssh_server, tmp_path):
    done, trace = run(["--target", ssh_server.target], tmp_path, env=ssh_server.environ())
    assert done.stdout == "one\nthree\n\n\n"
    assert "two\n" in done.stderr
    assert trace == "Attaching 1 probe...\nbegin\n"


@pytest.mark.kernel
def test_a_large_output_arrives_whole_before_the_run_ends(tmp_path):
    """A megabyte written just before the command exits is all there."""
    command = "python3 -S -c 'import sys; sys.stdout.write(\"x\" * 1000000 + \"end\\n\")'"
    done, _ = run(["--target", "exec:"], tmp_path, command=command)
    assert done.stdout == "x" * 1000000 + "end\n\n\n"
