"""Start-up time of pytrace against bpftrace, as fresh processes.

Each tracer runs a program from start to exit as a new process, N times;
the figures are medians of wall time and of the child's CPU time (user +
sys, steadier than wall time on a busy 2-core machine). Two programs:
- `BEGIN { exit(); }`: the floor of any run (imports, compile, load, exit);
- a 12-probe script: 11 syscall tracepoints counting into maps plus
  `BEGIN { exit(); }`, so every probe is compiled, loaded and attached and
  the maps are printed at exit.

pytrace is run both as `python3 -m pytrace` and through the installed
`pytrace` console script, with the interpreter's real path (a pyenv shim
adds ~100 ms of bash before Python starts, which a real install has not).
Bytecode caching is on, as on a real install where pip wrote .pyc files:
PYTHONDONTWRITEBYTECODE is removed from the children's environment and one
unmeasured warm-up run writes the caches. `python3 -c pass` is shown as the
interpreter's own floor: it includes the site-packages .pth hooks (an editable
install's finder, any CA-injection hooks), which `python3 -S -c pass` leaves out.

Commands run round-robin (one run of each in turn), so load from elsewhere on
the machine falls on all of them alike. Run as root:
    python3 bench/startup.py [--runs N] [--compare OLD_CHECKOUT]
bpftrace is optional (its rows are skipped when it is not installed).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BEGIN_EXIT = "BEGIN { exit(); }"

TWELVE_PROBES = "\n".join(
    [f"tracepoint:syscalls:sys_enter_{name} {{ @{name} = count(); }}"
     for name in ("getpid", "getppid", "read", "write", "openat", "close",
                  "mmap", "munmap", "brk", "ioctl", "nanosleep")]
    + [BEGIN_EXIT])


def interpreter() -> str:
    """The real interpreter binary, not a shim script in front of it."""
    return os.path.realpath(sys.executable)


def console_script() -> str | None:
    """The installed `pytrace` script next to the interpreter, if any."""
    beside = Path(sys.executable).resolve().parent / "pytrace"
    if beside.exists():
        return str(beside)
    found = shutil.which("pytrace")
    return found


def commands(compare: str | None = None) -> dict[str, list[str]]:
    py = interpreter()
    cmds = {"python3 -S -c pass (floor)": [py, "-S", "-c", "pass"],
            "python3 -c pass (floor)": [py, "-c", "pass"],
            "python3 -m pytrace": [py, "-m", "pytrace", "-e"]}
    if compare:
        # `python3 -m pytrace` with another checkout first on sys.path (its cwd).
        cmds["python3 -m pytrace (--compare)"] = ["@" + compare, py, "-m", "pytrace", "-e"]
    script = console_script()
    if script:
        cmds["pytrace (script)"] = [script, "-e"]
    if shutil.which("bpftrace"):
        cmds["bpftrace"] = ["bpftrace", "-e"]
    return cmds


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh process run to exit."""
    cwd = None
    if argv[0].startswith("@"):  # "@DIR": run from DIR
        cwd, argv = argv[0][1:], argv[1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): "
                         f"{proc.stderr.decode(errors='replace').strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(cmds: dict[str, list[str]], env: dict[str, str],
            runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds per command, run round-robin so that load from
    elsewhere on the machine falls on every command alike."""
    for argv in cmds.values():
        run_once(argv, env)  # warm-up: writes .pyc caches, warms the page cache
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            samples[name].append(run_once(argv, env))
    return {name: (statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
            for name, got in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare", metavar="DIR",
                        help="also time `python3 -m pytrace` run from DIR, e.g. a "
                             "`git worktree` of an older commit")
    opts = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # bpftrace 0.17 warns when it cannot raise RLIMIT_MEMLOCK; harmless here.
    programs = {"BEGIN { exit(); }": BEGIN_EXIT, "12-probe script": TWELVE_PROBES}
    print(f"{'program':<20} {'command':<32} {'wall ms':>8} {'cpu ms':>8}")
    for label, program in programs.items():
        cmds = {name: argv if name.endswith("(floor)") else argv + [program]
                for name, argv in commands(opts.compare).items()
                if program is BEGIN_EXIT or not name.endswith("(floor)")}
        for name, (wall, cpu) in measure(cmds, env, opts.runs).items():
            print(f"{label:<20} {name:<32} {wall * 1000:8.0f} {cpu * 1000:8.0f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
