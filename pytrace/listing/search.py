"""What a `-l SEARCH` asks for: which providers, spelled how, and which names match.

bpftrace's listing rules: `*` and `?` are wildcards and a `*` may span the
`:` separators (`tracepoint:sched*` lists every sched event); a search
without `:` is matched against whole probe names of every provider
(`*sched_switch*`); a provider may be abbreviated (`t:`, `k:`) or itself be
a wildcard (`t*:sched:sched_switch`). Probes are printed with the
provider spelled as asked (`kretprobe:` lists the same functions as
`kprobe:`). Trailing parts left out are taken as `*` (bpftrace 0.17 errors
instead; listing more is the friendlier reading).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytrace.attach_points import PROVIDER_ALIASES, split_parts
from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard

# Listed for a search without a provider, in output (alphabetical) order.
# bpftrace 0.17 names fentry probes `kfunc:`; pytrace keeps that spelling.
KERNEL_LISTINGS = ("hardware", "iter", "kfunc", "kprobe", "rawtracepoint", "software",
                   "tracepoint")
USER_LISTINGS = ("uprobe", "usdt")

# Output spelling -> (source of names, how many parts after the provider).
SOURCES = {
    "hardware": ("hardware", (1, 2)),
    "iter": ("iter", (1, 1)),
    "kfunc": ("kfunc", (1, 2)), "kretfunc": ("kfunc", (1, 2)),
    "fentry": ("kfunc", (1, 2)), "fexit": ("kfunc", (1, 2)),
    "kprobe": ("kprobe", (1, 2)), "kretprobe": ("kprobe", (1, 2)),
    "rawtracepoint": ("rawtracepoint", (1, 1)),
    "software": ("software", (1, 2)),
    "tracepoint": ("tracepoint", (2, 2)),
    "uprobe": ("uprobe", (2, 2)), "uretprobe": ("uprobe", (2, 2)),
    "usdt": ("usdt", (2, 3)),
}
# Probe types that have no list of names (a rate, an address...): nothing to list.
UNLISTABLE = ("profile", "interval", "watchpoint", "asyncwatchpoint", "BEGIN", "END")


@dataclass(frozen=True)
class Query:
    """One provider to list. `pattern` matches the part after `provider:` (for
    uprobe/usdt: after `provider:PATH:`); `path` is the binary as written."""

    provider: str  # output spelling: "kprobe", "kretprobe", "kfunc", "fentry", ...
    source: str  # where names come from: "kprobe", "kfunc", "tracepoint", ...
    pattern: str
    path: str | None = None

    def matcher(self):
        """A predicate over names, or None when everything matches."""
        if self.pattern == "*":
            return None
        if not wildcard.has_wildcard(self.pattern):
            return self.pattern.__eq__
        return wildcard.compile_wildcard(self.pattern).fullmatch


@dataclass(frozen=True)
class Search:
    """A parsed SEARCH: either per-provider queries, or a whole-name pattern
    over several providers (`whole` set, `queries` with pattern "*")."""

    queries: list[Query]
    whole: str | None = None  # full-name wildcard, e.g. "*sched_switch*"
    struct: str | None = None  # "struct task_struct": print a type instead

    def whole_matcher(self):
        if self.whole is None or self.whole == "*":
            return None
        return wildcard.compile_wildcard(self.whole).fullmatch


def _spelling(name: str) -> str:
    """The provider's output spelling for what the user typed."""
    canonical = PROVIDER_ALIASES.get(name)
    if canonical is None:
        raise PytraceError(f"Invalid probe type: {name}")
    if name in ("kfunc", "kretfunc"):
        return name
    return canonical


def parse_search(search: str | None, pid: int | None = None) -> Search:
    """Turn a -l argument into what to list (PytraceError for a bad search)."""
    search = (search or "*").strip() or "*"
    for keyword in ("struct ", "union ", "enum "):
        if search.startswith(keyword):
            return Search([], struct=search)
    parts = split_parts(search)
    default = USER_LISTINGS if pid is not None else KERNEL_LISTINGS
    if len(parts) == 1:
        if search in SOURCES or search in PROVIDER_ALIASES:
            parts.append("")  # a bare provider name: all its probes
        elif wildcard.has_wildcard(search):
            return Search([Query(p, SOURCES[p][0], "*") for p in default], whole=search)
        else:
            raise PytraceError(f"Invalid probe type: {search} (search PROVIDER:... "
                               f"or a wildcard such as '*{search}*')")
    spelled, rest = parts[0], parts[1:]
    if wildcard.has_wildcard(spelled):
        rx = wildcard.compile_wildcard(spelled).fullmatch
        providers = [p for p in (*KERNEL_LISTINGS, *USER_LISTINGS) if rx(p)]
        if pid is None:
            providers = [p for p in providers if p not in USER_LISTINGS]
        return Search([Query(p, SOURCES[p][0], "*") for p in providers], whole=search)
    provider = _spelling(spelled)
    if provider in UNLISTABLE or provider not in SOURCES:
        return Search([])
    source, (least, most) = SOURCES[provider]
    if len(rest) > most:
        count = f"{least} or {most}" if least != most else f"{most}"
        raise PytraceError(f"{provider} probe type requires {count} arguments: {search}")
    if source in ("uprobe", "usdt"):
        return Search([_user_query(provider, source, rest, pid)])
    pattern = ":".join(rest) or "*"
    if source == "tracepoint" and len(rest) == 1 and not pattern.endswith("*"):
        pattern += ":*"  # `tracepoint:sched`: the whole category
    return Search([Query(provider, source, pattern)])


def _user_query(provider: str, source: str, rest: list[str], pid: int | None) -> Query:
    path = rest[0] if rest else ""
    if not path and pid is None:
        raise PytraceError(f"{provider} needs a binary: {provider}:PATH:... (or -p PID)")
    names = rest[1:]
    if source == "usdt" and len(names) == 1 and names[0] != "*":
        names = ["*", names[0]]  # usdt:PATH:NAME matches NAME under any provider
    return Query(provider, source, ":".join(names) or "*", path or "*")
