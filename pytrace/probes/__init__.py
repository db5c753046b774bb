"""The probe provider registry: one module per probe type, imported by name on demand.

A provider module defines `PROVIDER` (or `PROVIDERS`): instances of a `Provider`
subclass, which declares every hook a probe type can have, with the defaults of a
probe type that lacks it. Adding a probe type is adding a module here (named after
the provider, else listed in `_MODULE_OF`) and its spellings to
pytrace.attach_points.PROVIDER_ALIASES.
`get_provider` imports only the module a probe needs: the kernel-facing providers pull in
pyelftools and BTF, which `BEGIN { exit(); }` must not pay for at start-up.
`all_providers` (listing) scans the package and imports every module.
"""

from __future__ import annotations

import importlib

from pytrace.attach_points import PROVIDER_ALIASES
from pytrace.diagnostics import PytraceError
from pytrace.resources import AttachSpec

class NothingMatched(PytraceError):
    """An attach point that names no function (a kprobe/uprobe wildcard without a
    match, a uprobe on a function the binary lacks): bpftrace 0.17 skips such a
    point, so a tool still runs where a kernel or library lacks one of its
    functions. The expansion pass raises it only if nothing at all is left."""


class Provider:
    """Every hook of a probe type, for the passes, codegen's argument access and the
    runtime. A provider overrides what its probe type has; the rest keeps these
    defaults (None: the probe type has no such hook)."""

    # ---- what it is ----------------------------------------------------------------
    name: str = ""                 # canonical name, as ast.AttachPoint.provider
    aliases: tuple[str, ...] = ()  # other spellings it registers under
    prog_type: str = ""            # ProgramSpec.prog_type: "begin", "tracepoint", ...

    # ---- expansion (passes/expand.py) ------------------------------------------------
    expands_for_pid = False        # expand() takes pid= (-p): names resolve in that process
    facts_needed = None            # (ap, target) -> paths to fetch from the target at once
    split_units = None             # (specs, probe) -> groups needing a program each
    program_attrs = None           # (specs, target) -> extra ProgramSpec fields

    def expand(self, ap, target) -> list[AttachSpec]:
        """The attach point's concrete points, wildcards resolved on the target."""
        raise NotImplementedError

    def probe_ids_by_cookie(self, target) -> bool:
        """Whether `probe` can be read from the link's cookie (one program, many points)."""
        return False

    # ---- arguments (builtins/probe_args.py, builtins/registers.py) -------------------
    ctx_kind: str | None = None    # the context: "pt_regs", "raw_args", "usdt" or none
    is_return = False              # retval is there; argN are not
    user = False                   # arguments point into the process (probe_read_user)
    func_from_spec = False         # `func` is the attach point's function (bpf_get_func_ip)

    def args_type(self, spec: AttachSpec, target):
        """The RecordType of `args` at this point, or None when it has none."""
        return None

    # ---- attach (runtime/attach.py) --------------------------------------------------
    runs_newest_first = False      # the kernel runs its newest attachment first
    attach_program = None          # (target, prog_fd, program, options): all points at once

    def attach(self, target, prog_fd: int, spec: AttachSpec, options):
        """Attach the program at one point; returns what detaches it."""
        raise NotImplementedError


# Canonical providers defined in a module of another name; every other provider
# lives in the module named after it. Spellings come from the parser's alias table.
_MODULE_OF = {
    "BEGIN": "special", "END": "special", "kretprobe": "kprobe", "uretprobe": "uprobe",
    "fexit": "fentry", "asyncwatchpoint": "watchpoint",
}


def module_for(name: str) -> str | None:
    """The module that defines the provider spelled `name`, or None if no spelling."""
    canonical = PROVIDER_ALIASES.get(name)
    if canonical is None:
        return None
    return _MODULE_OF.get(canonical, canonical)


_BY_NAME: dict[str, object] = {}


def _module_providers(module) -> list[object]:
    return [p for p in getattr(module, "PROVIDERS", [getattr(module, "PROVIDER", None)])
            if p is not None]


def _register(module) -> None:
    for provider in _module_providers(module):
        for name in (provider.name, *provider.aliases):
            _BY_NAME[name] = provider


def get_provider(name: str, span=None):
    name = PROVIDER_ALIASES.get(name, name)  # the canonical spelling, as the parser gives
    provider = _BY_NAME.get(name)
    if provider is None:
        module_name = module_for(name)
        if module_name is not None:
            try:
                module = importlib.import_module(f"{__name__}.{module_name}")
            except ModuleNotFoundError as e:
                # A spelling bpftrace has but pytrace provides nothing for: below.
                if e.name != f"{__name__}.{module_name}":
                    raise
            else:
                _register(module)
                provider = _BY_NAME.get(name)
    if provider is None:
        raise PytraceError(f"Invalid probe type: {name}", span)
    return provider


def all_providers() -> list[object]:
    import pkgutil
    seen: list[object] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        _register(module)
        for provider in _module_providers(module):
            if provider not in seen:
                seen.append(provider)
    return seen
