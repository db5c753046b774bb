"""Compiler warnings reach the user located, on stderr, and the program still runs."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.kernel


def test_signed_division_warning_is_printed_and_the_program_runs():
    prog = 'BEGIN { $a = -7; printf("%d\\n", $a / 2); exit(); }'
    done = subprocess.run([sys.executable, "-m", "pytrace", "-e", prog],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "stdin:1:36-37: WARNING: signed operands for '/' can lead to undefined behavior "
        "(cast to unsigned to silence warning)",
        prog,
        " " * 35 + "~",
    ]
    assert done.stdout == "Attaching 1 probe...\n-3\n\n\n"
