"""software:EVENT[:COUNT]: kernel software perf events, on every online CPU.

Default sample periods are bpftrace's, so `software:faults` means the same thing.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.probes import Provider
from pytrace.probes.perf_timers import PERF_TYPE_SOFTWARE, parse_count
from pytrace.resources import AttachSpec

# name -> (perf config, default period); aliases share an entry.
_EVENTS = {
    "cpu-clock": (0, 1_000_000), "cpu": (0, 1_000_000),
    "task-clock": (1, 1_000_000),
    "page-faults": (2, 100), "faults": (2, 100),
    "context-switches": (3, 1_000), "cs": (3, 1_000),
    "cpu-migrations": (4, 1),
    "minor-faults": (5, 100),
    "major-faults": (6, 1),
    "alignment-faults": (7, 1),
    "emulation-faults": (8, 1),
    "dummy": (9, 1),
    "bpf-output": (10, 1),
}


class SoftwareProvider(Provider):
    name = "software"
    aliases = ("s",)
    prog_type = "perf_event"

    def expand(self, ap, target) -> list[AttachSpec]:
        if not 1 <= len(ap.parts) <= 2:
            raise PytraceError("software probe must be software:EVENT[:COUNT]", ap.span)
        event = ap.parts[0]
        if event not in _EVENTS:
            raise PytraceError(f"Unknown software event: {event}", ap.span)
        config, period = _EVENTS[event]
        name = f"software:{event}:"
        if len(ap.parts) == 2 and ap.parts[1] != "":
            # 0 is accepted, as bpftrace does.
            period = parse_count(ap.parts[1], "software", ap, minimum=0)
            name += ap.parts[1]
        return [AttachSpec(provider=self.name, name=name, target=event,
                           options={"config": config, "sample_period": period, "cpu": cpu})
                for cpu in target.online_cpus()]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        return target.attach_perf_event(prog_fd, PERF_TYPE_SOFTWARE, spec.options["config"],
                                        sample_period=spec.options["sample_period"],
                                        pid=-1, cpu=spec.options["cpu"])


PROVIDER = SoftwareProvider()
