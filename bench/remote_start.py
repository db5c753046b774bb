"""Remote targets against a local run: start-to-exit, round trips, events per second.

Each row runs pytrace as a fresh process, N times round-robin (load from
elsewhere on the machine falls on every row alike); figures are medians of
wall time. Rows:
- local:              this machine, in process;
- exec: (loopback):   the agent as a child process over pipes;
- exec: +50 ms RTT:   the agent behind tests/remote/relay.py holding every
                      chunk 25 ms in each direction (a far-away target);
- ssh://:             through a private sshd on 127.0.0.1 (tests/helpers/sshd.py,
                      generated keys; skipped when openssh-server is missing).
Programs: `BEGIN { exit(); }`, and a 12-probe script (11 syscall tracepoints
counting into maps, printed at exit, plus BEGIN { exit(); }).
Round trips are what the RemoteTarget counted (PYTRACE_REMOTE_STATS), HELLO
included; the 50 ms row also shows its added time in round trips
((remote - local) / 50 ms). Targets: loopback start <= 1.5 x local; at
50 ms RTT <= local + 6 round trips.

Events: `printf` on every getppid of the workload (tests/e2e/workload.c)
through exec:, in bursts (1000 calls, 5 ms pause, 40 times: ~200k/s offered)
with the count printed, lost and the rate the kernel produced them at
(first to last `elapsed`); and a flood (200000 calls back to back) with what
got through per second of the run. Target: >= 100k events/s, nothing lost.

    python3 bench/remote_start.py [--runs N]   (as root, from the repo root)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELAY = ROOT / "tests" / "remote" / "relay.py"
BEGIN_EXIT = "BEGIN { exit(); }"
TWELVE_PROBES = "\n".join(
    [f"tracepoint:syscalls:sys_enter_{name} {{ @{name} = count(); }}"
     for name in ("getpid", "getppid", "read", "write", "openat", "close",
                  "mmap", "munmap", "brk", "ioctl", "nanosleep")]
    + [BEGIN_EXIT])
DELAY_MS = 25


SSH: dict[str, object] = {}   # "target", "env" of the bench's sshd when it runs


def targets() -> dict[str, list[str]]:
    py = os.path.realpath(sys.executable)
    rows = {
        "local": [],
        "exec: (loopback)": ["--target", "exec:"],
        f"exec: +{2 * DELAY_MS} ms RTT": [
            "--target", f"exec:{py} -S {RELAY} --delay-ms {DELAY_MS} --"],
    }
    if SSH:
        rows["ssh:// (loopback)"] = ["--target", SSH["target"]]
    return rows


def start_sshd(tmp: str):
    """A private sshd for the ssh rows, or None (and why) when it cannot run."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.sshd import SshKeys, SshServer, missing_ssh_programs
    missing = missing_ssh_programs()
    if missing:
        print(f"(no ssh rows: {', '.join(missing)} not installed)")
        return None
    server = SshServer(SshKeys.generate(Path(tmp))).start()
    SSH.update(target=server.target, env=server.environ())
    return server


def run(argv: list[str], env: dict) -> tuple[float, int, str]:
    if SSH and SSH["target"] in argv:
        env = {**env, **SSH["env"], "PYTRACE_REMOTE_STATS": "1"}
    start = time.monotonic()
    done = subprocess.run([os.path.realpath(sys.executable), "-m", "pytrace", *argv],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"pytrace {' '.join(argv)} failed: {done.stderr.strip()}")
    trips = re.search(r"pytrace: (\d+) round trips", done.stderr)
    return wall, int(trips.group(1)) if trips else 0, done.stdout


def start_rows(runs: int, env: dict) -> None:
    for name, program in (("BEGIN { exit(); }", BEGIN_EXIT), ("12 probes", TWELVE_PROBES)):
        rows = targets()
        walls: dict[str, list[float]] = {row: [] for row in rows}
        trips: dict[str, int] = {}
        for row, argv in rows.items():   # warm-up: bytecode, BTF and agent caches
            run(argv + ["-e", program], env)
        for _ in range(runs):
            for row, argv in rows.items():
                wall, n, _ = run(argv + ["-e", program], env)
                walls[row].append(wall)
                trips[row] = n
        local = statistics.median(walls["local"])
        print(f"\n{name}: start to exit, median of {runs}")
        for row in rows:
            med = statistics.median(walls[row])
            extra = ""
            if row != "local":
                extra = f"  {med / local:.2f}x local, {trips[row]} round trips"
                if "RTT" in row:
                    extra += f", +{(med - local) / (2 * DELAY_MS / 1000):.1f} RTT over local"
            print(f"  {row:22s} {med * 1000:7.1f} ms{extra}")


def build_workload(tmp: str) -> str:
    out = os.path.join(tmp, "wl")
    subprocess.run(["gcc", "-O1", "-static", "-o", out, str(ROOT / "tests/e2e/workload.c")],
                   check=True)
    return out


def event_rows(env: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wl = build_workload(tmp)
        program = ('tracepoint:syscalls:sys_enter_getppid /pid == cpid/ '
                   '{ printf("%d\\n", elapsed); }')
        bursts = " ".join(["getppid 1000 sleep 5"] * 40)
        print("\nprintf events, remote rows on loopback")
        for label, args in (("bursts of 1000", bursts), ("flood of 200000", "getppid 200000")):
            for row in [r for r in targets() if "RTT" not in r]:
                argv = targets()[row] + ["-e", program, "-c", f"{wl} {args}"]
                wall, _, out = run(argv, env)
                lines = out.splitlines()
                stamps = [int(ln) for ln in lines if ln.isdigit()]
                lost = sum(int(ln.split()[1]) for ln in lines if ln.startswith("Lost "))
                offered = len(stamps) / max((stamps[-1] - stamps[0]) / 1e9, 1e-9) if stamps else 0
                print(f"  {label:16s} {row:18s} printed {len(stamps):6d}, lost {lost:6d}, "
                      f"produced at {offered / 1000:6.0f}k/s, "
                      f"{len(stamps) / wall / 1000:6.0f}k per s of the whole run")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    env = dict(os.environ, PYTRACE_REMOTE_STATS="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_sshd(tmp)
        try:
            start_rows(opts.runs, env)
            event_rows(env)
        finally:
            if server is not None:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
