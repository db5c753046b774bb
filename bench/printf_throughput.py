"""printf throughput: lines delivered per second, loss, and how much the traced process slows.

Both tracers run the same program on the same workload, a C program doing N
getppid() calls pinned to one CPU (the tracer on the other):

    tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d %s %d\\n", pid, comm, nsecs); }

started with `-c` and writing to a file with `-o` (the file lives on tmpfs by
default). For each run we report:
- ns/call: the workload's own timing of its loop, and the slowdown against an
  untraced run (the cost the tracer puts on the traced process);
- lines: printf lines in the output file, and `Lost N events` as reported;
- lines/s: lines / (tracer exit - workload loop start), both CLOCK_MONOTONIC, so
  it includes the tracer catching up after the workload is done and its exit.

Run as root:  python3 bench/printf_throughput.py [--calls N] [--rounds R] [--tracer pytrace]
bpftrace is optional (its rows are skipped when it is not installed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOAD_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    fprintf(stderr, "WORKLOAD %d %.1f %lld\n", getpid(), ns / n,
            (long long)a.tv_sec * 1000000000LL + a.tv_nsec);
    return 0;
}
"""

PROGRAM = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
           '{ printf("%d %s %d\\n", pid, comm, nsecs); }')

TRACERS = {
    "pytrace": [sys.executable, "-m", "pytrace"],
    "bpftrace": ["bpftrace"],
}

# bpftrace refuses a -c command name found twice in PATH (/bin and /usr/bin).
TASKSET = os.path.realpath(shutil.which("taskset") or "/usr/bin/taskset")
LOST = re.compile(r"Lost (\d+) events")


def build_workload(tmp: str) -> str:
    src, exe = os.path.join(tmp, "getppid_n.c"), os.path.join(tmp, "getppid_n")
    with open(src, "w") as f:
        f.write(WORKLOAD_C)
    subprocess.run(["gcc", "-O2", "-o", exe, src], check=True)
    return exe


def parse_workload(text: str) -> tuple[int, float, int]:
    m = re.search(r"WORKLOAD (\d+) ([0-9.]+) (\d+)", text)
    if m is None:
        raise RuntimeError(f"workload did not report: {text[-500:]!r}")
    return int(m.group(1)), float(m.group(2)), int(m.group(3))


def untraced(exe: str, calls: int, cpu: int) -> float:
    done = subprocess.run(["taskset", "-c", str(cpu), exe, str(calls)],
                          capture_output=True, text=True, check=True)
    return parse_workload(done.stderr)[1]


def traced(cmd: list[str], exe: str, calls: int, cpu: int, tracer_cpu: int,
           out_path: str) -> dict:
    full = (["taskset", "-c", str(tracer_cpu)] + cmd +
            ["-o", out_path, "-c", f"{TASKSET} -c {cpu} {exe} {calls}", "-e", PROGRAM])
    done = subprocess.run(full, capture_output=True, text=True, timeout=300)
    t_exit = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    pid, ns_call, t_start = parse_workload(done.stdout + done.stderr)
    prefix = f"{pid} "
    lines = lost = 0
    with open(out_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(prefix):
                lines += 1
            else:
                m = LOST.search(line)
                if m:
                    lost += int(m.group(1))
    for m in LOST.finditer(done.stdout + done.stderr):
        lost += int(m.group(1))
    return {"ns_call": ns_call, "lines": lines, "lost": lost,
            "rate": lines / ((t_exit - t_start) / 1e9)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1, help="the workload's CPU")
    ap.add_argument("--tracer-cpu", type=int, default=0)
    ap.add_argument("--tracer", action="append", choices=sorted(TRACERS))
    ap.add_argument("--dir", default="/dev/shm", help="where the output file goes")
    args = ap.parse_args()
    names = args.tracer or list(TRACERS)
    tracers = {k: TRACERS[k] for k in names if k == "pytrace" or shutil.which(TRACERS[k][0])}
    with tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory(dir=args.dir) as out_dir:
        exe = build_workload(tmp)
        base = statistics.median(untraced(exe, args.calls, args.cpu) for _ in range(args.rounds))
        print(f"untraced getppid: {base:.1f} ns/call; {args.calls} calls, "
              f"median of {args.rounds} rounds")
        print(f"{'tracer':<9} {'ns/call':>9} {'slowdown':>9} {'lines':>8} {'lost':>8} "
              f"{'lines/s':>9}")
        for name, cmd in tracers.items():
            runs = [traced(cmd, exe, args.calls, args.cpu, args.tracer_cpu,
                           os.path.join(out_dir, f"{name}.out")) for _ in range(args.rounds)]
            ns = statistics.median(r["ns_call"] for r in runs)
            lines = statistics.median(r["lines"] for r in runs)
            lost = statistics.median(r["lost"] for r in runs)
            rate = statistics.median(r["rate"] for r in runs)
            print(f"{name:<9} {ns:>9.1f} {ns / base:>8.1f}x {lines:>8.0f} {lost:>8.0f} "
                  f"{rate / 1000:>8.0f}k")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
