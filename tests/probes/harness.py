"""Run a bpftrace program around a workload the way `-c` does, and return what it printed.

The workload is started first and blocks reading one byte from stdin; the trace
attaches, then `release()` writes that byte (exactly where `-c` lets its child
exec), so every event of the workload is seen. The trace ends when the
workload exits. This goes through the library's own pieces (compile, load,
run_trace) with a stand-in for the -c child, so a test sees exactly the text a
user would.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import time

from pytrace.compiler import compile_program
from pytrace.diagnostics import Source
from pytrace.output.sink import make_sink
from pytrace.parser import parse
from pytrace.runtime.loader import load
from pytrace.runtime.loop import TraceOptions, run_trace
from pytrace.runtime.symbols import TargetSymbols
from pytrace.target.local import LocalTarget


class HeldWorkload:
    """A started process waiting on stdin; the trace's `child`."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        # Popen returns when the child leaves vfork, before the kernel has loaded
        # the program; probes attached then would see the loading (a watchpoint
        # sees .bss being zeroed). The workload says "r" once it is waiting.
        if self.proc.stdout.read(1) != b"r":
            self.proc.wait()
            raise RuntimeError(f"workload {argv[0]} did not start")
        self.pidfd = os.pidfd_open(self.pid)

    def release(self) -> None:
        self.proc.stdin.write(b"g")
        self.proc.stdin.close()

    def fileno(self) -> int:
        return self.pidfd

    def exited(self) -> bool:
        import select
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.close()

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


@contextlib.contextmanager
def another_copy_running(argv: list[str]):
    """A second, untraced copy of a workload, released and busy while the body runs
    (for checking that -p keeps other processes of the same binary out)."""
    other = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        other.stdin.write(b"g")
        other.stdin.flush()
        time.sleep(0.1)  # let it get going before the trace attaches
        yield other
    finally:
        other.kill()
        other.wait()


def run_with_workload(program: str, argv: list[str], *, pid_filter: bool = False,
                      target=None) -> str:
    """The trace output of `program` while `argv` runs. cpid is the workload's
    pid; with pid_filter the workload is also the -p process."""
    target = target or LocalTarget()
    child = HeldWorkload(argv)
    source = Source(program, "stdin")
    out = io.StringIO()
    loaded = None
    try:
        compiled = compile_program(parse(source), target, params=[], source=source,
                                   options={"cpid": child.pid,
                                            "pid": child.pid if pid_filter else None})
        loaded = load(target, compiled.object, compiled.resources)
        sink = make_sink("text", out)
        options = TraceOptions(
            attached_count=compiled.attached_count,
            attach_options={"cpid": child.pid, "pid": child.pid if pid_filter else None},
            child=child, handle_signals=False)
        run_trace(target, loaded, sink, TargetSymbols(target, compiled.resources, loaded),
                  options)
    finally:
        child.stop()
        if loaded is not None:
            loaded.close(target)
        target.close_all()
    return out.getvalue()


def uprobe_events() -> str:
    """Text of tracefs uprobe_events: must be empty after every test."""
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        try:
            with open(f"{root}/uprobe_events") as f:
                return f.read()
        except FileNotFoundError:
            continue
    return ""
