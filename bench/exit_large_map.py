"""How long exit takes to read and print a 100k-key `@[key] = count()` map.

The map is made and filled directly through the Target (bpftrace's figure on
this machine: 465 ms from exit to the last line for the same map), then read
and printed exactly as exit does: one BPF_MAP_LOOKUP_BATCH walk, per-CPU
merge, sort, format, write. Run as root: python3 bench/exit_large_map.py
"""

from __future__ import annotations

import statistics
import struct
import time

from pytrace import types as T
from pytrace.output.sink import make_sink
from pytrace.resources import MapSpec, Resources
from pytrace.runtime.decode import NoSymbols
from pytrace.runtime.loader import LoadedObject, create_map
from pytrace.runtime.maps import MapAccess
from pytrace.target.local import LocalTarget

KEYS = 100_000


def main() -> None:
    target = LocalTarget()
    spec = MapSpec("@", "percpu_hash", (T.UINT64,), T.CountType(), 8, 8, KEYS)
    loaded = LoadedObject(Resources(maps=[spec]))
    loaded.map_fds.append(create_map(target, spec))
    ncpus = target.num_possible_cpus()
    for k in range(KEYS):
        target.map_update(loaded.map_fds[0], struct.pack("<Q", k * 7919),
                          struct.pack("<Q", k % 1000 + 1) * ncpus)
    with open("/dev/null", "w") as devnull:
        sink = make_sink("text", devnull)
        maps = MapAccess(target, loaded, sink, NoSymbols())
        times = []
        for _ in range(5):
            start = time.perf_counter()
            maps.print_all()
            sink.flush()
            times.append(time.perf_counter() - start)
        read = []
        for _ in range(5):
            start = time.perf_counter()
            maps.read("@")
            read.append(time.perf_counter() - start)
    print(f"{KEYS} keys: exit printing median {statistics.median(times) * 1000:.0f} ms "
          f"(of which reading+decoding {statistics.median(read) * 1000:.0f} ms)")
    target.close_all()


if __name__ == "__main__":
    main()
