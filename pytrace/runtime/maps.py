"""Reading, clearing and zeroing whole user maps through a Target.

`read_map` returns a map as the output sink wants it: a list of (key tuple,
value) with keys decoded field by field (WITHOUT the bucket index) and values
merged over CPUs; hist/lhist entries are grouped by user key into one
values.Histogram each. Every map is read with one BPF_MAP_LOOKUP_BATCH walk.
"""

from __future__ import annotations

from pytrace import types as T
from pytrace.output.values import Histogram
from pytrace.resources import MapSpec
from pytrace.runtime.decode import (Symbols, decoder, merge_percpu, percpu_merger,
                                    percpu_slot_size, split_percpu)

PERCPU_TYPES = ("percpu_hash", "percpu_array", "lru_percpu_hash")


def is_percpu(spec: MapSpec) -> bool:
    return spec.bpf_type in PERCPU_TYPES


def key_decoder(spec: MapSpec, symbols: Symbols):
    """raw BPF key -> user key tuple; a keyless map's u64 0 key is ()."""
    if not spec.key_types:
        return lambda raw: ()
    return decoder(spec.key_layout, symbols)


def value_decoder(spec: MapSpec, ncpus: int, symbols: Symbols):
    """raw value (all CPUs' slots for per-CPU maps) -> one value."""
    if is_percpu(spec):
        return percpu_merger(spec.value_type, spec.value_size, ncpus)
    if isinstance(spec.value_type, T.AggregationType):
        return lambda raw: merge_percpu(spec.value_type, [raw])
    return decoder(spec.value_type, symbols)


def read_raw(target, fd: int, spec: MapSpec, ncpus: int) -> list[tuple[bytes, bytes]]:
    # Targets take the element size and hand back one padded slot per CPU
    # for per-CPU maps.
    return target.map_lookup_batch(fd, spec.key_size, spec.value_size, spec.max_entries)


def read_map(target, fd: int, spec: MapSpec, ncpus: int,
             symbols: Symbols) -> list[tuple[tuple, object]]:
    """Every entry of a user map, decoded, in kernel iteration order."""
    return decode_map(spec, read_raw(target, fd, spec, ncpus), ncpus, symbols)


def decode_map(spec: MapSpec, raw: list[tuple[bytes, bytes]], ncpus: int,
               symbols: Symbols) -> list[tuple[tuple, object]]:
    """A map's raw (key, value) pairs, decoded as read_map returns them."""
    if spec.has_bucket_key:
        return _group_histograms(spec, raw, ncpus, symbols)
    key_of, value_of = key_decoder(spec, symbols), value_decoder(spec, ncpus, symbols)
    if not raw and is_keyless_count(spec):
        # bpftrace's keyless count lives in an array: never written, it reads 0.
        return [((), 0)]
    return [(key_of(k), value_of(v)) for k, v in raw]


def _group_histograms(spec, raw, ncpus, symbols) -> list[tuple[tuple, Histogram]]:
    by_key: dict[bytes, tuple[tuple, Histogram]] = {}
    bucket_at = T.align_up(spec.key_layout.size, 8) if spec.key_types else 0
    key_of, value_of = key_decoder(spec, symbols), value_decoder(spec, ncpus, symbols)
    for k, v in raw:
        user_raw = k[:bucket_at]
        if user_raw not in by_key:
            by_key[user_raw] = (key_of(k), Histogram())
        buckets = by_key[user_raw][1].buckets
        bucket = int.from_bytes(k[bucket_at:bucket_at + 8], "little")
        buckets[bucket] = buckets.get(bucket, 0) + value_of(v)
    return list(by_key.values())


def is_keyless_count(spec: MapSpec) -> bool:
    """`@c = count()`: bpftrace keeps it in an array, so clear() zeroes it and
    an unwritten one reads 0."""
    return not spec.key_types and isinstance(spec.value_type, T.CountType)


def clear_map(target, fd: int, spec: MapSpec, ncpus: int) -> None:
    """clear(@m): every key goes, except that a keyless count() reads 0
    afterwards, as bpftrace (whose keyless count lives in an array) prints it."""
    if is_keyless_count(spec):
        zero_map(target, fd, spec, ncpus)
        return
    keys = [k for k, _ in read_raw(target, fd, spec, ncpus)]
    if keys:
        target.map_delete_batch(fd, keys, spec.key_size)


