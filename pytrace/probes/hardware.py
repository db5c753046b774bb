"""hardware:EVENT[:COUNT]: CPU performance counters (PMU), sampled on every online CPU.

Event names and default sample periods are bpftrace's. A machine without a PMU
(most VMs) cannot open these events; the kernel layer's error says so.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.probes import Provider
from pytrace.probes.perf_timers import parse_count
from pytrace.resources import AttachSpec

PERF_TYPE_HARDWARE = 0

# name -> (PERF_COUNT_HW_* config, default period); aliases share an entry.
EVENTS = {
    "cpu-cycles": (0, 1_000_000), "cycles": (0, 1_000_000),
    "instructions": (1, 1_000_000),
    "cache-references": (2, 1_000_000),
    "cache-misses": (3, 1_000_000),
    "branch-instructions": (4, 100_000), "branches": (4, 100_000),
    "branch-misses": (5, 100_000),
    "bus-cycles": (6, 100_000),
    "frontend-stalls": (7, 1_000_000),
    "backend-stalls": (8, 1_000_000),
    "ref-cycles": (9, 1_000_000),
}


class HardwareProvider(Provider):
    name = "hardware"
    aliases = ("h",)
    prog_type = "perf_event"

    def expand(self, ap, target) -> list[AttachSpec]:
        if not 1 <= len(ap.parts) <= 2:
            raise PytraceError("hardware probe must be hardware:EVENT[:COUNT]", ap.span)
        event = ap.parts[0]
        if event not in EVENTS:
            raise PytraceError(f"Unknown hardware event: {event}", ap.span)
        config, period = EVENTS[event]
        name = f"hardware:{event}:"
        if len(ap.parts) == 2 and ap.parts[1] != "":
            period = parse_count(ap.parts[1], "hardware", ap, base=0)
            name += ap.parts[1]
        return [AttachSpec(self.name, name, event,
                           options={"config": config, "sample_period": period, "cpu": cpu})
                for cpu in target.online_cpus()]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        from pytrace.kernel.errors import KernelError
        try:
            return self._attach(target, prog_fd, spec)
        except KernelError as e:
            raise PytraceError(f"Error attaching probe: '{spec.name}': {e.message}") from None

    def _attach(self, target, prog_fd, spec):
        return target.attach_perf_event(prog_fd, PERF_TYPE_HARDWARE, spec.options["config"],
                                        sample_period=spec.options["sample_period"],
                                        pid=-1, cpu=spec.options["cpu"])


PROVIDER = HardwareProvider()
