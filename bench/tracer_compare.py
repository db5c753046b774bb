"""Side-by-side cost of pytrace and bpftrace on the classic one-liners.

Two measures, in one run, on the same machine state:
- instructions: the xlated size of every program each tracer loads
  (`bpftool prog show`, bytes / 8), for the same bpftrace program;
- per-event cost: ns added to a getppid() syscall by the attached program,
  measured by a C workload doing N getppid calls pinned to one CPU.

Run as root:  python3 bench/tracer_compare.py [--calls N] [--rounds R]
Needs gcc and bpftool; bpftrace is optional (its columns are skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.1f\n", ns / n);
    return 0;
}
"""

PROGRAMS = {
    "empty": "tracepoint:syscalls:sys_enter_getppid { }",
    "count_by_comm": "tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }",
    "hist": "tracepoint:syscalls:sys_enter_getppid { @ = hist(nsecs & 0xffff); }",
    "latency_pair": ("tracepoint:syscalls:sys_enter_getppid { @start[tid] = nsecs; } "
                     "tracepoint:syscalls:sys_exit_getppid /@start[tid]/ "
                     "{ @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }"),
}

TRACERS = {
    "pytrace": [sys.executable, "-m", "pytrace", "-e"],
    "bpftrace": ["bpftrace", "-e"],
}


def build_workload(tmp: str) -> str:
    src = os.path.join(tmp, "getppid_loop.c")
    exe = os.path.join(tmp, "getppid_loop")
    with open(src, "w") as f:
        f.write(WORKLOAD_C)
    subprocess.run(["gcc", "-O2", "-o", exe, src], check=True)
    return exe


def prog_ids() -> set[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    return {p["id"] for p in json.loads(out or "[]")}


def xlated_sizes(ids: set[int]) -> list[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    return sorted(p.get("bytes_xlated", 0) // 8 for p in json.loads(out or "[]")
                  if p["id"] in ids and p.get("type") in ("tracepoint", "raw_tracepoint"))


def run_workload(exe: str, calls: int, cpu: int) -> float:
    out = subprocess.run(["taskset", "-c", str(cpu), exe, str(calls)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def start_tracer(cmd: list[str], program: str, settle: float = 1.0) -> subprocess.Popen:
    proc = subprocess.Popen(cmd + [program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # The banner comes before attaching; give attachment a moment to finish.
    line = proc.stdout.readline()
    if "Attaching" not in line:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start: {line!r} {proc.stderr.read()[:300]!r}")
    time.sleep(settle)
    return proc


def stop_tracer(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cpu", type=int, default=1)
    args = ap.parse_args()
    tracers = {k: v for k, v in TRACERS.items() if shutil.which(v[0]) or k == "pytrace"}
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_workload(tmp)
        base = statistics.median(run_workload(exe, args.calls, args.cpu) for _ in range(args.rounds))
        print(f"getppid baseline: {base:.1f} ns/call (median of {args.rounds})")
        print(f"{'program':<15} {'tracer':<9} {'insns':>14} {'ns/call':>9} {'added ns':>9}")
        for name, program in PROGRAMS.items():
            for tracer, cmd in tracers.items():
                before = prog_ids()
                try:
                    proc = start_tracer(cmd, program)
                except RuntimeError as e:
                    print(f"{name:<15} {tracer:<9} failed: {e}")
                    continue
                try:
                    insns = xlated_sizes(prog_ids() - before)
                    ns = statistics.median(run_workload(exe, args.calls, args.cpu)
                                           for _ in range(args.rounds))
                finally:
                    stop_tracer(proc)
                print(f"{name:<15} {tracer:<9} {'+'.join(map(str, insns)):>14} "
                      f"{ns:>9.1f} {ns - base:>+9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
