"""Block I/O tools, run while this test does O_DIRECT I/O on its own loop device."""

import re
import subprocess

import pytest

from tests.tools.harness import ToolRun, rows_in_order, top_intervals
from tests.tools.workloads import device_numbers, direct_io, loop_device


@pytest.fixture(scope="module")
def loop():
    with loop_device() as device:
        yield device


def test_biosnoop_reports_each_request_with_submitter_size_and_latency(loop):
    major, minor = device_numbers(loop)
    with ToolRun("biosnoop") as run:
        writer = direct_io(loop, write=True, blocks=4, block_size=65536)
        reader = direct_io(loop, write=False, blocks=8, block_size=4096)
    rows = [r for r in run.rows(8) if len(r) == 8 and r[3] == f"{major}:{minor}"]
    writes = [r for r in rows if r[2] == str(writer)]
    reads = [r for r in rows if r[2] == str(reader)]
    assert [(r[1], r[4], r[5], r[6]) for r in writes] == [
        ("dd", "W", str(i * 128), "65536") for i in range(4)], run.output
    assert [(r[1], r[4], r[5], r[6]) for r in reads] == [
        ("dd", "R", str(i * 8), "4096") for i in range(8)], run.output
    for r in writes + reads:
        assert re.fullmatch(r"\d+\.\d{6}", r[0]) and re.fullmatch(r"\d+\.\d{3}", r[7])


def hist_total(text: str) -> int:
    return sum(int(n) for n in re.findall(r"^\[[^)\]]*[)\]]\s+(\d+) \|", text, re.M))


def test_biolatency_counts_the_requests_in_its_histogram(loop):
    with ToolRun("biolatency") as run:
        direct_io(loop, write=False, blocks=40, block_size=4096)
    assert "@usecs:" in run.output
    assert hist_total(run.output.split("@usecs:")[1]) >= 40


def test_biolatency_prints_every_interval_and_stops_after_count(loop):
    from tests.tools.harness import run_tool
    result = run_tool("biolatency", "1", "2")
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^\d\d:\d\d:\d\d$", result.stdout, re.M)) == 2


def test_bitesize_histograms_sizes_by_process_name(loop):
    with ToolRun("bitesize") as run:
        direct_io(loop, write=False, blocks=10, block_size=16384)
    dd = run.output.split("@[dd]:")[1].split("\n\n")[0]
    assert re.search(r"^\[16K, 32K\)\s+(\d+) \|", dd, re.M), run.output
    assert int(re.search(r"^\[16K, 32K\)\s+(\d+) \|", dd, re.M).group(1)) >= 10


def test_biostacks_shows_the_direct_io_submission_stack(loop):
    with ToolRun("biostacks") as run:
        direct_io(loop, write=False, blocks=20, block_size=4096)
    stacks = run.output.split("@usecs[")
    # The reads may arrive through more than one stack (a retried or split
    # submission): together the stacks through read(2) hold all 20.
    ours = [s for s in stacks if "blkdev_read_iter" in s and "ksys_read" in s]
    assert ours, run.output[-3000:]
    assert sum(hist_total(s) for s in ours) >= 20, run.output[-3000:]


def test_biotop_shows_the_workload_per_process_and_device(loop):
    major, minor = device_numbers(loop)
    with ToolRun("biotop") as run:
        for _ in range(3):   # until the dd runs fall in one interval (almost always)
            # Kbytes (BCC's sort) 1600, 800, 256; Kbytes per I/O 16, 4, 128: so
            # neither bpftrace's stats order (by average) nor its reverse fits.
            busiest = direct_io(loop, write=False, blocks=100, block_size=16384)
            many_small = direct_io(loop, write=False, blocks=200, block_size=4096)
            writer = direct_io(loop, write=True, blocks=2, block_size=131072)
            rows = [rf"^@io\[{busiest}, dd, R\w*, {major}, {minor}\]: ",
                    rf"^@io\[{many_small}, dd, R\w*, {major}, {minor}\]: ",
                    rf"^@io\[{writer}, dd, W\w*, {major}, {minor}\]: "]
            run.wait_for(rows[2], timeout=5)
            if any(rows_in_order(block, *rows) for block in top_intervals(run.output_so_far())):
                break
    line = re.search(rf"{rows[2]}(.*)$", run.output, re.M)
    assert line.group(1) == "count 2, average 128, total 256"
    assert re.search(rf"{rows[1]}count 200, average 4, total 800$", run.output, re.M)
    assert re.search(rf"^@avg_us\[{writer}, dd, W\w*, {major}, {minor}\]: \d+$", run.output, re.M)
    # Busiest first, as BCC sorts: by Kbytes.
    found = [at for block in top_intervals(run.output) if (at := rows_in_order(block, *rows))]
    assert found and all(at == sorted(at) for at in found), run.output
    # Each interval clears the screen, then the time, load averages and the header.
    intervals = top_intervals(run.output)
    assert all(re.match(r"\x1b\[H\x1b\[2J\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ "
                        r"\d+\n\n@io\[PID, COMM, D, MAJ, MIN\]: count I/O, average Kbytes, "
                        r"total Kbytes\n", block) for block in intervals), intervals[0]


def test_mdflush_reports_flushes_on_the_major_it_watches(loop):
    major, minor = device_numbers(loop)
    flush = ["dd", "if=/dev/zero", f"of={loop}", "bs=4k", "count=1", "oflag=direct",
             "conv=fsync", "status=none"]
    with ToolRun("mdflush", str(major)) as run:
        dd = subprocess.Popen(flush)
        dd.wait()
    rows = [r for r in run.rows(4) if len(r) == 4 and r[1] == str(dd.pid)]
    assert [r[2:] for r in rows] == [["dd", f"{major}:{minor}"]], run.output
    # By default only md's major (9) is watched: the loop device's flush is not shown.
    with ToolRun("mdflush") as run:
        dd = subprocess.Popen(flush)
        dd.wait()
    assert str(dd.pid) not in run.output
