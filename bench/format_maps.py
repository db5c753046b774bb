"""Time formatting big maps to text and JSON (the output layer's share of exit).

bpftrace 0.17 takes 465 ms for a whole exit with a 100k-key map here; the
formatter must leave the runtime most of that. Run: python3 bench/format_maps.py
"""

from __future__ import annotations

import random
import statistics
import time

from pytrace.output.json_format import map_json
from pytrace.output.text import map_text
from pytrace.output.values import Histogram
from pytrace.types import CountType, HistType, INT64, StringType


def best_of(fn, runs: int = 7) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3, statistics.median(times) * 1e3


def main() -> None:
    rng = random.Random(1)
    n = 100_000
    int_entries = [((rng.getrandbits(32),), rng.randrange(1, 10**6)) for _ in range(n)]
    str_entries = [((f"comm-{i}",), rng.randrange(1, 10**6)) for i in range(n)]
    two_keys = [((f"comm-{i % 500}", i), rng.randrange(1, 10**6)) for i in range(n)]
    hists = [((i,), Histogram({b: rng.randrange(1, 100) for b in range(3, 20)}))
             for i in range(1000)]
    cases = [
        ("text  @[u64] = count()   100k", lambda: map_text("@", (INT64,), CountType(), int_entries)),
        ("text  @[comm] = count()  100k", lambda: map_text("@", (StringType(16),), CountType(), str_entries)),
        ("text  @[str, u64] count  100k", lambda: map_text("@", (StringType(16), INT64), CountType(), two_keys)),
        ("json  @[u64] = count()   100k", lambda: map_json("@", (INT64,), CountType(), int_entries)),
        ("json  @[comm] = count()  100k", lambda: map_json("@", (StringType(16),), CountType(), str_entries)),
        ("text  1000 keys x hist(17 buckets)", lambda: map_text("@", (INT64,), HistType(), hists)),
    ]
    for name, fn in cases:
        best, median = best_of(fn)
        print(f"{name:36s} best {best:7.1f} ms   median {median:7.1f} ms")


if __name__ == "__main__":
    main()
