"""watchpoint/asyncwatchpoint:ADDRESS:LENGTH:MODE: hardware breakpoints on a process's memory.

A perf breakpoint event (PERF_TYPE_BREAKPOINT) on ADDRESS in the process given
by -p (or -c's child), firing on the access kinds MODE names (r, w, rw, x).
The address is a virtual address of that process, so a watchpoint without a
process is refused. asyncwatchpoint attaches the same way here: pytrace never
stops the watched process.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.probes import Provider
from pytrace.resources import AttachSpec

LENGTHS = (1, 2, 4, 8)
MODES = ("r", "w", "x", "rw")


class WatchpointProvider(Provider):
    prog_type = "perf_event"

    def __init__(self, name: str, aliases: tuple[str, ...]):
        self.name, self.aliases = name, aliases

    def expand(self, ap, target) -> list[AttachSpec]:
        if len(ap.parts) != 3:
            raise PytraceError(f"{self.name} probe must be {self.name}:ADDRESS:LENGTH:MODE",
                               ap.span)
        addr_text, length_text, mode = ap.parts
        try:
            addr = int(addr_text, 0)
        except ValueError:
            addr = -1
        if not 0 <= addr < 1 << 64:
            raise PytraceError(f"Invalid watchpoint address: {addr_text}", ap.span)
        try:
            length = int(length_text, 0)
        except ValueError:
            length = 0
        if length not in LENGTHS:
            raise PytraceError(f"Invalid watchpoint length: {length_text} "
                               f"(must be one of 1, 2, 4, 8)", ap.span)
        # bpftrace accepts the letters in any order ("wr" is "rw").
        canonical = "".join(c for c in "rwx" if c in mode)
        if sorted(mode) != sorted(canonical) or canonical not in MODES:
            raise PytraceError(f"Invalid watchpoint mode: {mode} (must be r, w, x or rw)",
                               ap.span)
        return [AttachSpec(self.name, f"{self.name}:0x{addr:x}:{length}:{canonical}",
                           options={"addr": addr, "length": length, "mode": canonical})]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        pid = (options or {}).get("pid") or (options or {}).get("cpid") or -1
        if pid <= 0:
            raise PytraceError(f"{spec.name}: watchpoints need a process: use -p PID or "
                               "-c CMD")
        o = spec.options
        return target.attach_watchpoint(prog_fd, o["addr"], o["length"], o["mode"], pid=pid)


PROVIDERS = [WatchpointProvider("watchpoint", ("w",)),
             WatchpointProvider("asyncwatchpoint", ("aw",))]
