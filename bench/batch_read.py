"""Reading a 100k-key hash map: BPF_MAP_LOOKUP_BATCH vs key-by-key.

Run as root: `python3 bench/batch_read.py [keys]`. Prints the best of a few
runs for each path; bpftrace prints a 100k-key map in ~40 ms on the dev VM.
"""

from __future__ import annotations

import os
import struct
import sys
import time

from pytrace.kernel import bpf


def best_of(runs: int, fn) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        n = len(fn())
        best = min(best, time.perf_counter() - start)
    return best, n


def main() -> None:
    keys = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    # bpftrace's typical map: u64 key (e.g. a pid or stack id), u64 count.
    fd = bpf.map_create(bpf.MAP_HASH, 8, 8, keys, name="bench")
    try:
        start = time.perf_counter()
        for k in range(keys):
            bpf.map_update(fd, struct.pack("<Q", k * 2654435761), struct.pack("<Q", k))
        fill = time.perf_counter() - start
        batch, n1 = best_of(5, lambda: bpf.map_lookup_batch(fd, 8, 8, keys))
        single, n2 = best_of(2, lambda: bpf.map_lookup_batch(fd, 8, 8, keys,
                                                             force_fallback=True))
        assert n1 == n2 == keys
        print(f"{keys} keys: fill {fill * 1000:.0f} ms, batch read {batch * 1000:.1f} ms, "
              f"key-by-key read {single * 1000:.0f} ms ({single / batch:.0f}x slower)")
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
