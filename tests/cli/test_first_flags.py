"""The flags a newcomer types first: --help, --version, no arguments, a program on
standard input, an executable `#!/usr/bin/env pytrace` script."""

from __future__ import annotations

import os
import re
import stat
import sys

import pytest

from pytrace import __version__
from pytrace.cli_options import HELP, LONG, SHORT_FLAGS, SHORT_VALUES
from tests.cli.command import REPO, pytrace

SECTIONS = ("USAGE:", "OPTIONS:", "TROUBLESHOOTING OPTIONS:", "ENVIRONMENT:", "EXAMPLES:")


def every_flag() -> list[str]:
    return ([f"-{letter}" for letter in {**SHORT_VALUES, **SHORT_FLAGS}]
            + [f"--{name}" for name in LONG])


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_grouped_like_bpftrace_and_goes_to_stdout(flag):
    done = pytrace(flag)
    assert (done.returncode, done.stderr) == (0, "")
    out = done.stdout
    assert out == HELP
    starts = [out.index("\n" + s) if not out.startswith(s) else 0 for s in SECTIONS]
    assert starts == sorted(starts), "sections out of bpftrace's order"
    assert "usage: pytrace" not in out and "positional arguments" not in out   # no argparse


@pytest.mark.parametrize("flag", every_flag())
def test_help_lists_every_flag_pytrace_reads(flag):
    assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", HELP, re.M), flag


def test_no_arguments_prints_the_usage_and_fails():
    done = pytrace()
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == HELP


@pytest.mark.parametrize("flag", ["--version", "-V", "--vers"])
def test_version_names_pytrace_llvm_and_the_kernel(flag):
    import llvmlite.binding
    done = pytrace(flag)
    assert (done.returncode, done.stderr) == (0, "")
    first, llvm, kernel = done.stdout.splitlines()
    assert first == f"pytrace v{__version__}"
    assert llvm.startswith("LLVM " + ".".join(map(str, llvmlite.binding.llvm_version_info)))
    uname = os.uname()
    assert kernel == f"kernel {uname.sysname} {uname.release} {uname.machine}"


@pytest.mark.kernel
def test_program_on_standard_input_with_parameters():
    done = pytrace("-", "world", stdin='BEGIN { printf("hello %s\\n", str($1)); exit(); }')
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "Attaching 1 probe...\nhello world\n\n\n"


def test_program_on_standard_input_errors_are_located_in_stdin():
    done = pytrace("-d", "ast", "-", stdin="BEGIN { @x = ; }")
    assert done.returncode == 1
    assert done.stderr.startswith("stdin:1:")


@pytest.mark.kernel
def test_executable_script_with_env_shebang_runs_with_its_arguments(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pytrace"
    # What an installed `pytrace` is: this checkout's package under this Python.
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" '
                       f'-m pytrace "$@"\n')
    script = tmp_path / "hello.bt"
    script.write_text('#!/usr/bin/env pytrace\n'
                      '// greets whoever is named on the command line\n'
                      'BEGIN { printf("hello %s, %d args\\n", str($1), $#); exit(); }\n')
    for path in (wrapper, script):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    import subprocess
    done = subprocess.run([str(script), "you", "-5"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "Attaching 1 probe...\nhello you, 2 args\n\n\n"
