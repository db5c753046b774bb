"""The builtin registry: one record per builtin variable or function.

Modules in this package register records with `variable(...)` and `function(...)`;
the package is scanned on first use, so adding a builtin is adding a record (or a
module). A record carries everything about its builtin:

  BuiltinVariable: name, type(checker, node) -> Type, codegen(fn, node) -> ir value
  BuiltinFunction: name, check(checker, call) -> Type, codegen(fn, call) -> ir value
                   or, for aggregations (`@m[k] = count()`), aggregation(checker, call)
                   -> the map's value type and aggregate(fn, map_node, call).
  Either may have write_into(fn, node, zero_fill) -> write(ptr) or None: its value
  written straight into memory of its own type (a map key, a ring buffer record),
  with no stack copy; None falls back to codegen plus a copy.
  A function whose check registers an AsyncAction handles its records in userspace
  with `events`: {action kind: handler(runtime, action, payload)}.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from pytrace.diagnostics import PytraceError


@dataclass
class BuiltinVariable:
    """A builtin variable (pid, comm ...): its type rule and its code."""

    name: str
    type: Callable
    codegen: Callable
    write_into: Callable | None = None


@dataclass
class BuiltinFunction:
    """A builtin function: its check, its code and, for map functions, its aggregation."""

    name: str
    check: Callable | None = None
    codegen: Callable | None = None
    aggregation: Callable | None = None
    aggregate: Callable | None = None
    write_into: Callable | None = None
    # What userspace does with the records its check registers: action kind ->
    # handler(runtime, action, payload), runtime being runtime/events.EventHandler.
    events: dict[str, Callable] | None = None


_VARIABLES: dict[str, BuiltinVariable] = {}
_FUNCTIONS: dict[str, BuiltinFunction] = {}
_loaded = False


def variable(name: str, type: Callable, codegen: Callable, **kw) -> BuiltinVariable:
    record = _VARIABLES[name] = BuiltinVariable(name, type, codegen, **kw)
    return record


def function(name: str, **kw) -> BuiltinFunction:
    record = _FUNCTIONS[name] = BuiltinFunction(name, **kw)
    return record


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")


def get_variable(name: str, span=None) -> BuiltinVariable:
    _load()
    record = _VARIABLES.get(name)
    if record is None:
        raise PytraceError(f"Unknown builtin variable: {name}", span)
    return record


def get_function(name: str, span=None) -> BuiltinFunction:
    _load()
    record = _FUNCTIONS.get(name)
    if record is None:
        raise PytraceError(f"Unknown function: {name}", span)
    return record


def event_handlers() -> dict[str, Callable]:
    """Every builtin's handlers of its async actions, by action kind."""
    _load()
    return {kind: handler for record in _FUNCTIONS.values()
            for kind, handler in (record.events or {}).items()}


def names() -> tuple[list[str], list[str]]:
    _load()
    return sorted(_VARIABLES), sorted(_FUNCTIONS)
