"""Start to exit of a wide tracepoint wildcard, pytrace against bpftrace.

    tracepoint:syscalls:sys_enter_* { @[probe] = count(); } interval:ms:300 { exit(); }

attaches ~360 tracepoints, counts for 300 ms and exits. Most of bpftrace's time
here is the kernel closing the tracepoint perf events one by one (an RCU grace
period each, under a kernel mutex). pytrace unlinks the programs in parallel,
prints, and leaves the bare events to a detached child, so the command returns
at once; the table also says when that child was done, i.e. when the kernel
had let go of every event.

Run as root:  python3 bench/wildcard_exit.py [--runs N]
bpftrace is optional (its row is skipped when it is not installed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid

# The marker comment finds the run's processes (pytrace's closing child too);
# bpftrace 0.17 needs a newline after a // comment.
PROGRAM = ("// {marker}\ntracepoint:syscalls:sys_enter_* {{ @[probe] = count(); }} "
           "interval:ms:300 {{ exit(); }}")


def _alive(marker: str) -> bool:
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        return True
            except OSError:
                pass
    return False


def one_run(argv: list[str]) -> tuple[float, float, int]:
    """(seconds to exit, seconds until nothing of the run is left, probes)."""
    marker = uuid.uuid4().hex
    start = time.monotonic()
    done = subprocess.run([*argv, "-e", PROGRAM.format(marker=marker)],
                          capture_output=True, text=True)
    exited = time.monotonic() - start
    while _alive(marker):
        time.sleep(0.05)
    released = time.monotonic() - start
    first = done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()
    probes = int(first.split()[1]) if first.startswith("Attaching") else -1
    return exited, released, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tracers = [("pytrace", [os.path.realpath(sys.executable), "-m", "pytrace"])]
    if shutil.which("bpftrace"):
        tracers.append(("bpftrace", ["bpftrace"]))
    print(f"{'tracer':10} {'probes':>6} {'exit s':>8} {'released s':>11}  (median of {args.runs})")
    for name, argv in tracers:
        runs = [one_run(argv) for _ in range(args.runs)]
        print(f"{name:10} {runs[0][2]:>6} {statistics.median(r[0] for r in runs):>8.2f} "
              f"{statistics.median(r[1] for r in runs):>11.2f}")


if __name__ == "__main__":
    main()
