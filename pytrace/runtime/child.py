"""The `-c CMD` child and the `-p PID` process: start held, release, notice the exit.

The child is forked before the program is compiled (its pid is `cpid`) and
waits on a pipe before exec, so no event of the command itself is missed:
probes attach first, then `release()` lets it exec. Exit is noticed through a
pidfd, which the event loop can wait on next to the ring buffer.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

from pytrace.diagnostics import PytraceError


class WatchedProcess:
    """A process whose exit ends the trace; `fileno()` is readable once it exited."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            self.pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise PytraceError(f"No such process: {pid}") from None

    def fileno(self) -> int:
        return self.pidfd

    def exited(self) -> bool:
        import select

        ready, _, _ = select.select([self.pidfd], [], [], 0)
        return bool(ready)

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class ChildCommand(WatchedProcess):
    """`-c CMD`: forked now, held before exec until release()."""

    def __init__(self, command: str):
        argv = shlex.split(command)
        if not argv:
            raise PytraceError("-c needs a command to run")
        read_end, self._go = os.pipe()
        go = self._go

        def wait_for_release():
            # Runs in the child between fork and exec.
            os.close(go)
            if not os.read(read_end, 1):
                os._exit(127)  # the tracer gave up before attaching
            os.close(read_end)

        try:
            self.proc = subprocess.Popen(argv, preexec_fn=wait_for_release,
                                         pass_fds=(read_end,))
        except OSError as e:
            os.close(read_end)
            os.close(self._go)
            raise PytraceError(f"Failed to run command '{command}': {e.strerror}") from None
        os.close(read_end)
        super().__init__(self.proc.pid)

    def release(self) -> None:
        """Let the command exec (probes are attached by now)."""
        if self._go >= 0:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = -1

    def stop(self) -> None:
        """End the command if it still runs (trace ended first), then reap it."""
        if self._go >= 0:
            os.close(self._go)  # a held child exits on EOF
            self._go = -1
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 1.0
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc.wait()
        self.close()
