"""BTF function prototypes as pytrace types: the typed `args` of fentry/fexit and tp_btf.

Programs of both kinds get their arguments as an array of u64 slots, one per
parameter, so `args` is a record whose fields sit 8 bytes apart; each field has
the parameter's own type (an int reads the low bytes of its slot).
"""

from __future__ import annotations

import weakref

from pytrace.kernel import btf as B
from pytrace.types import UINT64, IntType, PointerType, RecordField, RecordType, Type

SLOT = 8
# Parsed once per target object (weakly: a target's BTF goes with it).
_BTF_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def vmlinux(target):
    """The target's vmlinux BTF, parsed once per target; None without BTF."""
    try:
        return _BTF_CACHE[target]
    except (KeyError, TypeError):
        pass
    try:
        btf = B.load_vmlinux(target)
    except (FileNotFoundError, PermissionError, B.BTFError):
        btf = None
    try:
        _BTF_CACHE[target] = btf
    except TypeError:
        pass  # not weakly referenceable: parse again next time
    return btf


def module_btf(target, module: str):
    base = vmlinux(target)
    if base is None:
        return None
    try:
        return B.load_module(target, module, base)
    except (FileNotFoundError, B.BTFError):
        return None


def to_type(btf, type_id: int) -> Type:
    """The pytrace type of a parameter or return value (what a u64 slot holds)."""
    if type_id == 0:
        return UINT64
    t = btf.resolve(type_id)
    if t.kind == B.INT:
        size = max(1, min(t.size, 8))
        return IntType(8 * size if size in (1, 2, 4, 8) else 64, t.is_signed)
    if t.kind in (B.ENUM, B.ENUM64):
        return IntType(8 * t.size if t.size in (1, 2, 4, 8) else 64, t.is_signed)
    if t.kind == B.PTR:
        target = btf.resolve(t.ref) if t.ref else None
        pointee = to_type(btf, t.ref) if target is not None and target.kind in (
            B.INT, B.ENUM, B.ENUM64) else None
        return PointerType(pointee, c_name=btf.type_name(type_id))
    if t.kind == B.VOID:
        return UINT64
    # Structs passed by value and anything else: the raw slot.
    return UINT64


def args_record(btf, params, name: str = "") -> RecordType:
    """`args` for a list of BTF Params: field i is slot i."""
    fields = tuple(RecordField(p.name or f"arg{i}", to_type(btf, p.type_id), SLOT * i)
                   for i, p in enumerate(params))
    return RecordType(name, fields, SLOT * len(params))
