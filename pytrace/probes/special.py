"""BEGIN and END: programs the runtime runs itself (BPF_PROG_TEST_RUN), never attached.

They load as raw tracepoint programs so the kernel lets userspace run them in its own
context; their ctx is meaningless, so they have no `args`.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.probes import Provider
from pytrace.resources import AttachSpec


class SpecialProvider(Provider):
    def __init__(self, name: str):
        self.name = name
        self.aliases = ()
        self.prog_type = name.lower()

    def expand(self, ap, target) -> list[AttachSpec]:
        if ap.parts:
            raise PytraceError(f"{self.name} probes take no arguments", ap.span)
        return [AttachSpec(provider=self.name, name=self.name)]

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        # The runtime runs these with Target.prog_test_run; nothing to attach.
        return None


PROVIDERS = [SpecialProvider("BEGIN"), SpecialProvider("END")]
