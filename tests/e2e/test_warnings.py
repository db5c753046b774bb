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


# Printed by bpftrace 0.17 for the same programs (stderr, then the program runs).
MIXED_SIGNS = [
    ('BEGIN { if (pid > -1) { } exit(); }', 16, 1, "unsigned int64", "int64"),
    ('BEGIN { $a = 1; if (pid != $a) { } exit(); }', 24, 2, "unsigned int64", "int64"),
    ('BEGIN { @a = 1; if (pid == @a) { } exit(); }', 24, 2, "unsigned int64", "int64"),
    ('BEGIN { if (nsecs > 5 * 3) { } exit(); }', 18, 1, "unsigned int64", "int64"),
    ('BEGIN { if ((uint64)1 < -2) { } exit(); }', 22, 1, "unsigned int64", "int64"),
]


@pytest.mark.parametrize("prog, col, width, left, right", MIXED_SIGNS)
def test_comparing_signed_with_unsigned_warns_as_bpftrace_does(prog, col, width, left, right):
    done = subprocess.run([sys.executable, "-m", "pytrace", "-e", prog],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        f"stdin:1:{col + 1}-{col + 1 + width}: WARNING: comparison of integers of different "
        f"signs: '{left}' and '{right}' can lead to undefined behavior",
        prog,
        " " * col + "~" * width,
    ]


@pytest.mark.parametrize("prog", ['BEGIN { if (pid > 1) { } exit(); }',
                                  'BEGIN { if (1 == pid) { } exit(); }',
                                  'BEGIN { $a = (uint64)1; if (pid > $a) { } exit(); }'])
def test_a_nonnegative_literal_or_equal_signs_do_not_warn(prog):
    done = subprocess.run([sys.executable, "-m", "pytrace", "-e", prog],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stderr == ""
