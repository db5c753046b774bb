"""Maps through LocalTarget on the real kernel: every map type pytrace uses
round-trips values, iteration and batch reads see every key, errors are plain."""

from __future__ import annotations

import os
import struct

import pytest

from pytrace.kernel import bpf, perf
from pytrace.kernel.errors import MapError
from tests.helpers import bpfprogs

pytestmark = pytest.mark.kernel


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


HASHES = [bpf.MAP_HASH, bpf.MAP_LRU_HASH]
PERCPU_HASHES = [bpf.MAP_PERCPU_HASH, bpf.MAP_LRU_PERCPU_HASH]


@pytest.mark.parametrize("map_type", HASHES)
def test_hash_maps_round_trip_update_lookup_delete(target, map_type):
    fd = target.map_create(map_type, 4, 8, 64, name="h")
    for k in range(10):
        target.map_update(fd, u32(k), u64(k * 1000 + 7))
    assert [target.map_lookup(fd, u32(k), 8) for k in range(10)] == \
        [u64(k * 1000 + 7) for k in range(10)]
    assert target.map_lookup(fd, u32(99), 8) is None
    assert target.map_delete(fd, u32(3)) is True
    assert target.map_delete(fd, u32(3)) is False
    assert target.map_lookup(fd, u32(3), 8) is None


def test_update_flags_are_honoured(target):
    fd = target.map_create(bpf.MAP_HASH, 4, 8, 8)
    target.map_update(fd, u32(1), u64(1), bpf.BPF_NOEXIST)
    with pytest.raises(MapError, match="file exists"):
        target.map_update(fd, u32(1), u64(2), bpf.BPF_NOEXIST)
    with pytest.raises(MapError, match="no such file"):
        target.map_update(fd, u32(2), u64(2), bpf.BPF_EXIST)
    target.map_update(fd, u32(1), u64(3), bpf.BPF_EXIST)
    assert target.map_lookup(fd, u32(1), 8) == u64(3)


def test_full_hash_map_says_so(target):
    fd = target.map_create(bpf.MAP_HASH, 4, 8, 2)
    target.map_update(fd, u32(1), u64(1))
    target.map_update(fd, u32(2), u64(1))
    with pytest.raises(MapError, match="cannot update map element: argument list too long"):
        target.map_update(fd, u32(3), u64(1))


def test_get_next_key_walks_every_key_once(target):
    fd = target.map_create(bpf.MAP_HASH, 4, 8, 256)
    keys = {u32(k * 7) for k in range(200)}
    for k in keys:
        target.map_update(fd, k, u64(1))
    seen = []
    key = target.map_get_next_key(fd, None, 4)
    while key is not None:
        seen.append(key)
        key = target.map_get_next_key(fd, key, 4)
    assert sorted(seen) == sorted(keys)


@pytest.mark.parametrize("map_type", PERCPU_HASHES + [bpf.MAP_PERCPU_ARRAY])
def test_percpu_maps_give_one_8_byte_slot_per_possible_cpu(target, map_type):
    ncpus = target.num_possible_cpus()
    # A 4-byte value still takes an 8-byte slot per CPU in user space.
    fd = target.map_create(map_type, 4, 4, 8, name="pc")
    per_cpu = b"".join(struct.pack("<II", 100 + c, 0) for c in range(ncpus))
    target.map_update(fd, u32(1), per_cpu)
    got = target.map_lookup(fd, u32(1), 4)
    assert len(got) == 8 * ncpus
    assert [struct.unpack_from("<I", got, 8 * c)[0] for c in range(ncpus)] == \
        [100 + c for c in range(ncpus)]


@pytest.mark.parametrize("map_type", [bpf.MAP_ARRAY, bpf.MAP_PERCPU_ARRAY])
def test_arrays_hold_every_index_and_refuse_deletes(target, map_type):
    fd = target.map_create(map_type, 4, 8, 4)
    size = 8 * target.num_possible_cpus() if map_type == bpf.MAP_PERCPU_ARRAY else 8
    assert target.map_lookup(fd, u32(2), 8) == bytes(size)   # arrays start zeroed
    target.map_update(fd, u32(2), u64(42))
    assert target.map_lookup(fd, u32(2), 8)[:8] == u64(42)
    assert target.map_lookup(fd, u32(4), 8) is None          # past the end
    with pytest.raises(MapError, match="invalid argument"):
        target.map_delete(fd, u32(2))


def test_stack_trace_map_holds_kernel_stacks_written_by_a_program(target):
    stacks = target.map_create(bpf.MAP_STACK_TRACE, 4, 8 * 32, 16, name="stacks")
    out = target.map_create(bpf.MAP_ARRAY, 4, 8, 1, name="out")
    prog, _ = target.prog_load(bpf.PROG_TRACEPOINT,
                               bpfprogs.stackid_of_pid(stacks, out, os.getpid()), name="stk")
    handle = target.attach_tracepoint(prog, "syscalls", "sys_enter_getppid")
    os.getppid()
    target.detach(handle)
    stack_id = struct.unpack("<q", target.map_lookup(out, u32(0), 8))[0] - 1
    assert stack_id >= 0, "bpf_get_stackid failed"
    frames = struct.unpack("<32Q", target.map_lookup(stacks, u32(stack_id), 8 * 32))
    # Kernel addresses sit in the top half of the address space.
    assert frames[0] >= 1 << 63


