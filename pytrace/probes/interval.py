"""interval:UNIT:N: a timer firing on one CPU (the first online one)."""

from __future__ import annotations

from pytrace.probes import Provider
from pytrace.probes.perf_timers import attach_timer, parse_rate, rate_options
from pytrace.resources import AttachSpec


class IntervalProvider(Provider):
    name = "interval"
    aliases = ("i",)
    prog_type = "perf_event"

    def expand(self, ap, target) -> list[AttachSpec]:
        unit, n = parse_rate(self.name, ap, target)
        cpu = target.online_cpus()[0]
        return [AttachSpec(provider=self.name, name=f"interval:{unit}:{n}",
                           options={**rate_options(unit, n), "cpu": cpu})]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        return attach_timer(target, prog_fd, spec)


PROVIDER = IntervalProvider()
