"""printf throughput: lines delivered per second, loss, and how much the traced process slows.

Both tracers run the same program on the same workload, a C program doing N
getppid() calls pinned to one CPU (the tracer on the other):

    tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("%d %s %d\\n", pid, comm, nsecs); }

started with `-c` and writing to a file with `-o` (the file lives on tmpfs by
default). For each run we report:
- ns/call: the workload's own timing of its loop, wall clock and its thread's
  CPU time (steadier on a busy machine: time other tasks take the CPU is not
  in it, the BPF program and wakeup work done in the task's context is), and
  the slowdown of each against an untraced run;
- lines: printf lines in the output file, and `Lost N events` as reported;
- lines/s: lines / (tracer exit - workload loop start), both CLOCK_MONOTONIC, so
  it includes the tracer catching up after the workload is done and its exit;
- us CPU/line: the tracer's CPU time (user + system, its child's loop taken
  out) beyond that of the same run with one call, per line printed, and
  capacity = its inverse: the lines per second one CPU of the tracer can
  deliver. Wall-clock rates swing with whatever else runs on the machine;
  this does much less.

Run as root:  python3 bench/printf_throughput.py [--calls N] [--rounds R] [--tracer pytrace]
bpftrace is optional (its rows are skipped when it is not installed).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
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
    struct timespec a, b, ca, cb;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    double cpu = (cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec);
    fprintf(stderr, "WORKLOAD %d %.1f %lld %.1f\n", getpid(), ns / n,
            (long long)a.tv_sec * 1000000000LL + a.tv_nsec, cpu / n);
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


def parse_workload(text: str) -> tuple[int, float, int, float]:
    """pid, wall ns per call, loop start (CLOCK_MONOTONIC ns), CPU ns per call."""
    m = re.search(r"WORKLOAD (\d+) ([0-9.]+) (\d+) ([0-9.]+)", text)
    if m is None:
        raise RuntimeError(f"workload did not report: {text[-500:]!r}")
    return int(m.group(1)), float(m.group(2)), int(m.group(3)), float(m.group(4))


def untraced(exe: str, calls: int, cpu: int) -> tuple[float, float]:
    done = subprocess.run(["taskset", "-c", str(cpu), exe, str(calls)],
                          capture_output=True, text=True, check=True)
    _, wall, _, cpu_ns = parse_workload(done.stderr)
    return wall, cpu_ns


def traced(cmd: list[str], exe: str, calls: int, cpu: int, tracer_cpu: int,
           out_path: str, root: str | None = None) -> dict:
    full = (["taskset", "-c", str(tracer_cpu)] + cmd +
            ["-o", out_path, "-c", f"{TASKSET} -c {cpu} {exe} {calls}", "-e", PROGRAM])
    # `python3 -m` puts the working directory first on sys.path: run in root.
    env = dict(os.environ, PYTHONPATH=root) if root else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(full, capture_output=True, text=True, timeout=300, env=env, cwd=root)
    t_exit = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The tracer and its -c child; the child's loop time is taken out below.
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    pid, ns_call, t_start, cpu_ns = parse_workload(done.stdout + done.stderr)
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
    return {"ns_call": ns_call, "cpu_call": cpu_ns, "lines": lines, "lost": lost,
            "rate": lines / ((t_exit - t_start) / 1e9),
            "tracer_cpu": cpu_s - cpu_ns * calls / 1e9}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1, help="the workload's CPU")
    ap.add_argument("--tracer-cpu", type=int, default=0)
    ap.add_argument("--tracer", action="append", choices=sorted(TRACERS))
    ap.add_argument("--dir", default="/dev/shm", help="where the output file goes")
    ap.add_argument("--pytrace-root", help="run pytrace from this checkout (a git worktree "
                    "of an older commit, for before/after figures)")
    args = ap.parse_args()
    names = args.tracer or list(TRACERS)
    tracers = {k: TRACERS[k] for k in names if k == "pytrace" or shutil.which(TRACERS[k][0])}
    with tempfile.TemporaryDirectory() as tmp, \
            tempfile.TemporaryDirectory(dir=args.dir) as out_dir:
        exe = build_workload(tmp)
        bases = [untraced(exe, args.calls, args.cpu) for _ in range(args.rounds)]
        base = statistics.median(b[0] for b in bases)
        base_cpu = statistics.median(b[1] for b in bases)
        print(f"untraced getppid: {base:.1f} ns/call wall, {base_cpu:.1f} ns/call CPU; "
              f"{args.calls} calls, median of {args.rounds} rounds")
        print(f"{'tracer':<9} {'wall ns':>8} {'slowdown':>9} {'CPU ns':>8} {'slowdown':>9} "
              f"{'lines':>8} {'lost':>8} {'lines/s':>9} {'us CPU/line':>12} {'capacity':>9}")
        for name, cmd in tracers.items():
            root = None
            if name == "pytrace" and args.pytrace_root:
                root = os.path.abspath(args.pytrace_root)
            path = os.path.join(out_dir, f"{name}.out")
            # The same run with one call: start-up, compile, attach and exit.
            idle = statistics.median(traced(cmd, exe, 1, args.cpu, args.tracer_cpu, path,
                                            root)["tracer_cpu"] for _ in range(args.rounds))
            runs = [traced(cmd, exe, args.calls, args.cpu, args.tracer_cpu, path, root)
                    for _ in range(args.rounds)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            per_line = (med["tracer_cpu"] - idle) / max(med["lines"], 1)
            print(f"{name:<9} {med['ns_call']:>8.1f} {med['ns_call'] / base:>8.1f}x "
                  f"{med['cpu_call']:>8.1f} {med['cpu_call'] / base_cpu:>8.1f}x "
                  f"{med['lines']:>8.0f} {med['lost']:>8.0f} {med['rate'] / 1000:>8.0f}k "
                  f"{per_line * 1e6:>12.2f} {1 / per_line / 1000:>8.0f}k")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
