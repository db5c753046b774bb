"""bpftrace's wildcard rules for attach points, shared by every symbol source.

`*` matches any run of characters (including none), `?` one character and
`{a,b}` any of the listed alternatives; everything else is literal (unlike
fnmatch, `[` is not a character class: C++ and module names contain brackets).
"""

from __future__ import annotations

import re
from functools import lru_cache


def has_wildcard(pattern: str) -> bool:
    return any(c in pattern for c in "*?{")


@lru_cache(maxsize=256)
def compile_wildcard(pattern: str) -> re.Pattern:
    """A regex that matches a whole name against `pattern`."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "{":
            end = pattern.find("}", i)
            if end < 0:
                out.append(re.escape(c))
            else:
                alternatives = pattern[i + 1:end].split(",")
                out.append("(?:" + "|".join(re.escape(a) for a in alternatives) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def match(pattern: str, name: str) -> bool:
    return compile_wildcard(pattern).fullmatch(name) is not None


def filter_names(pattern: str, names) -> list[str]:
    """The names matching `pattern`, in their original order (exact name: only it)."""
    if not has_wildcard(pattern):
        return [n for n in names if n == pattern]
    rx = compile_wildcard(pattern).fullmatch
    return [n for n in names if rx(n)]
