"""Type algebra the checker uses: promotion, widening for storage, joining uses."""

from __future__ import annotations

from pytrace.types import (INT64, UINT64, UNKNOWN, BoolType, IntType,  # noqa: F401
                           SpecialType, StringType, TupleType, Type, UnknownType, is_int,
                           is_signed)  # UNKNOWN, is_int, is_signed: re-exported


def widen(t: Type) -> Type:
    """How a value is stored in maps and variables: integers as 64 bits (as bpftrace)."""
    if isinstance(t, (IntType, BoolType)):
        return IntType(64, is_signed(t))
    if isinstance(t, TupleType):
        return TupleType(tuple(widen(e) for e in t.elems))
    return t


def arith(a: Type, b: Type) -> Type:
    """C-like usual arithmetic conversion on 64-bit values: unsigned wins."""
    return INT64 if is_signed(a) and is_signed(b) else UINT64


def join(old: Type | None, new: Type) -> Type | None:
    """The type holding both, or None when they clash. Unknown defers to the other."""
    if old is None or isinstance(old, UnknownType):
        return new
    if isinstance(new, UnknownType):
        return old
    if is_int(old) and is_int(new):
        if isinstance(old, SpecialType) or isinstance(new, SpecialType):
            return old if type(old) is type(new) and old == new else None
        return old
    if isinstance(old, StringType) and isinstance(new, StringType):
        return StringType(max(old.length, new.length))
    if isinstance(old, TupleType) and isinstance(new, TupleType):
        if len(old.elems) != len(new.elems):
            return None
        elems = [join(a, b) for a, b in zip(old.elems, new.elems)]
        return None if any(e is None for e in elems) else TupleType(tuple(elems))
    return old if old == new else None


def type_name(t: Type) -> str:
    """As bpftrace names types in messages."""
    if isinstance(t, IntType):
        return str(t).replace("uint", "unsigned int")
    return str(t)


def contains_unknown(t: Type) -> bool:
    if isinstance(t, UnknownType):
        return True
    if isinstance(t, TupleType):
        return any(contains_unknown(e) for e in t.elems)
    return False


__all__ = ["UNKNOWN", "is_int", "is_signed", "widen", "arith", "join", "type_name",
           "contains_unknown"]