def zero_map(target, fd: int, spec: MapSpec, ncpus: int) -> None:
    """zero(@m): keep every key, set every value (every CPU's slot) to zero."""
    zero = bytes(percpu_slot_size(spec.value_size) * ncpus if is_percpu(spec)
                 else spec.value_size)
    for k, _ in read_raw(target, fd, spec, ncpus):
        target.map_update(fd, k, zero)


class MapAccess:
    """The user maps of one loaded object, by name: what async actions and exit use."""

    def __init__(self, target, loaded, sink, symbols: Symbols):
        self.target = target
        self.loaded = loaded
        self.sink = sink
        self.symbols = symbols
        self.ncpus = target.num_possible_cpus()

    def _fd_spec(self, name: str):
        return self.loaded.map_fd(name), self.loaded.resources.map(name)

    def read(self, name: str) -> list[tuple[tuple, object]]:
        fd, spec = self._fd_spec(name)
        return read_map(self.target, fd, spec, self.ncpus, self.symbols)

    @property
    def _descending(self) -> bool:
        """pytrace's `print_order = descending` (pytrace.settings): largest first."""
        return self.loaded.resources.config.get("print_order") == "descending"

    def print(self, name: str, top: int = 0, div: int = 0) -> None:
        spec = self.loaded.resources.map(name)
        self.sink.map(spec, self.read(name), top=top, div=div, descending=self._descending)

    def print_and_clear(self, name: str, top: int = 0, div: int = 0) -> None:
        """print(@m); clear(@m) as one read that deletes what it reads: an
        update made between a read and a later delete would be lost unprinted
        (a round trip wide on a remote target). Hash maps only; keyless
        count() maps are zeroed by clear, arrays cannot delete."""
        fd, spec = self._fd_spec(name)
        if is_keyless_count(spec) or "hash" not in spec.bpf_type:
            self.print(name, top=top, div=div)
            self.clear(name)
            return
        raw = self.target.map_lookup_batch(fd, spec.key_size, spec.value_size,
                                           spec.max_entries, delete=True)
        self.sink.map(spec, decode_map(spec, raw, self.ncpus, self.symbols), top=top, div=div,
                      descending=self._descending)
        self._at_exit = None

    def _exit_specs(self) -> list[MapSpec]:
        return sorted(self.loaded.resources.user_maps,
                      key=lambda m: m.name.encode("utf-8", "surrogateescape"))

    def read_for_exit(self) -> None:
        """Read every user map and the lost-records count in one Target step (one
        round trip to a remote target); lost_count and print_all then use it."""
        from pytrace.resources import LOST_MAP
        specs = self._exit_specs()
        names = [s.name for s in specs]
        if LOST_MAP in {m.name for m in self.loaded.resources.maps}:
            specs.append(self.loaded.resources.map(LOST_MAP))
        requests = [(self.loaded.map_fd(s.name), s.key_size, s.value_size, s.max_entries)
                    for s in specs]
        batches = getattr(self.target, "map_lookup_batches", None)   # test doubles lack it
        raws = (batches(requests) if batches is not None
                else [self.target.map_lookup_batch(*r) for r in requests])
        self._at_exit = dict(zip(names + [LOST_MAP] * (len(specs) - len(names)), raws))

    _at_exit: dict | None = None

    def print_all(self) -> None:
        """Every user map in name byte order, as bpftrace prints them at exit."""
        if self._at_exit is None:
            self.read_for_exit()
        for spec in self._exit_specs():
            raw = self._at_exit[spec.name]
            self.sink.map(spec, decode_map(spec, raw, self.ncpus, self.symbols),
                          descending=self._descending)

    def clear(self, name: str) -> None:
        fd, spec = self._fd_spec(name)
        clear_map(self.target, fd, spec, self.ncpus)
        self._at_exit = None   # read at exit before this event was handled: read again

    def zero(self, name: str) -> None:
        fd, spec = self._fd_spec(name)
        zero_map(self.target, fd, spec, self.ncpus)
        self._at_exit = None

    def lost_count(self) -> int:
        """Records the BPF side could not put in the ring buffer, so far."""
        from pytrace.resources import LOST_MAP
        try:
            fd, spec = self._fd_spec(LOST_MAP)
        except KeyError:
            return 0
        if self._at_exit is not None and LOST_MAP in self._at_exit:
            rows = self._at_exit[LOST_MAP]
            value = rows[0][1] if rows else None
        else:
            value = self.target.map_lookup(fd, bytes(spec.key_size), spec.value_size)
        if value is None:
            return 0
        if is_percpu(spec):
            return sum(int.from_bytes(s[:8], "little")
                       for s in split_percpu(value, spec.value_size, self.ncpus))
        return int.from_bytes(value[:8], "little")
