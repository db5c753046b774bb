"""Wall time of listing every probe of this machine, pytrace against bpftrace.

Each run is a fresh process writing to /dev/null: `python3 -m pytrace -l`
and `bpftrace -l`. pytrace is timed twice: with a byte-code cache (what an
installed package has; the cache goes to a temporary PYTHONPYCACHEPREFIX so
the tree stays clean) and without one (PYTHONDONTWRITEBYTECODE=1, every
module compiled at start-up). The line counts are printed too: the two
tools do not list the same set on every kernel (bpftrace 0.17 needs
available_filter_functions for kprobes and fentry support for kfuncs).

Run: python3 bench/list_all.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU = user + system) seconds of one run. CPU time is the steadier
    figure on a busy machine; wall time is what a user waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def line_count(argv: list[str], env: dict) -> int:
    out = subprocess.run(argv, capture_output=True, env=env, check=False).stdout
    return out.count(b"\n")


def measure(label: str, argv: list[str], env: dict, runs: int) -> None:
    timed(argv, env)  # warm the page cache (and the byte-code cache)
    runs_ = [timed(argv, env) for _ in range(runs)]
    wall = [w for w, _ in runs_]
    cpu = [c for _, c in runs_]
    print(f"{label:<34} wall median {statistics.median(wall) * 1000:6.0f} ms "
          f"(min {min(wall) * 1000:4.0f}, max {max(wall) * 1000:4.0f})  "
          f"CPU median {statistics.median(cpu) * 1000:6.0f} ms  "
          f"lines {line_count(argv, env)}")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    pytrace = [sys.executable, "-m", "pytrace", "-l"]
    with tempfile.TemporaryDirectory() as pycache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = pycache
        measure("pytrace -l (byte-code cached)", pytrace, cached, runs)
    uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    uncached.pop("PYTHONPYCACHEPREFIX", None)
    measure("pytrace -l (no byte-code cache)", pytrace, uncached, runs)
    if shutil.which("bpftrace"):
        measure("bpftrace -l", ["bpftrace", "-l"], dict(os.environ), runs)
    else:
        print("bpftrace not installed: no comparison")


if __name__ == "__main__":
    main()
