"""Probe expansion: each probe's attach points, through its provider, into compile units."""

from __future__ import annotations

import dataclasses
import re

from pytrace import ast
from pytrace.passes.state import CompileState, Unit
from pytrace.probes import NothingMatched, get_provider


def _uses_builtin(probe: ast.Probe, names: set[str]) -> bool:
    return any(isinstance(n, ast.Builtin) and n.name in names for n in ast.walk(probe))


_POSITIONAL = re.compile(r"\$(\d+)")


def _with_positionals(ap: ast.AttachPoint, params: list[str]) -> ast.AttachPoint:
    """`interval:ms:$1`: positional parameters substitute into attach points as text."""
    def sub(text: str) -> str:
        return _POSITIONAL.sub(
            lambda m: params[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(params) else "",
            text)
    if not any("$" in p for p in ap.parts):
        return ap
    return dataclasses.replace(ap, parts=[sub(p) for p in ap.parts], raw=sub(ap.raw),
                               span=ap.span)


def prefetch_facts(state: CompileState) -> None:
    """Tell the target every fact the providers will read (tracepoint formats),
    so a remote one fetches them in one request instead of one per probe."""
    from pytrace.diagnostics import PytraceError
    paths: list[str] = []
    for probe in state.program.probes:
        for ap in probe.attach_points:
            try:
                provider = get_provider(ap.provider, ap.span)
                needed = provider.facts_needed
                if needed is not None:
                    paths.extend(needed(_with_positionals(ap, state.params), state.target))
            except PytraceError:
                pass   # reported in order by the expansion below
    prefetch = getattr(state.target, "prefetch", None)   # test doubles lack it
    if paths and prefetch is not None:
        prefetch(paths)


def expand_probes(state: CompileState) -> None:
    prefetch_facts(state)
    skipped: list[NothingMatched] = []
    for index, probe in enumerate(state.program.probes):
        groups: list[tuple[object, list]] = []
        for ap in probe.attach_points:
            ap = _with_positionals(ap, state.params)
            provider = get_provider(ap.provider, ap.span)
            try:
                if provider.expands_for_pid:
                    specs = provider.expand(ap, state.target, pid=state.pid)
                else:
                    specs = provider.expand(ap, state.target)
            except NothingMatched as e:
                skipped.append(e)
                continue
            if groups and groups[-1][0] is provider:
                groups[-1][1].extend(specs)
            else:
                groups.append((provider, specs))
        per_point = _uses_builtin(probe, {"probe", "args"})
        uses_args = _uses_builtin(probe, {"args"})
        for provider, all_specs in groups:
            # A provider may need separate programs for some points (fentry: one
            # attach_btf_id each; usdt: sites whose arguments live in different places).
            split = provider.split_units
            # uprobe_multi links give each point a cookie: `probe` reads it, one program.
            by_cookie = per_point and not uses_args and provider.probe_ids_by_cookie(state.target)
            for specs in (split(all_specs, probe) if split else [all_specs]):
                names = list(dict.fromkeys(s.name for s in specs))
                if by_cookie and len(names) > 1:
                    _add_unit(state, probe, index, provider, specs, uses_args)
                    state.units[-1].probe_by_cookie = True
                    for spec in specs:
                        spec.options["probe_id"] = state.probe_id(spec.name)
                elif per_point and len(names) > 1:
                    # `probe` and `args` differ per attach point: one program each.
                    for name in names:
                        _add_unit(state, probe, index, provider,
                                  [s for s in specs if s.name == name], uses_args)
                else:
                    _add_unit(state, probe, index, provider, specs, uses_args)
    if skipped and not state.units:
        raise skipped[0]  # nothing left to trace: the missing function is the error


def _add_unit(state: CompileState, probe, index, provider, specs, uses_args) -> None:
    n = len(state.units)
    unit = Unit(probe=probe, probe_index=index, provider=provider, specs=specs)
    names = list(dict.fromkeys(s.name for s in specs))
    unit.probe_id = state.probe_id(names[0]) if len(names) == 1 else None
    for name in names:
        state.probe_id(name)
    if uses_args and len(names) == 1:
        unit.args_type = provider.args_type(specs[0], state.target)
    kind = provider.prog_type
    unit.function = f"{kind}_{n}"
    unit.section = f"{'s' if kind in ('begin', 'end') else kind}/{n}"
    state.units.append(unit)
