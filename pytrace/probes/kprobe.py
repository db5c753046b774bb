"""kprobe/kretprobe:[MODULE:]FUNCTION[+OFFSET]: dynamic probes on kernel functions.

Wildcards expand over the function symbols of /proc/kallsyms (optionally of
one module); every match attaches the same program. The program reads its
arguments from `struct pt_regs` (pytrace.builtins.probe_args). A kernel built
without CONFIG_KPROBES still loads and verifies kprobe programs; attaching
then fails with the kernel layer's "this kernel has no kprobes" error.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard
from pytrace.kernel.kallsyms import Kallsyms
from pytrace.probes import NothingMatched, Provider
from pytrace.resources import AttachSpec

# A kretprobe on these can deadlock the machine (the return trampoline takes the
# lock they implement); bpftrace 0.17 refuses them, and so do we, at compile time.
LOCKUP_KRETPROBES = frozenset({"_raw_spin_lock", "_raw_spin_lock_irqsave",
                               "_raw_spin_unlock_irqrestore", "queued_spin_lock_slowpath"})


def _check_offset(ap, target, module: str | None, func: str, offset: int) -> None:
    """bpftrace's refusal of an offset past the function's end (its size from
    kallsyms: the distance to the next symbol). Whether the offset starts an
    instruction the kernel checks itself when the kprobe is registered."""
    try:
        kallsyms = Kallsyms.load(target)
        if kallsyms.addresses_hidden():
            return
    except OSError:
        return
    address = kallsyms.address_of(func, module)
    size = kallsyms.size_at(address) if address is not None else None
    if size is not None and offset >= size:
        raise PytraceError(f"Offset outside the function bounds ('{func}' size is {size})",
                           ap.span)


class KprobeProvider(Provider):
    ctx_kind = "pt_regs"
    user = False
    prog_type = "kprobe"
    # Kprobes on one address run newest first: attached last to first (runtime.attach).
    runs_newest_first = True

    def __init__(self, name: str, aliases: tuple[str, ...], retprobe: bool):
        self.name, self.aliases, self.is_return = name, aliases, retprobe

    def expand(self, ap, target) -> list[AttachSpec]:
        specs = self._expand(ap, target)
        if self.is_return:
            for spec in specs:
                if spec.func in LOCKUP_KRETPROBES:
                    raise PytraceError(f"kretprobe:{spec.func} can't be used as it might "
                                       "lock up your system.", ap.span)
        return specs

    def _expand(self, ap, target) -> list[AttachSpec]:
        if len(ap.parts) == 2:
            module, func = ap.parts
        elif len(ap.parts) == 1:
            module, func = None, ap.parts[0]
        else:
            raise PytraceError(f"{self.name} probe must be {self.name}:[MODULE:]FUNCTION",
                               ap.span)
        offset = ap.offset or 0
        if self.is_return and offset:
            raise PytraceError(f"{ap.raw}: a {self.name} can not have an offset", ap.span)
        prefix = f"{self.name}:{module}:" if module else f"{self.name}:"
        if not wildcard.has_wildcard(func) and not (module and wildcard.has_wildcard(module)):
            if offset:
                _check_offset(ap, target, module, func, offset)
            suffix = f"+{offset}" if offset else ""
            return [AttachSpec(self.name, f"{prefix}{func}{suffix}", module or "", func, offset)]
        if offset:
            raise PytraceError(f"{ap.raw}: an offset needs one function, not a wildcard",
                               ap.span)
        try:
            kallsyms = Kallsyms.load(target)
        except (FileNotFoundError, PermissionError) as e:
            raise PytraceError(f"{ap.raw}: cannot read kernel symbols: {e}", ap.span) from None
        module_rx = wildcard.compile_wildcard(module).fullmatch if module else None
        matches = [s for s in kallsyms.functions(func)
                   if module_rx is None or module_rx(s.module)]
        # Compiler-made clones (foo.cold, foo.isra.0) are not probe targets.
        matches = [s for s in matches if "." not in s.name]
        if not matches:
            if wildcard.has_wildcard(func):
                raise NothingMatched(f"No kernel functions matched {ap.raw}", ap.span)
            raise PytraceError(f"No kernel functions matched {ap.raw}", ap.span)
        return [AttachSpec(self.name,
                           f"{self.name}:{s.module}:{s.name}" if module else
                           f"{self.name}:{s.name}", s.module, s.name)
                for s in matches]

    def args_type(self, spec, target):
        return None

    def probe_ids_by_cookie(self, target) -> bool:
        # One program for every point of a wildcard; `probe` reads the link's cookie.
        supports = getattr(target, "supports", None)
        return bool(supports and supports("perf_cookie"))

    def attach(self, target, prog_fd, spec, options):
        return target.attach_kprobe(prog_fd, spec.func, spec.offset, retprobe=self.is_return,
                                    cookie=spec.options.get("probe_id", 0))


PROVIDERS = [KprobeProvider("kprobe", ("k",), False),
             KprobeProvider("kretprobe", ("kr",), True)]
