"""Instruction counts of the classic one-liners: pytrace beside bpftrace 0.17.

Each program is started with each tracer; the programs it loads are the BPF
program fds the tracer process holds (/proc/PID/fdinfo: prog_id), so programs
other processes load meanwhile and tracers' feature probes do not count. Their xlated size (what the
kernel runs after its own rewrites, e.g. inlined hash lookups) is counted as
`bpftool prog dump xlated` counts it: bytes_xlated / 8, a 16-byte ld_imm64
counting as two. One column per program of the one-liner, in load order.

Run as root:  python3 bench/insn_counts.py [--only NAME] [--dump DIR]
Needs bpftool; bpftrace is optional (its column is then empty).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tracer_compare import (TRACERS, held_prog_ids, start_tracer,  # noqa: E402
                            stop_tracer)

LATENCY = ("tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; } "
           "tracepoint:syscalls:sys_exit_read /@start[tid]/ "
           "{ @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }")

ONE_LINERS = {
    "count by comm": "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }",
    "count by id": "tracepoint:raw_syscalls:sys_enter { @[args->id] = count(); }",
    "count comm,pid": "tracepoint:syscalls:sys_enter_read { @[comm, pid] = count(); }",
    "hist count": "tracepoint:syscalls:sys_enter_read { @ = hist(args->count); }",
    "lhist count": ("tracepoint:syscalls:sys_enter_read "
                    "{ @ = lhist(args->count, 0, 1000, 100); }"),
    "sum by pid": "tracepoint:syscalls:sys_enter_read { @x[pid] = sum(args->count); }",
    "pred sum ret": ("tracepoint:syscalls:sys_exit_read /args->ret > 0/ "
                     "{ @[comm] = sum(args->ret); }"),
    "max by tid": "tracepoint:syscalls:sys_enter_read { @[tid] = max(args->count); }",
    "printf pid": 'tracepoint:syscalls:sys_enter_getppid { printf("%d\\n", pid); }',
    "opensnoop": ('tracepoint:syscalls:sys_enter_openat '
                  '{ printf("%s %s\\n", comm, str(args->filename)); }'),
    "latency pair": LATENCY,
}


def xlated_counts(ids: set[int]) -> list[int]:
    """Instruction counts of these programs, in id (load) order."""
    import json
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                         text=True).stdout
    progs = sorted((p["id"], p.get("bytes_xlated", 0) // 8) for p in json.loads(out or "[]")
                   if p["id"] in ids and p.get("type") in ("tracepoint", "raw_tracepoint"))
    return [n for _, n in progs]


def dump(ids: set[int], path: str) -> None:
    with open(path, "w") as f:
        for pid in sorted(ids):
            f.write(subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(pid)],
                                   capture_output=True, text=True).stdout)


def measure(cmd: list[str], program: str, dump_to: str | None) -> list[int] | str:
    try:
        proc = start_tracer(cmd, program, settle=0.5)
    except RuntimeError as e:
        return str(e)[:400]
    try:
        ids = held_prog_ids(proc.pid)
        if dump_to:
            dump(ids, dump_to)
        return xlated_counts(ids)
    finally:
        stop_tracer(proc)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="run only the one-liner with this name")
    ap.add_argument("--dump", help="write each tracer's xlated code to DIR")
    args = ap.parse_args()
    tracers = {k: v for k, v in TRACERS.items() if shutil.which(v[0]) or k == "pytrace"}
    print(f"{'one-liner':<16}" + "".join(f"{t:>12}" for t in tracers) + "   ok")
    worse = 0
    for name, program in ONE_LINERS.items():
        if args.only and name != args.only:
            continue
        row = {}
        for tracer, cmd in tracers.items():
            out = None
            if args.dump:
                os.makedirs(args.dump, exist_ok=True)
                out = os.path.join(args.dump, f"{name.replace(' ', '_')}.{tracer}.txt")
            row[tracer] = measure(cmd, program, out)
        cells = ["+".join(map(str, r)) if isinstance(r, list) else "error" for r in row.values()]
        mine, theirs = row.get("pytrace"), row.get("bpftrace")
        verdict = ""
        if isinstance(mine, list) and isinstance(theirs, list):
            ok = sum(mine) <= sum(theirs)
            worse += not ok
            verdict = "yes" if ok else "NO"
        print(f"{name:<16}" + "".join(f"{c:>12}" for c in cells) + f"   {verdict}")
        for r in row.values():
            if isinstance(r, str):
                print(f"    {r}")
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
