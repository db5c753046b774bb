"""Reuse, within one probe, of work already done: map reads, built keys, task helpers.

In `/@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }` the
map is looked up once and the key built once: codegen asks this cache before
emitting a lookup, a key, or a helper call whose answer cannot change while the
program runs (pid/tid, uid/gid, cpu, cgroup).

Validity is dominance plus freshness:
- an entry made inside a branch is dropped when the branch ends (`branch()`),
  and a loop body sees nothing made outside it (`loop()`): a store later in the
  body would reach the next iteration's read;
- each entry names the maps and scratch variables it depends on, and a store to
  one of them (`forget`) drops every entry that depends on it;
- key slots made inside a statement die with the statement's stack (`drop_slots`).

Only what one program run cannot see change is reused: another CPU may write the
same map between two lookups, but that race exists in bpftrace too, and one
lookup per key per probe is what a bpftrace user expects to pay.
"""

from __future__ import annotations

from contextlib import contextmanager

from pytrace import ast

# Builtins whose value is fixed for one run of a program: the task, CPU (BPF
# programs run with migration disabled) and the program's own constants.
STABLE_BUILTINS = frozenset({"pid", "tid", "uid", "gid", "cpu", "cgroup", "comm", "probe",
                             "cpid", "args"})


def signature(e) -> tuple[tuple, frozenset] | None:
    """(a hashable name for what `e` computes, the variables it reads), or None
    when two evaluations of `e` in one run may differ (nsecs, rand, map reads)."""
    variables: set[str] = set()

    def sig(x):
        ty = getattr(x, "ty", None)
        if isinstance(x, ast.Integer):
            return ("int", x.value, ty)
        if isinstance(x, ast.String):
            return ("str", x.value, ty)
        if isinstance(x, ast.Builtin):
            return ("builtin", x.name, ty) if x.name in STABLE_BUILTINS else None
        if isinstance(x, ast.PositionalParam):
            return ("param", x.index, ty)
        if isinstance(x, ast.Variable):
            variables.add(x.name)
            return ("var", x.name, ty)
        if isinstance(x, ast.FieldAccess):
            # Only the probe's own context (args.f): its record does not change
            # under the program. A field behind a pointer is kernel memory that may.
            if isinstance(x.expr, ast.Builtin) and x.expr.name == "args":
                return ("field", x.field, ty)
            return None
        if isinstance(x, ast.Cast):
            inner = sig(x.expr)
            return None if inner is None else ("cast", inner, ty)
        if isinstance(x, ast.Unary) and x.op in ("-", "~", "!"):
            inner = sig(x.operand)
            return None if inner is None else ("unary", x.op, inner, ty)
        if isinstance(x, ast.Binary):
            left, right = sig(x.left), sig(x.right)
            if left is None or right is None:
                return None
            return ("binary", x.op, left, right, ty)
        return None

    s = sig(e)
    return None if s is None else (s, frozenset(variables))


class ReuseCache:
    """Scoped entries: key -> (value, dependencies)."""

    def __init__(self) -> None:
        self.scopes: list[dict] = [{}]
        self.floor = 0  # lookups do not search scopes below this (loop bodies)

    def get(self, key):
        for scope in reversed(self.scopes[self.floor:]):
            if key in scope:
                return scope[key][0]
        return None

    def put(self, key, value, deps=frozenset()) -> None:
        self.scopes[-1][key] = (value, frozenset(deps))

    def forget(self, name: str) -> None:
        """A map or variable was written: entries that read it are stale."""
        for scope in self.scopes:
            for key in [k for k, (_, deps) in scope.items() if name in deps]:
                del scope[key]

    def drop_slots(self, slots) -> None:
        """These stack slots' lifetimes ended: entries holding them are gone."""
        dead = {id(s) for s in slots}
        for scope in self.scopes:
            for key in [k for k, (v, _) in scope.items() if id(v) in dead]:
                del scope[key]

    @contextmanager
    def branch(self):
        self.scopes.append({})
        try:
            yield
        finally:
            self.scopes.pop()

    @contextmanager
    def loop(self):
        saved = self.floor
        self.scopes.append({})
        self.floor = len(self.scopes) - 1
        try:
            yield
        finally:
            self.floor = saved
            self.scopes.pop()
