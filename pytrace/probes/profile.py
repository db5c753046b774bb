"""profile:UNIT:N: a timer firing on every online CPU (one AttachSpec per CPU)."""

from __future__ import annotations

from pytrace.probes import Provider
from pytrace.probes.perf_timers import attach_timer, parse_rate, rate_options
from pytrace.resources import AttachSpec


class ProfileProvider(Provider):
    name = "profile"
    aliases = ("p",)
    prog_type = "perf_event"

    def expand(self, ap, target) -> list[AttachSpec]:
        unit, n = parse_rate(self.name, ap, target)
        return [AttachSpec(provider=self.name, name=f"profile:{unit}:{n}",
                           options={**rate_options(unit, n), "cpu": cpu})
                for cpu in target.online_cpus()]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        return attach_timer(target, prog_fd, spec)


PROVIDER = ProfileProvider()
