"""`pip install .` carries the tool set: a fresh virtual environment runs a tool by
name and lists them, from a directory that is not the checkout."""

import subprocess
import sys

import pytest

from tests.tools.harness import ROOT, tool_names


@pytest.mark.slow
def test_installed_package_runs_tools_by_name(tmp_path):
    venv = tmp_path / "venv"
    # System site-packages give the dependencies; the package is built from this
    # checkout as `pip install .` builds it.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", ROOT],
                             capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    pytrace = str(venv / "bin" / "pytrace")
    listing = subprocess.run([pytrace, "--tools"], capture_output=True, text=True,
                             cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == tool_names()
    # -d ast parses the installed script without loading anything.
    ast = subprocess.run([pytrace, "-d", "ast", "opensnoop"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert ast.returncode == 0, ast.stderr
    assert "tracepoint:syscalls:sys_enter_openat" in ast.stdout
