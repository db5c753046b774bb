"""Workload helpers of the tools2 tests: a Python child whose pid the test
knows, and a C program built with gcc."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

# The comm of a process started from sys.executable: the name it was run by
# (`python` in a virtual environment, `python3.11`, ...), cut to 15 bytes.
PYTHON_COMM = pathlib.Path(sys.executable).name[:15]


def python_child(code: str) -> int:
    """Run `code` in a new Python process (comm PYTHON_COMM) to its end; its pid."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                             stderr=subprocess.PIPE, text=True)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return child.pid


def gcc_build(directory: pathlib.Path, name: str, source: str, *flags: str) -> str:
    """Compile a C program; its path."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    c_file = directory / f"{name}.c"
    c_file.write_text(textwrap.dedent(source))
    binary = directory / name
    subprocess.run(["gcc", "-g", "-O0", "-o", str(binary), str(c_file), *flags], check=True)
    return str(binary)
