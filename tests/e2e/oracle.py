"""Re-record the expected stdout of one-liner cases with bpftrace (a maintainer tool).

    python3 tests/e2e/oracle.py [--file oneliners_X.json] [CASE_NAME ...]

Builds the workload, runs bpftrace 0.17 with each case's arguments, shows its
output and stores it in oneliners.json (`{wl}` for the workload's path). The
tests themselves never run bpftrace. Check a re-recorded case by eye: bpftrace
prints ties in hash order, and 0.17 has the deviations in OUTPUT.md §11.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> None:
    file_name = "oneliners.json"
    if names[:1] == ["--file"]:
        file_name, names = names[1], names[2:]
    cases_path = HERE / file_name
    cases = json.loads(cases_path.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        wl = str(Path(tmp) / "wl")
        subprocess.run(["gcc", "-O1", "-static", "-o", wl, str(HERE / "workload.c")], check=True)
        for case in cases:
            if names and case["name"] not in names:
                continue
            argv = [a.replace("{wl}", wl) for a in case["argv"]]
            env = {**os.environ, **case.get("env", {})}
            done = subprocess.run(["bpftrace", *argv], capture_output=True, text=True, timeout=60,
                                  env=env)
            print(f"== {case['name']} (exit {done.returncode})\n{done.stdout}")
            if done.returncode == 0:
                case["stdout"] = done.stdout.replace(wl, "{wl}")
    cases_path.write_text(json.dumps(cases, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
