"""The `-c CMD` child and the `-p PID` process: start held, release, notice the exit.

The child is forked before the program is compiled (its pid is `cpid`) and
waits on a pipe before exec, so no event of the command itself is missed:
probes attach first, then `release()` lets it exec. Exit is noticed through a
pidfd, which the event loop can wait on next to the ring buffer.
"""

from __future__ import annotations

import os
import signal
import shutil
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
        import shlex  # only -c needs it: keep it off the start-up path
        try:
            argv = shlex.split(command)
        except ValueError as e:  # an unbalanced quote
            raise PytraceError(f"Failed to run command '{command}': {e}") from None
        if not argv:
            raise PytraceError("-c needs a command to run")
        path = shutil.which(argv[0])
        if path is None:
            raise PytraceError(f"Failed to run command '{command}': "
                               f"{argv[0]}: command not found")
        read_end, self._go = os.pipe()
        die_with_parent = _die_with_parent_call()
        parent = os.getpid()
        # A bare fork, not subprocess: Popen waits until the child has exec'ed,
        # and this child must not exec before the probes are attached.
        pid = os.fork()
        if pid == 0:  # the child
            try:
                # pytrace killed (SIGKILL, the OOM killer) must not leave CMD running.
                die_with_parent()
                if os.getppid() != parent:  # it died before the line above
                    os._exit(127)
                os.close(self._go)
                if os.read(read_end, 1):
                    os.close(read_end)
                    os.execv(path, argv)
            except BaseException:  # noqa: BLE001 - never return into the tracer
                pass
            os._exit(127)
        os.close(read_end)
        self.status: int | None = None
        super().__init__(pid)

    def release(self) -> None:
        """Let the command exec (probes are attached by now)."""
        if self._go >= 0:
            os.write(self._go, b"g")
            os.close(self._go)
            self._go = -1

    def _reap(self, block: bool) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid == 0:
                return False
            self.status = status
        return True

    def stop(self) -> None:
        """End the command if it still runs (trace ended first), then reap it."""
        if self._go >= 0:
            os.close(self._go)  # a held child exits on EOF
            self._go = -1
        try:
            if not self._reap(False):
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 1.0
                while not self._reap(False) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if not self._reap(False):
                    os.kill(self.pid, signal.SIGKILL)
                    self._reap(True)
        except ChildProcessError:
            pass
        self.close()


_PR_SET_PDEATHSIG = 1


def _die_with_parent_call():
    """A call that makes the calling process get SIGKILL when its parent thread
    exits (prctl PR_SET_PDEATHSIG; survives exec), resolved before fork."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
