"""Perf-event probes on the real kernel: software page-faults from a workload touching
N fresh pages, and profile/interval timers firing at the asked rate."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from pytrace.session import trace_output
from pytrace.target.local import LocalTarget
from tests.probes import workloads
from tests.probes.harness import run_with_workload

pytestmark = pytest.mark.kernel

PAGES = 300


def test_page_faults_of_a_workload_touching_fresh_pages(tmp_path):
    prog = workloads.pages(tmp_path)
    out = run_with_workload("software:page-faults:1 /pid == cpid/ { @[probe] = count(); }",
                            [prog, str(PAGES)])
    m = re.fullmatch(r"Attaching 1 probe\.\.\.\n\n\n@\[software:page-faults:1\]: (\d+)\n", out)
    assert m, out
    # Every page is a first touch; exec and start-up fault a little more.
    assert PAGES <= int(m.group(1)) < PAGES + 400


def _keep_cpus_busy(cpus, seconds: float):
    """One spinning process pinned to each CPU: an idle CPU's cpu-clock timer is
    deferred by NOHZ (bpftrace 0.17 undercounts there too), a busy one's is not."""
    code = ("import os, sys, time\nos.sched_setaffinity(0, {int(sys.argv[1])})\n"
            f"end = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n")
    return [subprocess.Popen([sys.executable, "-c", code, str(c)]) for c in cpus]


def test_profile_and_interval_fire_at_the_asked_rate():
    cpus = LocalTarget().online_cpus()
    spinners = _keep_cpus_busy(cpus, 2.5)
    try:
        time.sleep(0.2)
        out = trace_output("profile:hz:50 { @p[cpu] = count(); } "
                           "interval:ms:20 { @i = count(); } interval:s:1 { exit(); }")
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    counts = dict(re.findall(r"^@p\[(\d+)\]: (\d+)$", out, re.M))
    assert sorted(int(c) for c in counts) == cpus
    # One second at 50 Hz on each CPU. Other work on this VM's CPUs (steal time,
    # BPF programs already running there) can still cost a tick now and then.
    for n in counts.values():
        assert 30 <= int(n) <= 55, out
    assert sum(int(n) for n in counts.values()) >= 0.8 * 50 * len(cpus), out
    interval = int(re.search(r"^@i: (\d+)$", out, re.M).group(1))
    assert 40 <= interval <= 51, out  # every 20 ms for one second, on one CPU
