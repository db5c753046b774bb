"""What parsing costs a fresh `pytrace` process: start-up and parse time, one-liner and 200 lines.

Each case runs in a new interpreter (`python3 -c ...`), many times, interleaved
with a bare `python3 -c pass` so machine noise hits every case alike; the
figure that matters is the median minus the bare interpreter's median. Also
reports in-process parse times (warm) and the one-off cost of building the
tables when the cache is missing.

    python3 bench/parse_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT_200 = os.path.join(HERE, "parse_200_lines.bt")
ONE_LINER = 'kprobe:do_nanosleep /pid > 100/ { @[comm] = count(); }'

CASES = {
    "bare interpreter": "pass",
    "import pytrace.ast (the AST contract)": "import pytrace.ast",
    "parse one-liner": f"from pytrace.parser import parse_text; parse_text({ONE_LINER!r})",
    "parse 200-line script": (
        "from pytrace.parser import parse_text; "
        f"parse_text(open({SCRIPT_200!r}).read(), 'parse_200_lines.bt')"),
}


def run_once(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return (time.perf_counter() - start) * 1000


def fresh_process_figures(runs: int, env: dict) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(runs):
        for name, code in CASES.items():
            samples[name].append(run_once(code, env))
    return samples


BREAKDOWN = f"""
import time
t0 = time.perf_counter()
import dataclasses
t1 = time.perf_counter()
import pytrace.ast
t2 = time.perf_counter()
import pytrace.parser
t3 = time.perf_counter()
pytrace.parser.parse_text({ONE_LINER!r})
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""
BREAKDOWN_NAMES = ("import dataclasses (stdlib, pulls inspect)", "import pytrace.ast",
                   "import pytrace.parser (+lexer, tables)", "first parse (load tables, lex, parse)")


def breakdown_figures(runs: int, env: dict) -> list[list[float]]:
    """Where a fresh one-liner's time goes, timed inside the process (less noisy)."""
    rows: list[list[float]] = [[] for _ in BREAKDOWN_NAMES]
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", BREAKDOWN], check=True, env=env,
                             capture_output=True, text=True).stdout
        for row, value in zip(rows, out.split()):
            row.append(float(value) * 1000)
    return rows


def in_process_figures() -> dict[str, float]:
    from pytrace.parser import parse_text

    with open(SCRIPT_200) as f:
        script = f.read()
    parse_text(ONE_LINER)
    figures = {}
    for name, text, reps in (("one-liner", ONE_LINER, 500), ("200-line script", script, 20)):
        start = time.perf_counter()
        for _ in range(reps):
            parse_text(text)
        figures[name] = (time.perf_counter() - start) * 1000 / reps
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    opts = ap.parse_args()
    # Measure what an installed pytrace costs: with compiled bytecode. Writing
    # it under a private prefix keeps the working tree clean, and works even
    # where PYTHONDONTWRITEBYTECODE is set for the shell.
    pycache = tempfile.mkdtemp(prefix="pytrace-bench-pycache-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    with open(SCRIPT_200) as f:
        lines = f.read().count("\n")
    print(f"python {sys.version.split()[0]}, {opts.runs} runs per case, "
          f"200-line script has {lines} lines\n")

    # Warm the table and bytecode caches so the figures are the everyday case.
    for code in CASES.values():
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
    samples = fresh_process_figures(opts.runs, env)
    bare = statistics.median(samples["bare interpreter"])
    print(f"{'fresh process':40} {'median':>8} {'min':>8} {'added':>8}")
    for name, xs in samples.items():
        med = statistics.median(xs)
        print(f"{name:40} {med:7.1f}ms {min(xs):7.1f}ms {med - bare:+7.1f}ms")

    print("\none-liner, fresh process, timed inside it:")
    print(f"{'':40} {'median':>8} {'min':>8}")
    for name, xs in zip(BREAKDOWN_NAMES, breakdown_figures(opts.runs, env)):
        print(f"{name:40} {statistics.median(xs):7.1f}ms {min(xs):7.1f}ms")

    with tempfile.TemporaryDirectory() as cache:
        cold_env = dict(env, XDG_CACHE_HOME=cache)
        cold = run_once(CASES["parse one-liner"], cold_env)
        warm = run_once(CASES["parse one-liner"], cold_env)
    print(f"\none-liner with an empty table cache (builds tables with Lark): {cold:.0f} ms "
          f"(next run {warm:.0f} ms)")

    print("\nin process, warm (parse only):")
    for name, ms in in_process_figures().items():
        print(f"  {name:20} {ms:8.3f} ms")


if __name__ == "__main__":
    main()
