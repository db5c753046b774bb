"""Bytes from maps and ring buffer records -> Python values, per pytrace.types.

One function per job: `decode` turns the bytes of one value of a Type into the
plain value the formatters print (int, str, tuple, list, dict, or one of
pytrace.output.values); `merge_percpu` folds the per-CPU slots of an
aggregation map value into one value. Symbols (stacks, ksym/usym, probe names)
are resolved through a `Symbols` object so this module never touches a kernel.
"""

from __future__ import annotations

import functools
import struct
from typing import Callable, Protocol

from pytrace import types as T
from pytrace.output import values as V


class Symbols(Protocol):
    """What decoding asks of the world beyond the bytes themselves."""

    def stack(self, stype: T.StackType, stack_id: int, pid: int) -> V.Stack: ...

    def ksym(self, addr: int) -> V.Symbol: ...

    def usym(self, addr: int, pid: int) -> V.Symbol: ...

    def probe_name(self, index: int) -> str: ...

    def username(self, uid: int) -> str: ...


class NoSymbols:
    """Symbols that resolve nothing: addresses print as hex, probes by index."""

    def __init__(self, probe_names: list[str] | None = None):
        self.probe_names = probe_names or []

    def stack(self, stype: T.StackType, stack_id: int, pid: int) -> V.Stack:
        return V.Stack((), stype.mode, stype.kernel)

    def ksym(self, addr: int) -> V.Symbol:
        return V.Symbol(addr)

    def usym(self, addr: int, pid: int) -> V.Symbol:
        return V.Symbol(addr)

    def probe_name(self, index: int) -> str:
        if 0 <= index < len(self.probe_names):
            return self.probe_names[index]
        return str(index)

    def username(self, uid: int) -> str:
        return str(uid)


def decode_int(data: bytes, signed: bool) -> int:
    return int.from_bytes(data, "little", signed=signed)


def decode_str(data: bytes) -> str:
    # Strings are NUL-padded arrays; anything after the first NUL is stale.
    end = data.find(b"\0")
    if end >= 0:
        data = data[:end]
    return data.decode("utf-8", errors="surrogateescape")


