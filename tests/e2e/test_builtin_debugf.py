"""debugf(): lines in the kernel's trace buffer, formatted by bpf_trace_printk, and
bpftrace 0.17's warning and errors. Expected texts were printed by bpftrace 0.17 for
the same programs (the token aside)."""

import os
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.kernel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACE = "/sys/kernel/tracing/trace"
WARNING = ("WARNING: The debugf() builtin is not recommended for production use. "
           "For more information see bpf_trace_printk in bpf-helpers(7).")


def run(prog: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytrace", "-e", prog], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def printk_lines(token: str) -> list[str]:
    """What the trace buffer holds for this token (other tracers' lines left out)."""
    with open(TRACE, encoding="utf-8", errors="replace") as f:
        return [line.split("bpf_trace_printk: ", 1)[1].rstrip("\n") for line in f
                if "bpf_trace_printk: " + token in line]


def test_debugf_writes_to_the_trace_buffer_as_bpftrace_does():
    token = "pt" + uuid.uuid4().hex[:12]
    prog = (f'BEGIN {{ debugf("{token} a %d %d %d", 1, -5, 0x100000001); '
            f'debugf("{token} x=%s", "ab"); debugf("{token} c=%s|%lu", comm, -1); exit(); }}')
    done = run(prog)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Attaching 1 probe...\n\n\n"
    comm = os.path.basename(sys.executable)[:15]   # the process that runs BEGIN
    # %d is the kernel's 32-bit int; %lu the whole u64.
    assert printk_lines(token) == [f"{token} a 1 -5 1", f"{token} x=ab",
                                   f"{token} c={comm}|18446744073709551615"]


def test_every_use_is_warned_about_where_it_is():
    prog = 'BEGIN { debugf("x=%lu", 5); exit(); }'
    done = run(prog)
    assert done.returncode == 0
    assert done.stderr.splitlines() == ["stdin:1:9-27: " + WARNING, prog, " " * 8 + "~" * 18]


@pytest.mark.parametrize("prog, error, span", [
    ('BEGIN { debugf("a %d %d %d %d", 1, 2, 3, 4); exit(); }',
     "debugf: Cannot use more than 3 conversion specifiers", (9, 44)),
    ('BEGIN { debugf("%d", "x"); exit(); }',
     "debugf: %d specifier expects a value of type integer (string supplied)", (9, 26)),
    ('BEGIN { debugf("%d"); exit(); }',
     "debugf: Not enough arguments for format string (0 supplied, 1 expected)", (9, 21)),
    ('BEGIN { debugf(); exit(); }',
     "debugf() requires at least one argument (0 provided)", (9, 17)),
    ('BEGIN { $f = "a"; debugf($f); exit(); }',
     "debugf() expects a string literal (string provided)", (19, 29)),
])
def test_bad_calls_are_refused_in_bpftraces_words(prog, error, span):
    done = run(prog)
    assert done.returncode != 0
    start, end = span
    lines = done.stderr.splitlines()
    at = lines.index(f"stdin:1:{start}-{end}: ERROR: {error}")
    assert lines[at + 1:at + 3] == [prog, " " * (start - 1) + "~" * (end - start)]
    assert "Traceback" not in done.stderr
