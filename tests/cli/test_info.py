"""`pytrace --info`: what this kernel offers, in bpftrace's sections, each answer
checked against what the machine independently says."""

from __future__ import annotations

import os

import pytest

from pytrace import __version__
from tests.cli.command import pytrace

pytestmark = pytest.mark.kernel

SECTIONS = ["System", "Build", "Kernel helpers", "Kernel features", "Map types",
            "Program types", "Probe types"]
EVENT_SOURCES = "/sys/bus/event_source/devices"


@pytest.fixture(scope="module")
def info() -> dict[str, dict[str, str]]:
    done = pytrace("--info")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in done.stdout.splitlines():
        if not line:
            continue
        if not line.startswith("  "):
            current = sections.setdefault(line, {})
            continue
        name, _, value = line.strip().partition(": ")
        current[name] = value
    return sections


def test_sections_in_bpftrace_order(info):
    assert list(info) == SECTIONS


def test_system_and_build_are_this_machine_and_this_pytrace(info):
    uname = os.uname()
    assert info["System"]["OS"] == f"{uname.sysname} {uname.release} {uname.version}"
    assert info["System"]["Arch"] == uname.machine
    import llvmlite.binding
    assert info["Build"]["version"] == f"v{__version__}"
    assert info["Build"]["LLVM"].startswith(
        ".".join(map(str, llvmlite.binding.llvm_version_info)) + " ")


def test_every_answer_is_yes_or_no(info):
    for title in SECTIONS[2:]:
        for name, value in info[title].items():
            if name != "Instruction limit":
                assert value in ("yes", "no"), (title, name, value)


def test_answers_agree_with_the_files_the_kernel_shows(info):
    def yes(path):
        return "yes" if os.path.exists(path) else "no"
    assert info["Kernel features"]["btf"] == yes("/sys/kernel/btf/vmlinux")
    assert info["Kernel features"]["uprobe refcount (USDT semaphores)"] == \
        yes(f"{EVENT_SOURCES}/uprobe/format/ref_ctr_offset")
    assert info["Probe types"]["kprobe"] == yes(f"{EVENT_SOURCES}/kprobe")
    assert info["Probe types"]["watchpoint"] == yes(f"{EVENT_SOURCES}/breakpoint")
    tracefs = any(os.path.exists(f"{root}/events")
                  for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"))
    assert info["Probe types"]["tracepoint"] == ("yes" if tracefs else "no")


def test_a_kernel_that_runs_pytrace_has_its_basics(info):
    # This suite loads these very things elsewhere: --info must not deny them.
    helpers, maps = info["Kernel helpers"], info["Map types"]
    assert helpers["probe_read_kernel"] == helpers["ringbuf_reserve"] == "yes"
    programs = info["Program types"]
    assert programs["kprobe"] == programs["tracepoint"] == programs["raw_tracepoint"] == "yes"
    assert maps["hash"] == maps["percpu array"] == maps["ringbuf"] == "yes"
    assert info["Probe types"]["uprobe"] == info["Probe types"]["perf_event (profile, "
                                                                "interval, software)"] == "yes"
    assert int(info["Kernel features"]["Instruction limit"]) == 1000000


def test_rows_shared_with_bpftrace_give_its_answers(info):
    # bpftrace 0.17's --info on this kernel, for the rows that mean the same
    # thing in both (bpftrace calls a kprobe available once its program loads,
    # pytrace only with the kprobe PMU it attaches through, so that row differs).
    import shutil
    import subprocess
    if shutil.which("bpftrace") is None:
        pytest.skip("bpftrace is not installed")
    done = subprocess.run(["bpftrace", "--info"], capture_output=True, text=True, timeout=60)
    theirs = {}
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("  ") and ": " in line:
            name, _, value = line.strip().partition(": ")
            theirs[name] = value
    shared = {"probe_read": "Kernel helpers", "probe_read_str": "Kernel helpers",
              "probe_read_user": "Kernel helpers", "probe_read_kernel_str": "Kernel helpers",
              "get_current_cgroup_id": "Kernel helpers", "send_signal": "Kernel helpers",
              "override_return": "Kernel helpers", "Loop support": "Kernel features",
              "btf": "Kernel features", "map batch": "Kernel features",
              "Instruction limit": "Kernel features", "hash": "Map types",
              "percpu hash": "Map types", "array": "Map types", "percpu array": "Map types",
              "stack_trace": "Map types", "tracepoint": "Probe types", "kfunc": "Probe types"}
    for name, section in shared.items():
        assert info[section][name] == theirs[name], name
