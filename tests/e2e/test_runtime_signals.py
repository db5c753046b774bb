"""SIGUSR1 prints every map while the trace goes on, as bpftrace 0.17 does.

The expected texts were printed by bpftrace 0.17 for the same program and the
same signals: each SIGUSR1 prints the maps as the exit does, without the
separator and without clearing them; SIGINT then ends the run as usual.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.kernel

PROGRAM = ('BEGIN { @a = 1; @b[1, "x"] = count(); @h = hist(5); @s = stats(3); '
           'printf("ready\\n"); } interval:s:30 { exit(); }')

TEXT_MAPS = ("@a: 1\n@b[1, x]: 1\n@h: \n"
             "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
             "\n@s: count 1, average 3, total 3\n\n")
JSON_MAPS = ('{"type": "map", "data": {"@a": 1}}\n'
             '{"type": "map", "data": {"@b": {"1,x": 1}}}\n'
             '{"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}}\n'
             '{"type": "stats", "data": {"@s": {"count": 1, "average": 3, "total": 3}}}\n')
EXPECTED = {
    "text": "Attaching 2 probes...\nready\n" + TEXT_MAPS * 2 + "\n\n" + TEXT_MAPS,
    "json": ('{"type": "attached_probes", "data": {"probes": 2}}\n'
             '{"type": "printf", "data": "ready\\n"}\n' + JSON_MAPS * 2 + "\n\n" + JSON_MAPS),
}


def read_until(proc: subprocess.Popen, marker: str, lines: list[str], extra: int = 0) -> None:
    """Read lines up to the one holding `marker`, then `extra` more."""
    while True:
        line = proc.stdout.readline()
        assert line, "pytrace ended early: " + proc.stderr.read()
        lines.append(line)
        if marker in line:
            break
    lines.extend(proc.stdout.readline() for _ in range(extra))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_sigusr1_prints_every_map_and_the_trace_goes_on(fmt):
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", "-B", "line", "-f", fmt,
                             "-e", PROGRAM], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        read_until(proc, "ready", lines)
        for _ in range(2):
            proc.send_signal(signal.SIGUSR1)
            read_until(proc, "@s", lines, extra=1 if fmt == "text" else 0)
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "".join(lines) + rest == EXPECTED[fmt]
