"""A stream of printf lines on the real kernel: every event once, in order.

20 000 getppid calls, one 48-byte record each: less than the 4 MiB ring holds,
so nothing may be lost however late userspace reads, and the lines cross many
handling chunks and wakeup-less reads. Records are submitted without a wakeup
(but for the one taking the ring past half full), so this also shows they come
out without one.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_oneliners import run_pytrace, wl  # noqa: F401 (fixture)

CALLS = 20_000


@pytest.mark.kernel
def test_every_printf_event_comes_out_once_in_order(wl, tmp_path, capfd):  # noqa: F811
    out = tmp_path / "stream.txt"
    program = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
               '{ printf("%d %s %d|%5d|%-4s|%x\\n", pid, comm, nsecs, -42, "ab", 255); }')
    code, stdout, err = run_pytrace(["-o", str(out), "-e", program, "-c", f"{wl} getppid {CALLS}"],
                                    capfd)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "Attaching 1 probe..."
    events = [ln.split(" ", 2) for ln in lines[1:]]
    assert len(events) == CALLS, lines[-3:]
    pids = {e[0] for e in events}
    assert len(pids) == 1 and all(e[1] == "wl" for e in events)
    times = [int(e[2].split("|")[0]) for e in events]
    assert times == sorted(times) and len(set(times)) == CALLS
    assert {e[2].split("|", 1)[1] for e in events} == {"  -42|ab  |ff"}
    assert stdout == "\n\n"
