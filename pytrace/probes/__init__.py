"""The probe provider registry: one module per probe type, imported by name on demand.

A provider module defines `PROVIDER` (or `PROVIDERS`), objects with:
  name, aliases        canonical provider name (as ast.AttachPoint.provider) and spellings
  prog_type            "begin", "end", "tracepoint", "perf_event" ... (ProgramSpec.prog_type)
  expand(ap, target)   -> [AttachSpec]  (wildcards resolved against the target's facts)
  args_type(spec, target) -> RecordType | None   what the `args` builtin is, if anything
  attach(target, prog_fd, spec, options) -> handle
Adding a probe type is adding a module here and its spellings to `_MODULES`.
`get_provider` imports only the module a probe needs: the kernel-facing providers pull in
pyelftools and BTF, which `BEGIN { exit(); }` must not pay for at start-up.
`all_providers` (listing) scans the package and imports every module.
"""

from __future__ import annotations

import importlib

from pytrace.diagnostics import PytraceError

# Every spelling of a provider -> the module defining it (tests check this against a scan).
_MODULES = {
    "BEGIN": "special", "END": "special",
    "tracepoint": "tracepoint", "t": "tracepoint",
    "rawtracepoint": "rawtracepoint", "rt": "rawtracepoint",
    "kprobe": "kprobe", "k": "kprobe", "kretprobe": "kprobe", "kr": "kprobe",
    "uprobe": "uprobe", "u": "uprobe", "uretprobe": "uprobe", "ur": "uprobe",
    "usdt": "usdt", "U": "usdt",
    "fentry": "fentry", "kfunc": "fentry", "f": "fentry",
    "fexit": "fentry", "kretfunc": "fentry", "fr": "fentry",
    "software": "software", "s": "software",
    "hardware": "hardware", "h": "hardware",
    "interval": "interval", "i": "interval",
    "profile": "profile", "p": "profile",
    "watchpoint": "watchpoint", "w": "watchpoint",
    "asyncwatchpoint": "watchpoint", "aw": "watchpoint",
}

_BY_NAME: dict[str, object] = {}


def _module_providers(module) -> list[object]:
    return [p for p in getattr(module, "PROVIDERS", [getattr(module, "PROVIDER", None)])
            if p is not None]


def _register(module) -> None:
    for provider in _module_providers(module):
        for name in (provider.name, *getattr(provider, "aliases", ())):
            _BY_NAME[name] = provider


def get_provider(name: str, span=None):
    provider = _BY_NAME.get(name)
    if provider is None:
        module_name = _MODULES.get(name)
        if module_name is not None:
            _register(importlib.import_module(f"{__name__}.{module_name}"))
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