def test_perf_event_array_takes_perf_event_fds(target):
    fd = target.map_create(bpf.MAP_PERF_EVENT_ARRAY, 4, 4, target.num_possible_cpus())
    ev = perf.open_event(perf.TYPE_SOFTWARE, perf.SW_CPU_CLOCK, sample_period=1000000)
    try:
        target.map_update(fd, u32(0), u32(ev))
        assert target.map_delete(fd, u32(0)) is True
        with pytest.raises(MapError, match="cannot update map element"):
            target.map_update(fd, u32(0), u32(fd))   # a map fd is not a perf event
    finally:
        os.close(ev)


def test_ringbuf_map_is_created_and_mapped(target):
    fd = target.map_create(bpf.MAP_RINGBUF, 0, 0, 4096, name="rb")
    reader = target.ring_buffer(fd)
    assert reader.poll(0) == []


def test_ringbuf_size_must_be_a_power_of_two_pages(target):
    with pytest.raises(MapError, match="cannot create map rb: invalid argument"):
        target.map_create(bpf.MAP_RINGBUF, 0, 0, 5000, name="rb")


# ---- batch operations --------------------------------------------------------------------

@pytest.fixture
def no_silent_fallback(monkeypatch):
    """Make the key-by-key path fail unless a test forces it, so 'batch' tests
    prove the kernel's batch command did the work."""
    real = bpf._lookup_key_by_key

    def guarded(*args, **kwargs):
        if not guarded.allowed:
            raise AssertionError("fell back to key-by-key reads")
        return real(*args, **kwargs)
    guarded.allowed = False
    monkeypatch.setattr(bpf, "_lookup_key_by_key", guarded)
    return guarded


@pytest.mark.parametrize("fallback", [False, True], ids=["batch", "key-by-key"])
def test_lookup_batch_returns_every_key(fallback, no_silent_fallback):
    no_silent_fallback.allowed = fallback
    fd = bpf.map_create(bpf.MAP_HASH, 8, 8, 6000)
    try:
        want = {u64(k * 31 + 1): u64(k) for k in range(5000)}
        for k, v in want.items():
            bpf.map_update(fd, k, v)
        got = bpf.map_lookup_batch(fd, 8, 8, 6000, force_fallback=fallback)
        assert len(got) == 5000
        assert dict(got) == want
    finally:
        os.close(fd)


@pytest.mark.parametrize("fallback", [False, True], ids=["batch", "key-by-key"])
def test_lookup_and_delete_batch_empties_the_map(fallback, no_silent_fallback):
    no_silent_fallback.allowed = fallback
    fd = bpf.map_create(bpf.MAP_HASH, 4, 8, 1000)
    try:
        for k in range(700):
            bpf.map_update(fd, u32(k), u64(k))
        got = bpf.map_lookup_batch(fd, 4, 8, 1000, delete=True, force_fallback=fallback)
        assert sorted(got) == sorted((u32(k), u64(k)) for k in range(700))
        assert bpf.map_get_next_key(fd, None, 4) is None
    finally:
        os.close(fd)


def test_batch_grows_its_buffers_when_a_bucket_is_bigger_than_a_chunk(target):
    # max_entries 1 makes the first chunk one entry: any bucket of two needs ENOSPC growth.
    fd = target.map_create(bpf.MAP_HASH, 4, 4, 1, flags=1)   # BPF_F_NO_PREALLOC
    target.map_update(fd, u32(5), u32(6))
    assert bpf.map_lookup_batch(fd, 4, 4, 1) == [(u32(5), u32(6))]


def test_percpu_batch_values_have_a_slot_per_cpu(target):
    ncpus = target.num_possible_cpus()
    fd = target.map_create(bpf.MAP_PERCPU_HASH, 4, 8, 100)
    for k in range(50):
        target.map_update(fd, u32(k), b"".join(u64(k * 10 + c) for c in range(ncpus)))
    got = dict(target.map_lookup_batch(fd, 4, 8, 100))
    assert len(got) == 50
    assert got[u32(7)] == b"".join(u64(70 + c) for c in range(ncpus))


def test_array_batch_reads_every_slot_and_clearing_zeroes_them(target):
    fd = target.map_create(bpf.MAP_ARRAY, 4, 8, 16)
    for k in range(16):
        target.map_update(fd, u32(k), u64(k + 1))
    assert dict(target.map_lookup_batch(fd, 4, 8, 16)) == {u32(k): u64(k + 1) for k in range(16)}
    # Arrays have no lookup-and-delete batch: the fallback zeroes instead.
    got = target.map_lookup_batch(fd, 4, 8, 16, delete=True)
    assert len(got) == 16
    assert {v for _, v in target.map_lookup_batch(fd, 4, 8, 16)} == {u64(0)}


@pytest.mark.parametrize("fallback", [False, True], ids=["batch", "key-by-key"])
def test_delete_batch_counts_existing_keys_and_skips_missing(fallback):
    fd = bpf.map_create(bpf.MAP_HASH, 4, 8, 100)
    try:
        for k in range(10):
            bpf.map_update(fd, u32(k), u64(k))
        keys = [u32(0), u32(50), u32(1), u32(2), u32(60), u32(9)]
        assert bpf.map_delete_batch(fd, keys, 4, force_fallback=fallback) == 4
        left = sorted(struct.unpack("<I", k)[0] for k in bpf.map_keys(fd, 4))
        assert left == [3, 4, 5, 6, 7, 8]
    finally:
        os.close(fd)
