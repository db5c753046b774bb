"""The types of bpftrace values, with their byte layout.

One vocabulary shared by the type pass (what an expression is), codegen (how
many bytes, which alignment), the runtime (how to decode bytes read from a map
or a ring buffer record) and the formatters (how a value prints). Types are
immutable and hashable so they can key dicts and be compared for map agreement.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from operator import attrgetter


def value_type(cls):
    """What @dataclass(frozen=True) gave these classes, at a fraction of its import cost.

    Fields are the annotated class attributes (bases first), defaults their values. The
    class gets a generated __init__ (one exec, not dataclasses' five per class plus an
    inspect.signature): Type supplies field-wise __eq__/__hash__/__repr__ and refuses
    assignment, so types stay immutable and usable as dict keys.
    """
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__.get("__annotations__", {}):
            if name not in names:
                names.append(name)
    defaults = {name: getattr(cls, name) for name in names if hasattr(cls, name)}
    params, body = [], []
    for name in names:
        params.append(f"{name}=_defaults[{name!r}]" if name in defaults else name)
        body.append(f"    _set(self, {name!r}, {name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("\n".join(body) or "    pass")
    namespace: dict = {}
    exec(source, {"_defaults": defaults, "_set": object.__setattr__}, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init
    cls._fields = tuple(names)
    if names:
        cls._key = attrgetter(*names)
    return cls


class Frozen:
    """Immutable field-wise value: the methods @dataclass(frozen=True) generated per class."""

    _fields = ()
    _key = staticmethod(lambda self: ())  # per class: attrgetter of its fields

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._key(self) == other._key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({inner})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")


@value_type
class Type(Frozen):
    @property
    def size(self) -> int:
        raise NotImplementedError

    @property
    def align(self) -> int:
        return min(max(self.size, 1), 8)

    @property
    def is_integer(self) -> bool:
        return False


@value_type
class VoidType(Type):
    """The type of statements and functions that return nothing."""

    @property
    def size(self) -> int:
        return 0

    def __str__(self) -> str:
        return "none"


@value_type
class IntType(Type):
    bits: int = 64
    signed: bool = False

    @property
    def size(self) -> int:
        return self.bits // 8

    @property
    def is_integer(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"


@value_type
class BoolType(Type):
    @property
    def size(self) -> int:
        return 1

    @property
    def is_integer(self) -> bool:
        return True

    def __str__(self) -> str:
        return "bool"


@value_type
class StringType(Type):
    """A NUL-padded char array of fixed capacity (bpftrace's string[N])."""

    length: int = 64

    @property
    def size(self) -> int:
        return self.length

    @property
    def align(self) -> int:
        return 1

    def __str__(self) -> str:
        return f"string[{self.length}]"


@value_type
class BufferType(Type):
    """buf(): a length byte then the data; prints hex-escaped."""

    length: int = 64

    @property
    def size(self) -> int:
        return self.length + 1

    @property
    def align(self) -> int:
        return 1

    def __str__(self) -> str:
        return f"buffer[{self.length}]"


@value_type
class PointerType(Type):
    pointee: Type | None = None  # None: void *
    # The C spelling when known (`struct task_struct *`), for -d and errors.
    c_name: str = ""

    @property
    def size(self) -> int:
        return 8

    @property
    def is_integer(self) -> bool:
        return True  # pointers do arithmetic and compare like uint64

    def __str__(self) -> str:
        return self.c_name or (f"{self.pointee} *" if self.pointee else "void *")


@value_type
class ArrayType(Type):
    elem: Type
    count: int

    @property
    def size(self) -> int:
        return self.elem.size * self.count

    @property
    def align(self) -> int:
        return self.elem.align

    def __str__(self) -> str:
        return f"{self.elem}[{self.count}]"


@value_type
class RecordField(Frozen):
    name: str
    type: Type
    offset: int
    bit_offset: int = 0  # within the byte at `offset`, for bitfields
    bit_size: int = 0    # 0: not a bitfield


@value_type
class RecordType(Type):
    """A C struct or union (from BTF, a tracepoint format or the script)."""

    name: str  # "struct task_struct", "union foo", or "" for tracepoint args
    fields: tuple[RecordField, ...] = ()
    byte_size: int = 0

    @property
    def size(self) -> int:
        return self.byte_size

    @property
    def align(self) -> int:
        return max((f.type.align for f in self.fields), default=1)

    def field(self, name: str) -> RecordField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        return self.name or "record"


def align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


@value_type
class TupleType(Type):
    """An ordered group of values, laid out like a C struct (natural alignment)."""

    elems: tuple[Type, ...] = ()

    @property
    def offsets(self) -> tuple[int, ...]:
        return self._layout()[0]

    @property
    def size(self) -> int:
        return self._layout()[1]

    @property
    def align(self) -> int:
        return self._layout()[2]

    def _layout(self) -> tuple[tuple[int, ...], int, int]:
        """(offsets, size, align), computed once per value: asking each element
        again at every use made `((1,(1,(1,...))))` cost exponential time."""
        layout = self.__dict__.get("_cached_layout")
        if layout is None:
            offsets, pos, align = [], 0, 1
            for t in self.elems:
                elem_align = t.align
                pos = align_up(pos, elem_align)
                offsets.append(pos)
                pos += t.size
                align = max(align, elem_align)
            layout = (tuple(offsets), align_up(pos, align) if self.elems else 0, align)
            object.__setattr__(self, "_cached_layout", layout)
        return layout

    def __str__(self) -> str:
        return "(" + ",".join(str(t) for t in self.elems) + ")"


@value_type
class StackType(Type):
    """kstack/ustack: an id into a stack_trace map (plus pid for ustack)."""

    kernel: bool = True
    limit: int = 127
    mode: str = "bpftrace"  # bpftrace, perf, raw

    @property
    def size(self) -> int:
        # kstack: u64 stack id; ustack: u64 stack id + u64 pid for symbolisation.
        return 8 if self.kernel else 16

    def __str__(self) -> str:
        return f"{'kstack' if self.kernel else 'ustack'}({self.mode}, {self.limit})"


@value_type
class SymbolType(Type):
    """ksym(addr) / usym(addr): an address printed as a symbol name."""

    kernel: bool = True

    @property
    def size(self) -> int:
        return 8 if self.kernel else 16  # usym carries the pid too

    def __str__(self) -> str:
        return "ksym" if self.kernel else "usym"


@value_type
class SpecialType(Type):
    """Values that are integers in BPF but print specially in userspace.

    kind: "probe" (probe index -> name), "username" (uid -> name),
    "inet" (ntop: af + 16 bytes), "cgroup_path", "strerror", "timestamp",
    "mac_address".
    """

    kind: str
    byte_size: int = 8

    @property
    def size(self) -> int:
        return self.byte_size

    def __str__(self) -> str:
        return self.kind


@value_type
class CgroupPathType(SpecialType):
    """cgroup_path(id, filter): the cgroup id, printed as `hierarchy:/path` for each
    mounted hierarchy whose name matches `filter` (a wildcard)."""

    filter: str = "*"


@value_type
class InetType(Type):
    """ntop(): u64 address family then 16 address bytes; prints as address text."""

    @property
    def size(self) -> int:
        return 24

    def __str__(self) -> str:
        return "inet"


@value_type
class MacAddressType(Type):
    """macaddr(): 6 bytes printed as `AA:BB:CC:DD:EE:FF`."""

    @property
    def size(self) -> int:
        return 6

    @property
    def align(self) -> int:
        return 1

    def __str__(self) -> str:
        return "mac_address"


@value_type
class TimestampType(Type):
    """strftime(): nanoseconds since boot, formatted with `fmt` in userspace."""

    fmt: str = ""

    @property
    def size(self) -> int:
        return 8

    def __str__(self) -> str:
        return "timestamp"


# ---- aggregation map values --------------------------------------------------
# These are the value types of maps written with count(), sum() ...; the runtime
# merges per-CPU slots and the formatter prints them. Layouts are the per-CPU
# slot layouts the generated code updates.

@value_type
class AggregationType(Type):
    signed: bool = False

    @property
    def size(self) -> int:
        return 8


@value_type
class CountType(AggregationType):
    def __str__(self) -> str:
        return "count_t"


@value_type
class SumType(AggregationType):
    def __str__(self) -> str:
        return "sum_t"


@value_type
class MinType(AggregationType):
    """Slot: value (i64/u64) then a u64 "set" flag, so an unset CPU slot is ignored."""

    @property
    def size(self) -> int:
        return 16

    def __str__(self) -> str:
        return "min_t"


@value_type
class MaxType(MinType):
    def __str__(self) -> str:
        return "max_t"


@value_type
class AvgType(AggregationType):
    """Slot: u64 count then 64-bit total."""

    @property
    def size(self) -> int:
        return 16

    def __str__(self) -> str:
        return "avg_t"


@value_type
class StatsType(AvgType):
    def __str__(self) -> str:
        return "stats_t"


@value_type
class HistType(AggregationType):
    """Log2 histogram; the bucket index is the map's last key field (u64)."""

    k: int = 0

    def __str__(self) -> str:
        return "hist_t"


@value_type
class LhistType(AggregationType):
    """Linear histogram; the bucket index is the map's last key field (u64)."""

    min: int = 0
    max: int = 0
    step: int = 1

    @property
    def buckets(self) -> int:
        """Number of buckets including underflow and overflow."""
        return (self.max - self.min) // self.step + 2

    def __str__(self) -> str:
        return f"lhist_t({self.min}, {self.max}, {self.step})"


UINT64 = IntType(64, False)
INT64 = IntType(64, True)
UINT32 = IntType(32, False)
INT32 = IntType(32, True)
UINT8 = IntType(8, False)
VOID = VoidType()


# ---- facts the checker, codegen and records share --------------------------------

@value_type
class UnknownType(Type):
    """A value whose type is not known yet (a map read before its first assignment)."""

    @property
    def size(self) -> int:
        return 8

    def __str__(self) -> str:
        return "unknown"


UNKNOWN = UnknownType()


def is_int(t: Type) -> bool:
    return isinstance(t, (IntType, BoolType, PointerType, SpecialType)) or (
        t is not None and t.is_integer and not isinstance(t, UnknownType))


def is_signed(t: Type) -> bool:
    return isinstance(t, IntType) and t.signed


def key_layout(info) -> TupleType:
    """A map's BPF key from what the passes agreed (`info.key_types`, `info.value_type`):
    the key fields, then the bucket index for hist/lhist; a keyless map has the u64 0."""
    keys = tuple(info.key_types or ())
    if isinstance(info.value_type, (HistType, LhistType)):
        return TupleType(keys + (UINT64,))
    return TupleType(keys or (UINT64,))