_INT_FORMATS = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
                (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


def _int_format(ty: T.Type) -> str | None:
    """The struct code of a plain integer type, None for anything else."""
    if isinstance(ty, (T.IntType, T.PointerType)):
        signed = isinstance(ty, T.IntType) and ty.signed
        return _INT_FORMATS.get((ty.size, signed))
    return None


@functools.lru_cache(maxsize=256)
def decoder(ty: T.Type, symbols: Symbols | None = None) -> Callable[[bytes], object]:
    """A function bytes -> value for `ty`, built once per type.

    Exit decodes every key and value of maps with up to millions of entries,
    so integers and all-integer tuples go through one precompiled struct
    unpack instead of a walk over the type per value.
    """
    code = _int_format(ty)
    if code is not None:
        unpack = struct.Struct("<" + code).unpack_from
        return lambda data: unpack(data)[0]
    if isinstance(ty, T.StringType):
        n = ty.size
        return lambda data: decode_str(data[:n])
    if isinstance(ty, T.TupleType):
        fast = _flat_tuple_decoder(ty)
        if fast is not None:
            return fast
        parts = [(off, off + t.size, decoder(t, symbols))
                 for t, off in zip(ty.elems, ty.offsets)]
        return lambda data: tuple(dec(data[a:b]) for a, b, dec in parts)
    return lambda data: _decode_slow(ty, data, symbols or NoSymbols())


def _flat_tuple_decoder(ty: T.TupleType):
    """One struct unpack for tuples of integers and strings (printf arguments,
    map keys): strings come out as bytes and are trimmed afterwards."""
    if not ty.elems:
        return None
    fmt, pos, string_at = "<", 0, []
    for i, (t, off) in enumerate(zip(ty.elems, ty.offsets)):
        code = _int_format(t)
        if code is None and isinstance(t, T.StringType):
            code = f"{t.size}s"
            string_at.append(i)
        if code is None:
            return None
        fmt += "x" * (off - pos) + code
        pos = off + t.size
    unpack = struct.Struct(fmt).unpack_from
    if not string_at:
        return unpack

    def unpack_with_strings(data):
        values = list(unpack(data))
        for i in string_at:
            values[i] = decode_str(values[i])
        return tuple(values)
    return unpack_with_strings


def decode(ty: T.Type, data: bytes, symbols: Symbols | None = None):
    """The value of type `ty` held in `data` (at least ty.size bytes)."""
    return decoder(ty, symbols)(data)


def _decode_slow(ty: T.Type, data: bytes, symbols: Symbols):
    if isinstance(ty, (T.IntType, T.PointerType)):
        signed = isinstance(ty, T.IntType) and ty.signed
        return decode_int(data[:ty.size], signed)
    if isinstance(ty, T.BoolType):
        return int(data[0] != 0)
    if isinstance(ty, T.StringType):
        return decode_str(data[:ty.size])
    if isinstance(ty, T.BufferType):
        length = min(data[0], ty.length)
        return V.Buffer(bytes(data[1:1 + length]))
    if isinstance(ty, T.ArrayType):
        size = ty.elem.size
        return [decode(ty.elem, data[i * size:(i + 1) * size], symbols)
                for i in range(ty.count)]
    if isinstance(ty, T.RecordType):
        return {f.name: _record_field(f, data, symbols) for f in ty.fields}
    if isinstance(ty, T.StackType):
        stack_id = decode_int(data[0:8], True)
        pid = 0 if ty.kernel else decode_int(data[8:16], False)
        return symbols.stack(ty, stack_id, pid)
    if isinstance(ty, T.SymbolType):
        addr = decode_int(data[0:8], False)
        if ty.kernel:
            return symbols.ksym(addr)
        return symbols.usym(addr, decode_int(data[8:16], False))
    if isinstance(ty, T.SpecialType):
        return _decode_special(ty, data, symbols)
    if isinstance(ty, T.InetType):
        return _inet_text(data[:ty.size])
    if isinstance(ty, T.MacAddressType):
        return mac_text(data[:ty.size])
    if isinstance(ty, T.TimestampType):
        return strftime_text(ty.fmt, decode_int(data[:8], False), _boot_wall_ns(symbols))
    if isinstance(ty, T.AggregationType):
        # One CPU's slot read from a non-per-CPU place (e.g. print of a value).
        return merge_percpu(ty, [data[:ty.size]])
    if isinstance(ty, T.VoidType):
        return None
    raise TypeError(f"cannot decode values of type {ty}")


def _record_field(f: T.RecordField, data: bytes, symbols: Symbols):
    raw = data[f.offset:f.offset + f.type.size]
    if not f.bit_size:
        return decode(f.type, raw, symbols)
    value = decode_int(raw, False) >> f.bit_offset
    return value & ((1 << f.bit_size) - 1)


def _decode_special(ty: T.SpecialType, data: bytes, symbols: Symbols):
    raw = data[:ty.size]
    if ty.kind == "probe":
        return V.Named(symbols.probe_name(decode_int(raw, False)))
    if ty.kind == "username":
        return V.Named(symbols.username(decode_int(raw, False)))
    if ty.kind == "inet":
        return V.Named(_inet_text(raw))
    if ty.kind == "mac_address":
        return V.Named(mac_text(raw))
    if isinstance(ty, T.CgroupPathType):
        return V.Named(symbols.cgroup_path(decode_int(raw, False), ty.filter))
    if ty.kind in ("cgroup_path", "strerror"):
        return V.Named(decode_str(raw) if ty.kind == "cgroup_path"
                       else _strerror(decode_int(raw, True), symbols))
    return decode_int(raw, False)


def _inet_text(raw: bytes) -> str:
    import socket

    # The family numbers are Linux's (the traced kernel's), whatever this host is.
    family = decode_int(raw[0:8], False)
    addr = raw[8:24]
    if family == LINUX_AF_INET:
        return socket.inet_ntop(socket.AF_INET, addr[:4])
    if family == LINUX_AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, addr[:16])
    return ""


LINUX_AF_INET, LINUX_AF_INET6 = 2, 10


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02X}" for b in raw[:6])


def _boot_wall_ns(symbols) -> int:
    """Wall-clock time of the monotonic clock's zero: what strftime() adds to a
    nsecs value. A Symbols object for a remote machine answers for that machine."""
    ask = getattr(symbols, "boot_wall_ns", None)
    return ask() if ask is not None else local_boot_wall_ns()


@functools.lru_cache(maxsize=1)
def local_boot_wall_ns() -> int:
    import time

    # nsecs is bpf_ktime_get_ns: CLOCK_MONOTONIC. Read once, as bpftrace does at start.
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(
        time.CLOCK_MONOTONIC)


