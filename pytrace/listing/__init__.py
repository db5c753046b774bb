"""Probe listing (`pytrace -l [SEARCH]`, `-lv`): which probes exist, in bpftrace's names.

`iter_probes(target, search)` yields the output lines; `list_probes(opts)`
is what the CLI calls. The work is split by job: `search` parses SEARCH,
`kernel_names` and `user_names` produce each provider's sorted names,
`details` adds the `-v` lines (tracepoint fields, BTF arguments) and
`c_struct` prints `struct NAME` from BTF.

Output is in bpftrace's order, a sorted set of full names: providers
alphabetically, each provider's names sorted. Lines are produced per
provider, so the biggest provider (kprobe, ~60k names) is the largest list
held at once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pytrace.diagnostics import PytraceError
from pytrace.listing import details
from pytrace.listing.kernel_names import KERNEL_SOURCES, KernelFacts, perf_event_names
from pytrace.listing.search import Query, Search, parse_search

__all__ = ["Search", "iter_chunks", "iter_probes", "list_probes", "parse_search"]


def iter_probes(target, search: str | None = "*", verbose: bool = False,
                pid: int | None = None) -> Iterator[str]:
    """Lines of `pytrace -l SEARCH` (with -v: each probe followed by its details).

    Raises PytraceError for a search that names no probe type, or a binary
    that does not exist; a search that matches nothing yields nothing.
    """
    for chunk in iter_chunks(target, search, verbose, pid):
        yield from chunk


def iter_chunks(target, search: str | None = "*", verbose: bool = False,
                pid: int | None = None) -> Iterator[list[str]]:
    """The same lines in lists (one per provider, or per probe with -v):
    ~120k lines one by one through a generator would cost a tenth of a second."""
    parsed = parse_search(search, pid)
    facts = KernelFacts(target)
    if parsed.struct is not None:
        yield list(details.struct_lines(facts, parsed.struct))
        return
    whole = parsed.whole_matcher()
    if any(q.source == "kprobe" for q in parsed.queries):
        facts.prefetch_kallsyms()
    for query in sorted(parsed.queries, key=lambda q: q.provider):
        names = _names(facts, query, pid, whole)
        if not verbose:
            yield names
            continue
        for name in names:
            yield [name, *details.probe_details(facts, query.source, name)]


def _names(facts: KernelFacts, query: Query, pid: int | None, whole) -> list[str]:
    """Full probe names (`provider:...`) of one query, sorted."""
    prefix = query.provider + ":"
    if query.source in ("uprobe", "usdt"):
        # pyelftools costs ~50 ms to import: only user probes need it.
        from pytrace.listing.user_names import USER_SOURCES, binaries
        lines = []
        for shown, file in binaries(facts.target, query.path, pid):
            head = f"{prefix}{shown}:"
            match = None if whole else query.matcher()
            lines.extend(head + n for n in USER_SOURCES[query.source](facts.target, file, match))
        names = sorted(lines)
    else:
        match = None if whole else _kernel_matcher(query)
        rests = KERNEL_SOURCES[query.source](facts)
        if match is not None:
            rests = [r for r in rests if match(r)]
        names = [prefix + r for r in rests]
    if whole is not None:
        names = [n for n in names if whole(n)]
    return names


def _kernel_matcher(query: Query):
    if query.source in ("software", "hardware"):
        # software/hardware names end in ":" (`software:cpu-clock:`); match
        # the event part, accepting bpftrace's short spellings (`cs`, `cycles`).
        event = query.pattern.split(":")[0]
        event = perf_event_names(query.source)[1].get(event, event)
        return Query(query.provider, query.source, event + ":*").matcher()
    return query.matcher()


def list_probes(search: str = "*", verbose: bool = False, pid: int | None = None,
                target_name: str = "local") -> int:
    """The CLI's -l: print matching probes to stdout, return the exit status."""
    from pytrace.target.choose import open_target
    target = open_target(target_name)
    try:
        target.check_privileges()
        write = sys.stdout.write
        for chunk in iter_chunks(target, search, verbose=verbose, pid=pid):
            if chunk:
                write("\n".join(chunk) + "\n")
        sys.stdout.flush()
    finally:
        target.close_all()
    return 0
