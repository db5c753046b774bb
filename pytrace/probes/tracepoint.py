"""tracepoint:CATEGORY:EVENT (wildcards allowed): static kernel tracepoints.

`args` is the event's record, typed from its tracefs format file; the program is a
BPF_PROG_TYPE_TRACEPOINT attached through a perf event on the tracepoint id.
"""

from __future__ import annotations

import fnmatch

from pytrace.diagnostics import PytraceError
from pytrace.kernel.tracefs import TRACEFS_ROOTS, tracefs_unavailable
from pytrace.probes import Provider
from pytrace.probes.tracepoint_format import parse_format
from pytrace.resources import AttachSpec


def _not_found(target, category: str, event: str, span) -> PytraceError:
    """The kernel layer's message, which names the closest existing tracepoints."""
    from pytrace.kernel.errors import unknown_tracepoint
    from pytrace.kernel.tracefs import list_tracepoints
    every = list_tracepoints(target)
    in_category = [e for c, e in every if c == category] or None
    found = unknown_tracepoint(category, event, in_category, [f"{c}:{e}" for c, e in every])
    return PytraceError(found.message, span)


def _events_root(target) -> str:
    for root in TRACEFS_ROOTS:
        if target.path_exists(root + "/events"):
            return root + "/events"
    why = tracefs_unavailable(target)
    raise why if isinstance(why, PytraceError) else PytraceError(str(why))


def _has_wildcard(text: str) -> bool:
    return any(c in text for c in "*?[")


class TracepointProvider(Provider):
    name = "tracepoint"
    aliases = ("t",)
    prog_type = "tracepoint"

    def facts_needed(self, ap, target) -> list[str]:
        """The format file a plain `tracepoint:cat:event` reads (see prefetch_facts)."""
        if len(ap.parts) != 2 or _has_wildcard("".join(ap.parts)):
            return []
        # Under every place tracefs may be: a remote target that has not said
        # where its tracefs is sends them at once (and drops the others later).
        return [f"{root}/events/{ap.parts[0]}/{ap.parts[1]}/format" for root in TRACEFS_ROOTS]

    def expand(self, ap, target) -> list[AttachSpec]:
        if len(ap.parts) != 2:
            raise PytraceError(f"Invalid tracepoint: {ap.raw or ap.provider}: "
                               "expected tracepoint:category:event", ap.span)
        category, event = ap.parts
        root = _events_root(target)
        if _has_wildcard(category):
            categories = sorted(c for c in target.list_dir(root)
                                if fnmatch.fnmatchcase(c, category)
                                and target.path_exists(f"{root}/{c}/enable"))
        else:
            categories = [category]
        specs = []
        for cat in categories:
            if _has_wildcard(event):
                try:
                    names = sorted(target.list_dir(f"{root}/{cat}"))
                except FileNotFoundError:
                    continue
                events = [e for e in names if fnmatch.fnmatchcase(e, event)
                          and target.path_exists(f"{root}/{cat}/{e}/format")]
            else:
                events = [event]
            for ev in events:
                specs.append(AttachSpec(provider=self.name, name=f"tracepoint:{cat}:{ev}",
                                        target=cat, func=ev))
        if not specs:
            raise PytraceError(f"No tracepoints matched {ap.raw or 'tracepoint:' + ':'.join(ap.parts)}",
                               ap.span)
        if len(specs) == 1 and not _has_wildcard(category + event):
            if not target.path_exists(f"{root}/{category}/{event}/format"):
                raise _not_found(target, category, event, ap.span)
        elif len(specs) > 1 and hasattr(target, "prefetch"):   # test doubles lack it
            target.prefetch([f"{root}/{s.target}/{s.func}/format" for s in specs])
        return specs

    def args_type(self, spec, target):
        root = _events_root(target)
        text = target.read_file(f"{root}/{spec.target}/{spec.func}/format").decode(
            "utf-8", "replace")
        return parse_format(text)

    def probe_ids_by_cookie(self, target) -> bool:
        # One program for every point of a wildcard; `probe` reads the link's cookie.
        supports = getattr(target, "supports", None)
        return bool(supports and supports("perf_cookie"))

    def attach(self, target, prog_fd, spec, options):
        return target.attach_tracepoint(prog_fd, spec.target, spec.func,
                                        cookie=spec.options.get("probe_id", 0))


PROVIDER = TracepointProvider()