def strftime_text(fmt: str, nsecs: int, boot_wall_ns: int) -> str:
    """strftime(fmt, nsecs) as bpftrace prints it: local time, `%f` = microseconds."""
    import time

    wall = boot_wall_ns + nsecs
    secs, rest = divmod(wall, 1_000_000_000)
    out, i = [], 0
    while i < len(fmt):
        # %f is bpftrace's own conversion; the C library never sees it.
        if fmt.startswith("%%", i):
            out.append("%%")
            i += 2
        elif fmt.startswith("%f", i):
            out.append(f"{rest // 1000:06d}")
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return time.strftime("".join(out), time.localtime(secs))


def _strerror(errno: int, symbols=None) -> str:
    """The target's C library's text for errno (a remote target's, not ours)."""
    ask = getattr(symbols, "errno_text", None)
    if ask is not None:
        return ask(errno)
    import os

    return os.strerror(errno)


# ---- per-CPU aggregation slots ------------------------------------------------

def percpu_slot_size(value_size: int) -> int:
    # The kernel pads each CPU's copy of a per-CPU value to 8 bytes.
    return (value_size + 7) // 8 * 8


def split_percpu(data: bytes, value_size: int, ncpus: int) -> list[bytes]:
    step = percpu_slot_size(value_size)
    return [data[i * step:i * step + value_size] for i in range(ncpus)]


def merge_percpu(ty: T.Type, slots: list[bytes]):
    """One value from the per-CPU slots of an aggregation (or plain) value."""
    if isinstance(ty, (T.CountType, T.SumType, T.HistType, T.LhistType)):
        total = sum(decode_int(s[0:8], ty.signed) for s in slots)
        return _wrap64(total, ty.signed)
    if isinstance(ty, T.MinType):  # MaxType too: (value, set flag)
        seen = [decode_int(s[0:8], ty.signed) for s in slots
                if decode_int(s[8:16], False)]
        if not seen:
            return 0
        return max(seen) if isinstance(ty, T.MaxType) else min(seen)
    if isinstance(ty, T.AvgType):  # StatsType too: (count, total)
        count = sum(decode_int(s[0:8], False) for s in slots)
        total = _wrap64(sum(decode_int(s[8:16], ty.signed) for s in slots), ty.signed)
        cls = V.StatsValue if isinstance(ty, T.StatsType) else V.AvgValue
        return cls(count, total)
    # A plain value in a per-CPU map: bpftrace shows the sum for integers.
    if ty.is_integer:
        signed = isinstance(ty, T.IntType) and ty.signed
        return _wrap(sum(decode_int(s[:ty.size], signed) for s in slots), ty.size * 8, signed)
    return decode(ty, slots[0])


def _wrap64(value: int, signed: bool) -> int:
    return _wrap(value, 64, signed)


def _wrap(value: int, bits: int, signed: bool) -> int:
    # Per-CPU sums wrap like the kernel's u64 counters would.
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


_M64 = (1 << 64) - 1


@functools.lru_cache(maxsize=256)
def percpu_merger(ty: T.Type, value_size: int, ncpus: int) -> Callable[[bytes], object]:
    """bytes of all CPUs' slots -> one merged value, precompiled per type like decoder()."""
    step = percpu_slot_size(value_size)
    pad = "x" * (step - value_size)
    signed = getattr(ty, "signed", False)
    if isinstance(ty, (T.CountType, T.SumType, T.HistType, T.LhistType)):
        unpack = struct.Struct("<" + (("q" if signed else "Q") + pad) * ncpus).unpack_from
        if signed:
            return lambda data: _wrap64(sum(unpack(data)), True)
        return lambda data: sum(unpack(data)) & _M64
    if isinstance(ty, T.MinType):
        unpack = struct.Struct("<" + ("qQ" if signed else "QQ") * ncpus).unpack_from
        pick = max if isinstance(ty, T.MaxType) else min

        def merge_minmax(data):
            flat = unpack(data)
            seen = [flat[i] for i in range(0, len(flat), 2) if flat[i + 1]]
            return pick(seen) if seen else 0
        return merge_minmax
    if isinstance(ty, T.AvgType):
        unpack = struct.Struct("<" + ("Qq" if signed else "QQ") * ncpus).unpack_from
        cls = V.StatsValue if isinstance(ty, T.StatsType) else V.AvgValue

        def merge_avg(data):
            flat = unpack(data)
            return cls(sum(flat[0::2]), _wrap64(sum(flat[1::2]), signed))
        return merge_avg
    return lambda data: merge_percpu(ty, split_percpu(data, value_size, ncpus))
