"""Side-by-side cost of pytrace and bpftrace on the classic one-liners.

Two measures, in one run, on the same machine state:
- instructions: the xlated size of every program each tracer loads
  (`bpftool prog show`, bytes / 8), for the same bpftrace program;
- per-event cost: ns added to a getppid() syscall by the attached program,
  measured by a C workload doing N getppid calls pinned to one CPU. It times
  itself in thread CPU time (the program runs inside the syscall, so it is
  counted; time other processes take on that CPU is not), and every sweep
  re-measures the untraced baseline and runs each tracer in turn, so drift on a
  shared machine lands on both tracers alike. Figures are medians over sweeps;
- program time: ns per run of the tracer's programs themselves, from the
  kernel's own accounting (kernel.bpf_stats_enabled, switched on for the run
  and restored after): run_time_ns / run_cnt over the traced workload. It
  excludes the tracepoint and syscall around the program, and is the steadiest
  figure on a busy machine (it still includes the accounting's two clock reads).

Run as root:  python3 bench/tracer_compare.py [--calls N] [--sweeps S] [--wall]
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
    clockid_t clock = argc > 2 && argv[2][0] == 'w' ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
    struct timespec a, b;
    clock_gettime(clock, &a);
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    clock_gettime(clock, &b);
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


def held_prog_ids(pid: int) -> set[int]:
    """Ids of the BPF programs whose fds process `pid` holds: its own programs, not
    its feature probes nor what other processes load meanwhile."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue  # closed meanwhile
    return ids


def xlated_sizes(ids: set[int]) -> list[int]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    progs = sorted((p["id"], p.get("bytes_xlated", 0) // 8) for p in json.loads(out or "[]")
                   if p["id"] in ids and p.get("type") in ("tracepoint", "raw_tracepoint"))
    return [n for _, n in progs]


def prog_stats(ids: set[int]) -> tuple[int, int]:
    """(run_time_ns, run_cnt) summed over these programs."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True).stdout
    progs = [p for p in json.loads(out or "[]") if p["id"] in ids]
    return (sum(p.get("run_time_ns", 0) for p in progs), sum(p.get("run_cnt", 0) for p in progs))


STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def set_bpf_stats(value: str) -> str:
    with open(STATS_SYSCTL) as f:
        old = f.read().strip()
    with open(STATS_SYSCTL, "w") as f:
        f.write(value)
    return old


def run_workload(exe: str, calls: int, cpu: int, wall: bool = False) -> float:
    out = subprocess.run(["taskset", "-c", str(cpu), exe, str(calls), "w" if wall else "t"],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


RUNS = 3  # workload runs per measurement (median)


def median_run(exe: str, args, n: int = RUNS) -> float:
    return statistics.median(run_workload(exe, args.calls, args.cpu, args.wall)
                             for _ in range(n))


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
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--sweeps", type=int, default=5)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--wall", action="store_true", help="time in wall clock, not CPU time")
    ap.add_argument("--only", help="comma-separated program names")
    args = ap.parse_args()
    tracers = {k: v for k, v in TRACERS.items() if shutil.which(v[0]) or k == "pytrace"}
    programs = {k: v for k, v in PROGRAMS.items()
                if not args.only or k in args.only.split(",")}
    added: dict[tuple[str, str], list[float]] = {}
    traced: dict[tuple[str, str], list[float]] = {}
    prog_ns: dict[tuple[str, str], list[float]] = {}
    insns: dict[tuple[str, str], str] = {}
    bases = []
    old_stats = set_bpf_stats("1")
    try:
        sweep(args, tracers, programs, added, traced, prog_ns, insns, bases)
    finally:
        set_bpf_stats(old_stats)
    report(args, tracers, programs, added, traced, prog_ns, insns, bases)
    return 0


def sweep(args, tracers, programs, added, traced, prog_ns, insns, bases) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_workload(tmp)
        for _ in range(args.sweeps):
            for name, program in programs.items():
                for tracer, cmd in tracers.items():
                    base = median_run(exe, args)
                    bases.append(base)
                    try:
                        proc = start_tracer(cmd, program)
                    except RuntimeError as e:
                        insns[name, tracer] = f"failed: {e}"
                        continue
                    try:
                        ids = held_prog_ids(proc.pid)
                        insns[name, tracer] = "+".join(map(str, xlated_sizes(ids)))
                        t0, n0 = prog_stats(ids)
                        ns = median_run(exe, args)
                        t1, n1 = prog_stats(ids)
                    finally:
                        stop_tracer(proc)
                    traced.setdefault((name, tracer), []).append(ns)
                    added.setdefault((name, tracer), []).append(ns - base)
                    # Per getppid call: a latency pair runs two programs per call.
                    calls = RUNS * args.calls
                    if n1 > n0:
                        prog_ns.setdefault((name, tracer), []).append((t1 - t0) / calls)


def report(args, tracers, programs, added, traced, prog_ns, insns, bases) -> None:
    clock = "wall" if args.wall else "thread CPU"
    print(f"getppid baseline: {statistics.median(bases):.1f} ns/call ({clock} time, "
          f"median of {len(bases)})")
    print(f"{'program':<15} {'tracer':<9} {'insns':>10} {'ns/call':>9} {'added ns':>9} "
          f"{'spread':>13} {'prog ns':>8}")
    for name in programs:
        for tracer in tracers:
            key = (name, tracer)
            if key not in added:
                print(f"{name:<15} {tracer:<9} {insns.get(key, 'failed')}")
                continue
            a = sorted(added[key])
            p = statistics.median(prog_ns[key]) if prog_ns.get(key) else float("nan")
            print(f"{name:<15} {tracer:<9} {insns[key]:>10} "
                  f"{statistics.median(traced[key]):>9.1f} {statistics.median(a):>+9.1f} "
                  f"{a[0]:>+6.0f}..{a[-1]:<+6.0f} {p:>8.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
