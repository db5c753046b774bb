"""BPF ring buffer reader (BPF_MAP_TYPE_RINGBUF) over mmap.

Owns the user-space side of the ring buffer protocol: the consumer page is
mapped read-write (we publish how far we have read), the producer page and the
data area read-only. The kernel maps the data area twice back to back, so a
record that wraps past the end is still contiguous in our mapping and is read
with one slice. Each record has an 8-byte header: length with the BUSY bit
(still being written: stop there) and the DISCARD bit (skip it), then a page
offset we do not need. Records are padded to 8 bytes.
"""

from __future__ import annotations

import ctypes
import mmap
import select
import struct
import time

from pytrace.kernel import bpf
from pytrace.kernel.errors import MapError

BUSY_BIT = 1 << 31
DISCARD_BIT = 1 << 30
LENGTH_MASK = ~(BUSY_BIT | DISCARD_BIT) & 0xFFFFFFFF
HEADER_SIZE = 8
_HEADER = struct.Struct("<I").unpack_from


def split_records(blob: bytes) -> list[bytes]:
    """The records (without headers; discarded ones skipped) of a read_blob."""
    out, pos, end = [], 0, len(blob)
    while pos < end:
        (header,) = _HEADER(blob, pos)
        length = header & LENGTH_MASK
        if not header & DISCARD_BIT:
            out.append(blob[pos + HEADER_SIZE:pos + HEADER_SIZE + length])
        pos += (length + HEADER_SIZE + 7) & ~7
    return out


def join_records(records: list[bytes]) -> bytes:
    """Records laid out as read_blob gives them (for readers that give lists)."""
    return b"".join(struct.pack("<II", len(r), 0) + r + bytes(-len(r) % 8) for r in records)


class RingBufferReader:
    """Reads records of one ring buffer map in the order they were committed."""

    def __init__(self, map_fd: int, size: int | None = None):
        if size is None:
            info = bpf.map_info(map_fd)
            if info["type"] != bpf.MAP_RINGBUF:
                raise MapError(f"map {map_fd} is not a ring buffer")
            size = info["max_entries"]
        self.fd = map_fd
        self.size = size
        self.mask = size - 1
        page = mmap.PAGESIZE
        try:
            self._consumer_map = mmap.mmap(map_fd, page, mmap.MAP_SHARED,
                                           mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._producer_map = mmap.mmap(map_fd, page + 2 * size, mmap.MAP_SHARED,
                                           mmap.PROT_READ, offset=page)
        except OSError as e:
            raise MapError(f"cannot map ring buffer: {e.strerror}", e.errno) from None
        # Positions are 64-bit counters read and written with single aligned
        # accesses; x86 ordering makes the header load after the producer load safe.
        self._consumer = ctypes.c_uint64.from_buffer(self._consumer_map, 0)
        self._data = memoryview(self._producer_map)
        self._page = page
        self._epoll = select.epoll()
        self._epoll.register(map_fd, select.EPOLLIN)

    def _producer_pos(self) -> int:
        return int.from_bytes(self._data[0:8], "little")

    def read_blob(self) -> bytes:
        """The committed records now in the buffer, as one copy of the ring's
        bytes (each record with its header, padded: split_records reads it);
        b"" when there are none. Does not wait."""
        base, mask = self._page, self.mask
        cons = self._consumer.value
        prod = self._producer_pos()
        # Walk the headers in place (native u32 words: an index costs less
        # than an unpack) to the first record not yet committed, then copy
        # the stretch with one slice: all of it was final before the copy
        # began. One pass up to the producer position read once, so a producer
        # that never stops cannot keep us here; the caller comes back for more.
        pos = cons
        with self._data.cast("I") as words:
            while pos < prod:
                header = words[(base + (pos & mask)) >> 2]
                if header & BUSY_BIT:
                    break   # the producer reserved it but has not committed yet
                pos += ((header & LENGTH_MASK) + HEADER_SIZE + 7) & ~7
        if pos == cons:
            return b""
        start = base + (cons & mask)
        blob = self._data.obj[start:start + (pos - cons)]
        self._consumer.value = pos  # the producer may reuse the space now
        return blob

    def read_rest(self, settle_s: float = 0.25) -> bytes:
        """Everything left once the probes are detached: read_blob until the
        ring is empty, waiting up to settle_s for records still being written
        (a program that was running when its probe went away). read_blob alone
        stops at the first such record and leaves the rest unread."""
        blobs, deadline = [], None
        while True:
            blob = self.read_blob()
            if blob:
                blobs.append(blob)
                continue
            if self._consumer.value >= self._producer_pos():
                break
            now = time.monotonic()
            if deadline is None:
                deadline = now + settle_s
            elif now > deadline:
                break
            time.sleep(0.0005)
        return b"".join(blobs)

    def read_available(self) -> list[bytes]:
        """Every committed record now in the buffer, without waiting."""
        return split_records(self.read_blob())

    def poll(self, timeout_ms: int = -1) -> list[bytes]:
        """Records available now, or wait up to timeout_ms (-1: forever) for some."""
        records = self.read_available()
        if records:
            return records
        self._epoll.poll(timeout_ms / 1000 if timeout_ms >= 0 else -1)
        return self.read_available()

    @property
    def wakeup_fd(self) -> int:
        """The map fd, for a caller's own epoll: it reports the ring's wakeups
        when registered edge-triggered (records submitted without one leave it
        readable, so level-triggered it would report at once)."""
        return self.fd

    def fileno(self) -> int:
        """The epoll fd, so a caller can wait on several readers at once."""
        return self._epoll.fileno()

    def close(self) -> None:
        if self._epoll is None:
            return
        self._epoll.close()
        self._epoll = None
        del self._consumer
        self._data.release()
        self._consumer_map.close()
        self._producer_map.close()
