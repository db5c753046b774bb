"""The probe provider registry: one module per probe type, found by scanning this package.

A provider module defines `PROVIDER`, an object with:
  name, aliases        canonical provider name (as ast.AttachPoint.provider) and spellings
  prog_type            "begin", "end", "tracepoint", "perf_event" ... (ProgramSpec.prog_type)
  expand(ap, target)   -> [AttachSpec]  (wildcards resolved against the target's facts)
  args_type(spec, target) -> RecordType | None   what the `args` builtin is, if anything
  attach(target, prog_fd, spec, options) -> handle
Adding a probe type is adding a module here.
"""

from __future__ import annotations

import importlib
import pkgutil

from pytrace.diagnostics import PytraceError

_REGISTRY: dict[str, object] | None = None


def _load() -> dict[str, object]:
    global _REGISTRY
    if _REGISTRY is None:
        registry: dict[str, object] = {}
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for provider in getattr(module, "PROVIDERS", [getattr(module, "PROVIDER", None)]):
                if provider is None:
                    continue
                for name in (provider.name, *getattr(provider, "aliases", ())):
                    registry[name] = provider
        _REGISTRY = registry
    return _REGISTRY


def get_provider(name: str, span=None):
    provider = _load().get(name)
    if provider is None:
        raise PytraceError(f"Invalid probe type: {name}", span)
    return provider


def all_providers() -> list[object]:
    seen: list[object] = []
    for p in _load().values():
        if p not in seen:
            seen.append(p)
    return seen
