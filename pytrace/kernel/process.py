"""Processes and clocks of the traced machine: the `-c` child, the `-p` process,
system(), and the clock offset strftime() needs.

Runs in process for `LocalTarget` and inside the remote agent (stdlib only,
nothing of pytrace outside the agent's modules, Python 3.6 or later: so
`pidfd_open` goes through syscall(2) where the os module lacks it).

The child is forked before the program is compiled (its pid is `cpid`) and
waits on a pipe before exec, so no event of the command itself is missed:
probes attach first, then `release()` lets it exec. Exit is noticed through a
pidfd, which an event loop can wait on next to the ring buffer.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import time

from pytrace.kernel.errors import PytraceError

SYS_PIDFD_OPEN = 434   # the same number on every architecture (Linux 5.3+)


def pidfd_open(pid: int) -> int:
    """A pidfd for pid; ProcessLookupError if there is no such process."""
    native = getattr(os, "pidfd_open", None)
    if native is not None:
        return native(pid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(ctypes.c_long(SYS_PIDFD_OPEN), ctypes.c_int(pid), ctypes.c_uint(0))
    if fd < 0:
        err = ctypes.get_errno()
        if err == 3:   # ESRCH
            raise ProcessLookupError(err, os.strerror(err))
        raise OSError(err, os.strerror(err))
    return fd


class WatchedProcess:
    """A process whose exit ends the trace; `fileno()` is readable once it exited."""

    def __init__(self, pid: int):
        self.pid = pid
        try:
            self.pidfd = pidfd_open(pid)
        except ProcessLookupError:
            raise PytraceError("No such process: {}".format(pid)) from None

    def fileno(self) -> int:
        return self.pidfd

    def exited(self) -> bool:
        ready, _, _ = select.select([self.pidfd], [], [], 0)
        return bool(ready)

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class ChildCommand(WatchedProcess):
    """`-c CMD`: forked now, held before exec until release()."""

    def __init__(self, command: str, stdout_fd: int = -1):
        """stdout_fd: the command's standard output (default: this process's)."""
        import shlex  # only -c needs it: keep it off the start-up path
        try:
            argv = shlex.split(command)
        except ValueError as e:  # an unbalanced quote
            raise PytraceError("Failed to run command '{}': {}".format(command, e)) from None
        if not argv:
            raise PytraceError("-c needs a command to run")
        import shutil   # only for -c: off the agent's start-up path
        path = shutil.which(argv[0])
        if path is None:
            raise PytraceError("Failed to fork child: path '{}' does not exist or is not "
                               "executable".format(argv[0]))   # bpftrace 0.17's words
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
                if stdout_fd >= 0:
                    os.dup2(stdout_fd, 1)
                    os.close(stdout_fd)
                if os.read(read_end, 1):
                    os.close(read_end)
                    os.execv(path, argv)
            except BaseException:  # noqa: BLE001 - never return into the tracer
                pass
            os._exit(127)
        os.close(read_end)
        self.status = None
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
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_command(command: str) -> bytes:
    """system(): run a shell command, return its stdout. As bpftrace: its stderr
    (and stdin) stay the tracer's."""
    import subprocess
    done = subprocess.run(command, shell=True, stdout=subprocess.PIPE)
    return done.stdout


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _clock_ns(clock: int) -> int:
    native = getattr(time, "clock_gettime_ns", None)   # Python 3.7+
    if native is not None:
        return native(clock)
    libc = ctypes.CDLL(None, use_errno=True)
    ts = _Timespec()
    libc.clock_gettime(ctypes.c_int(clock), ctypes.byref(ts))
    return ts.tv_sec * 1000000000 + ts.tv_nsec


def boot_wall_ns() -> int:
    """Wall-clock time of the monotonic clock's zero (bpf_ktime_get_ns counts from
    it): what strftime() adds to an nsecs value."""
    return _clock_ns(time.CLOCK_REALTIME) - _clock_ns(time.CLOCK_MONOTONIC)


def machine() -> str:
    """The CPU architecture (`x86_64`, `aarch64`): it picks register layouts."""
    return os.uname().machine
