"""rawtracepoint:NAME (rt:): kernel tracepoints before the event record is built.

Where the kernel's BTF declares the tracepoint (`typedef ... btf_trace_NAME`),
the program is a BTF-typed one (tp_btf: BPF_PROG_TYPE_TRACING with
expected_attach_type BPF_TRACE_RAW_TP and attach_btf_id = that TYPEDEF's id,
which is what the kernel checks), and `args.NAME` has the tracepoint's own
parameter names and types. Otherwise (no BTF, module tracepoints) it is a
plain BPF_PROG_TYPE_RAW_TRACEPOINT. Both see the arguments as an array of
u64 slots, so arg0..N read the same way in either.
"""

from __future__ import annotations

import re

from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard
from pytrace.probes import Provider
from pytrace.probes.btf_args import args_record, vmlinux
from pytrace.kernel.tracefs import TRACEFS_ROOTS
from pytrace.resources import AttachSpec

BPF_TRACE_RAW_TP = 23
_TYPEDEF_PREFIX = "btf_trace_"


def _btf_tracepoint_names(btf) -> list[str]:
    """Every `btf_trace_NAME` string in the BTF string section (C-speed regex)."""
    strings = btf._blob[btf._str_start:btf._str_end]
    return sorted({m.decode() for m in re.findall(rb"\x00btf_trace_([A-Za-z0-9_]+)(?=\x00)",
                                                   strings)})


def _tracefs_event_names(target) -> list[str]:
    """Event names from tracefs (fallback without BTF): available_events lists CAT:EVENT."""
    for root in TRACEFS_ROOTS:
        try:
            text = target.read_file(f"{root}/available_events").decode("utf-8", "replace")
        except (FileNotFoundError, PermissionError):
            continue
        return sorted({line.partition(":")[2] for line in text.splitlines() if ":" in line})
    return []


class RawTracepointProvider(Provider):
    name = "rawtracepoint"
    aliases = ("rt",)
    prog_type = "raw_tracepoint"
    ctx_kind = "raw_args"
    is_return = False

    def expand(self, ap, target) -> list[AttachSpec]:
        if len(ap.parts) == 2:
            module, event = ap.parts  # rawtracepoint:MODULE:NAME (module tracepoints)
        elif len(ap.parts) == 1:
            module, event = "", ap.parts[0]
        else:
            raise PytraceError("rawtracepoint probe must be rawtracepoint:NAME", ap.span)
        btf = vmlinux(target) if not module or module == "vmlinux" else None
        if wildcard.has_wildcard(event):
            names = _btf_tracepoint_names(btf) if btf is not None else \
                _tracefs_event_names(target)
            rx = wildcard.compile_wildcard(event).fullmatch
            events = [n for n in names if rx(n)]
            if not events:
                raise PytraceError(f"No raw tracepoints matched {ap.raw}", ap.span)
        else:
            events = [event]
        return [self._spec(btf, e) for e in events]

    def _spec(self, btf, event: str) -> AttachSpec:
        options = {}
        sig = btf.tracepoint_signature(event) if btf is not None else None
        if sig is not None:
            # The first parameter (`void *__data`) is the tracepoint's own, not passed.
            params = sig.params[1:]
            options = {"btf_id": sig.func_id, "nargs": len(params),
                       "args": args_record(btf, params)}
        return AttachSpec(self.name, f"rawtracepoint:{event}", "", event, options=options)

    def split_units(self, specs, probe) -> list[list[AttachSpec]]:
        # A tp_btf program is verified against one tracepoint (its attach_btf_id);
        # plain raw tracepoint programs can all share one.
        typed = [[s] for s in specs if "btf_id" in s.options]
        plain = [s for s in specs if "btf_id" not in s.options]
        return typed + ([plain] if plain else [])

    def program_attrs(self, specs, target) -> dict:
        if len(specs) == 1 and "btf_id" in specs[0].options:
            return {"prog_type": "tracing", "expected_attach_type": BPF_TRACE_RAW_TP,
                    "attach_btf_id": specs[0].options["btf_id"]}
        return {}

    def args_type(self, spec, target):
        return spec.options.get("args")

    def attach(self, target, prog_fd, spec, options):
        if "btf_id" in spec.options:
            return target.attach_tracing(prog_fd)
        return target.attach_raw_tracepoint(prog_fd, spec.func)


PROVIDER = RawTracepointProvider()
