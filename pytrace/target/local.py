"""LocalTarget: the Target for the machine pytrace runs on.

Facts come from `LocalFiles`; actions from `KernelActions` (pytrace.kernel.actions),
which call pytrace.kernel.{bpf,perf,ringbuf} in process: the very code the remote
agent runs on a traced machine. `close_all` also runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import os

from pytrace.kernel import process
from pytrace.kernel.actions import KernelActions, release_in_background  # noqa: F401
from pytrace.kernel.errors import own_cap_last_cap, own_capabilities, privileges_error
from pytrace.kernel.files import LocalFiles
from pytrace.target import Target


class LocalTarget(LocalFiles, KernelActions, Target):
    def __init__(self):
        KernelActions.__init__(self)
        atexit.register(self.close_all)

    def check_privileges(self):
        error = privileges_error(own_capabilities(), own_cap_last_cap())
        if error:
            raise error

    @property
    def machine(self):
        return process.machine()

    def boot_wall_ns(self):
        return process.boot_wall_ns()

    def errno_text(self, errno):
        return os.strerror(errno)

    def run_command(self, command):
        return process.run_command(command)

    def start_command(self, command):
        return process.ChildCommand(command)

    def watch_process(self, pid):
        return process.WatchedProcess(pid)
