"""Cost of one BTF lookup in a fresh process: read vmlinux BTF, find
`struct task_struct` and its `pid` member, then the `vfs_read` prototype.

Run: python3 bench/btf_lookup.py  (runs each case in new interpreters, cold
cache first, then warm). Times are measured inside the child, so interpreter
start-up is excluded and reported apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, time
t0 = time.perf_counter()
from pytrace.target.files import LocalFiles
from pytrace.kernel import btf
t_import = time.perf_counter()
vmlinux = btf.load_vmlinux(LocalFiles())
t_open = time.perf_counter()
task = vmlinux.find_struct("task_struct")
pid = vmlinux.find_member(task.id, "pid")
t_pid = time.perf_counter()
sig = vmlinux.func_signature("vfs_read")
text = vmlinux.signature_text(sig)
t_sig = time.perf_counter()
print(json.dumps({"import": t_import - t0, "open": t_open - t_import,
                  "task_struct.pid": t_pid - t_open, "vfs_read": t_sig - t_pid,
                  "total": t_sig - t_import, "pid_offset": pid.offset, "proto": text}))
"""


def run_child(cache_dir: str) -> dict:
    env = dict(os.environ, PYTRACE_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print(f"interpreter start-up (not counted): {1000 * (time.perf_counter() - t):.1f} ms")
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = [run_child(tempfile.mkdtemp(dir=cache_dir)) for _ in range(runs)]
        run_child(cache_dir)  # fill the cache
        warm = [run_child(cache_dir) for _ in range(runs)]
    print(f"task_struct.pid offset {cold[0]['pid_offset']}; {cold[0]['proto']}")
    for label, results in (("cold cache", cold), ("warm cache", warm)):
        for key in ("import", "open", "task_struct.pid", "vfs_read", "total"):
            values = sorted(1000 * r[key] for r in results)
            print(f"{label:10} {key:16} median {values[len(values) // 2]:6.1f} ms"
                  f"  min {values[0]:6.1f}  max {values[-1]:6.1f}")


if __name__ == "__main__":
    main()
