"""Attaching through LocalTarget on the real kernel: programs on tracepoints,
raw tracepoints, uprobes, software/timer events and watchpoints see exactly
the events a child makes, and detaching leaves nothing behind."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from elftools.elf.elffile import ELFFile

from pytrace.kernel import bpf, perf
from pytrace.kernel.errors import AttachError
from pytrace.target.local import LocalTarget
from tests.helpers import bpfprogs
from tests.helpers.cbuild import build_c

pytestmark = pytest.mark.kernel

NR_GETPPID = {"x86_64": 110, "aarch64": 173}[os.uname().machine]
UPROBE_EVENTS = "/sys/kernel/tracing/uprobe_events"


@pytest.fixture
def target():
    t = LocalTarget()
    yield t
    t.close_all()
    # PMU uprobes never appear here, but a legacy (file-made) one would outlive us.
    if os.path.exists(UPROBE_EVENTS):
        assert open(UPROBE_EVENTS).read() == ""


def getppid_child(n: int) -> int:
    """Fork a child that calls getppid n times and exits; returns its pid once reaped."""
    pid = os.fork()
    if pid == 0:
        for _ in range(n):
            os.getppid()
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def count_of(target, map_fd: int, pid: int) -> int:
    value = target.map_lookup(map_fd, struct.pack("<I", pid), 8)
    return 0 if value is None else struct.unpack("<Q", value)[0]


def counting_program(target, prog_type, **kw):
    counts = target.map_create(bpf.MAP_HASH, 4, 8, 1024, name="counts")
    prog, _ = target.prog_load(prog_type, bpfprogs.count_by_tgid(counts, **kw), name="count")
    return counts, prog


def test_tracepoint_program_counts_exactly_the_childs_getppid_calls(target):
    counts, prog = counting_program(target, bpf.PROG_TRACEPOINT)
    handle = target.attach_tracepoint(prog, "syscalls", "sys_enter_getppid")
    first = getppid_child(1000)
    second = getppid_child(37)
    assert count_of(target, counts, first) == 1000
    assert count_of(target, counts, second) == 37
    target.detach(handle)
    after = getppid_child(50)
    assert count_of(target, counts, after) == 0   # detached: no longer counted


def test_raw_tracepoint_program_counts_the_childs_getppid_calls(target):
    counts, prog = counting_program(target, bpf.PROG_RAW_TRACEPOINT, syscall_nr=NR_GETPPID)
    target.attach_raw_tracepoint(prog, "sys_enter")
    child = getppid_child(500)
    assert count_of(target, counts, child) == 500


def test_unknown_raw_tracepoint_is_named(target):
    _, prog = counting_program(target, bpf.PROG_RAW_TRACEPOINT)
    with pytest.raises(AttachError, match="raw tracepoint not found: sys_entr$"):
        target.attach_raw_tracepoint(prog, "sys_entr")


def test_unknown_tracepoint_names_the_closest_events_of_its_category(target):
    _, prog = counting_program(target, bpf.PROG_TRACEPOINT)
    with pytest.raises(AttachError) as exc:
        target.attach_tracepoint(prog, "syscalls", "sys_enter_getppidd")
    assert str(exc.value).startswith("tracepoint not found: syscalls:sys_enter_getppidd; "
                                     "did you mean syscalls:sys_enter_getppid")


def test_unknown_tracepoint_category_searches_every_category(target):
    _, prog = counting_program(target, bpf.PROG_TRACEPOINT)
    with pytest.raises(AttachError) as exc:
        target.attach_tracepoint(prog, "shed", "sched_switch")
    assert str(exc.value).startswith("tracepoint not found: shed:sched_switch; "
                                     "did you mean sched:sched_switch")


def test_kprobe_attach_says_the_kernel_has_no_kprobes(target):
    if perf.kprobes_available():
        pytest.skip("this kernel has kprobes")
    _, prog = counting_program(target, bpf.PROG_KPROBE)   # loads fine without kprobes
    with pytest.raises(AttachError) as exc:
        target.attach_kprobe(prog, "vfs_read")
    assert str(exc.value) == ("cannot attach kprobe to vfs_read: this kernel has no kprobes "
                              "(CONFIG_KPROBES is not enabled)")
    with pytest.raises(AttachError, match="CONFIG_KPROBES is not enabled"):
        target.attach_kprobe(prog, "vfs_read", retprobe=True)


# ---- uprobes -------------------------------------------------------------------------------

UPROBE_C = textwrap.dedent("""\
    #include <stdlib.h>
    __attribute__((noinline)) int target_fn(int x) { __asm__ volatile(""); return x + 1; }
    int main(int argc, char **argv) {
        int n = atoi(argv[1]), s = 0;
        for (int i = 0; i < n; i++) s += target_fn(i);
        return s == -1;
    }
    """)


def file_offset_of(path, symbol: str) -> int:
    """Where a uprobe on `symbol` goes: its address turned into a file offset."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        (sym,) = elf.get_section_by_name(".symtab").get_symbol_by_name(symbol)
        addr = sym["st_value"]
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_memsz"]:
                return addr - seg["p_vaddr"] + seg["p_offset"]
    raise AssertionError(f"{symbol} not in a loaded segment")


@pytest.fixture(scope="module")
def uprobe_binary(tmp_path_factory):
    return build_c(UPROBE_C, tmp_path_factory.mktemp("uprobe"), "uprobe_target")


def run_binary(path, n: int) -> int:
    proc = subprocess.Popen([str(path), str(n)])
    assert proc.wait() == 0
    return proc.pid


@pytest.mark.parametrize("retprobe", [False, True], ids=["uprobe", "uretprobe"])
def test_uprobe_counts_calls_of_a_function_in_a_gcc_built_binary(target, uprobe_binary,
                                                                   retprobe):
    counts, prog = counting_program(target, bpf.PROG_KPROBE)
    offset = file_offset_of(uprobe_binary, "target_fn")
    target.attach_uprobe(prog, str(uprobe_binary), offset, retprobe=retprobe)
    pid = run_binary(uprobe_binary, 321)
    assert count_of(target, counts, pid) == 321


def test_uprobe_limited_to_one_pid_ignores_other_processes(target, uprobe_binary):
    counts, prog = counting_program(target, bpf.PROG_KPROBE)
    offset = file_offset_of(uprobe_binary, "target_fn")
    other = subprocess.Popen([str(uprobe_binary), "100"])
    target.attach_uprobe(prog, str(uprobe_binary), offset, pid=os.getpid())
    other.wait()
    assert count_of(target, counts, other.pid) == 0


def test_uprobe_on_missing_file_says_so(target):
    _, prog = counting_program(target, bpf.PROG_KPROBE)
    with pytest.raises(AttachError, match="cannot attach uprobe: no such file /no/such/bin"):
        target.attach_uprobe(prog, "/no/such/bin", 0x1000)


def test_killed_process_leaves_no_probe_behind(uprobe_binary, tmp_path):
    """A process holding programs and probes is SIGKILLed: the kernel frees them all."""
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(f"""\
        import struct, sys, time
        from pytrace.kernel import bpf
        from pytrace.target.local import LocalTarget
        from tests.helpers import bpfprogs
        t = LocalTarget()
        m = t.map_create(bpf.MAP_HASH, 4, 8, 16)
        p, _ = t.prog_load(bpf.PROG_KPROBE, bpfprogs.count_by_tgid(m), name="holder_probe")
        t.attach_uprobe(p, {str(uprobe_binary)!r}, {file_offset_of(uprobe_binary, "target_fn")})
        print(t.prog_info(p)["id"], flush=True)
        time.sleep(60)
        """))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    holder = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": repo})
    prog_id = int(holder.stdout.readline())
    assert prog_exists(prog_id)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    deadline = time.monotonic() + 5
    while prog_exists(prog_id) and time.monotonic() < deadline:
        time.sleep(0.05)   # the kernel frees programs after an RCU grace period
    assert not prog_exists(prog_id)


def prog_exists(prog_id: int) -> bool:
    out = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)],
                         capture_output=True, text=True)
    return out.returncode == 0


# ---- perf events ---------------------------------------------------------------------------

def test_profile_timer_fires_on_every_online_cpu(target):
    hits = target.map_create(bpf.MAP_PERCPU_ARRAY, 4, 8, 1, name="hits")
    prog, _ = target.prog_load(bpf.PROG_PERF_EVENT, bpfprogs.count_in_array(hits), name="prof")
    handle = target.attach_perf_event(prog, perf.TYPE_SOFTWARE, perf.SW_CPU_CLOCK,
                                      sample_freq=199, cpu=-1)
    # One perf event per online CPU, linked: cpu-clock ticks even on idle CPUs.
    assert len(target._attachments[handle]) == 2 * len(target.online_cpus())
    # Keep every CPU busy: idle virtual CPUs deliver far fewer timer ticks.
    spinners = [subprocess.Popen([sys.executable, "-c", "import time\n"
                                  "t = time.monotonic() + 0.3\nwhile time.monotonic() < t: pass"])
                for _ in target.online_cpus()]
    for s in spinners:
        s.wait()
    target.detach(handle)
    per_cpu = struct.unpack(f"<{target.num_possible_cpus()}Q", target.map_lookup(hits, b"\0" * 4, 8))
    for cpu in target.online_cpus():
        assert 10 <= per_cpu[cpu] <= 200, per_cpu   # ~60 expected at 199 Hz over 0.3 s


def test_interval_event_on_one_cpu_counts_only_there(target):
    hits = target.map_create(bpf.MAP_PERCPU_ARRAY, 4, 8, 1, name="hits")
    prog, _ = target.prog_load(bpf.PROG_PERF_EVENT, bpfprogs.count_in_array(hits), name="intv")
    # cpu-clock period is in nanoseconds: every 10 ms on CPU 0 only.
    handle = target.attach_perf_event(prog, perf.TYPE_SOFTWARE, perf.SW_CPU_CLOCK,
                                      sample_period=10_000_000, cpu=0)
    time.sleep(0.25)
    target.detach(handle)
    per_cpu = struct.unpack(f"<{target.num_possible_cpus()}Q", target.map_lookup(hits, b"\0" * 4, 8))
    assert 10 <= per_cpu[0] <= 40 and sum(per_cpu[1:]) == 0, per_cpu


def test_page_fault_software_event_of_a_child(target):
    hits = target.map_create(bpf.MAP_ARRAY, 4, 8, 1, name="hits")
    prog, _ = target.prog_load(bpf.PROG_PERF_EVENT, bpfprogs.count_in_array(hits), name="pf")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # wait for the go, then touch 200 fresh pages
        os.close(w)
        os.read(r, 1)
        import mmap
        m = mmap.mmap(-1, 200 * mmap.PAGESIZE)
        for page in range(200):
            m[page * mmap.PAGESIZE] = 1
        os._exit(0)
    os.close(r)
    target.attach_perf_event(prog, perf.TYPE_SOFTWARE, perf.SW_PAGE_FAULTS,
                             sample_period=1, pid=pid, cpu=-1)
    os.write(w, b"x")
    os.close(w)
    os.waitpid(pid, 0)
    faults = struct.unpack("<Q", target.map_lookup(hits, b"\0" * 4, 8))[0]
    assert 200 <= faults < 2000


def test_hardware_event_without_a_pmu_says_so(target):
    prog, _ = target.prog_load(bpf.PROG_PERF_EVENT, bpfprogs.count_in_array(
        target.map_create(bpf.MAP_ARRAY, 4, 8, 1)), name="hw")
    try:
        handle = target.attach_perf_event(prog, perf.TYPE_HARDWARE, 0, sample_period=100000)
    except AttachError as e:
        assert str(e) == ("cannot open hardware event 0: this machine has no hardware "
                          "performance counters (no PMU)")
    else:
        target.detach(handle)
        pytest.skip("this machine has a hardware PMU")


WATCH_C = textwrap.dedent("""\
    #include <unistd.h>
    volatile long watched;
    int main(void) {
        char c;
        if (write(1, "r", 1) != 1 || read(0, &c, 1) != 1) return 1;
        for (long i = 0; i < 25; i++) watched = i;
        return 0;
    }
    """)


def test_watchpoint_counts_writes_to_a_variable(target, tmp_path):
    exe = build_c(WATCH_C, tmp_path, "watch", flags=("-O1", "-no-pie"))
    with open(exe, "rb") as f:
        (sym,) = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name("watched")
        addr = sym["st_value"]
    by_value = target.map_create(bpf.MAP_HASH, 8, 8, 64, name="by_value")
    prog, _ = target.prog_load(bpf.PROG_PERF_EVENT,
                               bpfprogs.count_by_user_value(by_value, addr), name="wp")
    child = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    # Popen returns once the child has left vfork, which is before the kernel
    # has finished loading it: its zeroing of .bss would count as writes too.
    assert child.stdout.read(1) == b"r"
    try:
        target.attach_watchpoint(prog, addr, 8, "w", pid=child.pid)
    except AttachError as e:
        child.kill()
        child.wait()
        pytest.skip(f"no hardware breakpoints here: {e}")
    child.communicate(b"g")
    seen = {struct.unpack("<q", k)[0]: struct.unpack("<Q", v)[0]
            for k, v in target.map_lookup_batch(by_value, 8, 8, 64)}
    assert seen == {i: 1 for i in range(25)}


def test_close_all_detaches_everything_and_can_run_twice():
    target = LocalTarget()
    counts, prog = counting_program(target, bpf.PROG_TRACEPOINT)
    target.attach_tracepoint(prog, "syscalls", "sys_enter_getppid")
    prog_id = target.prog_info(prog)["id"]
    target.close_all()
    target.close_all()
    with pytest.raises(OSError):
        os.fstat(prog)   # the fd is gone (nothing else reused it in between)
    deadline = time.monotonic() + 5
    while prog_exists(prog_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not prog_exists(prog_id)


def test_detach_of_an_unknown_handle_is_an_error(target):
    with pytest.raises(AttachError, match="no attachment with handle 12345"):
        target.detach(12345)
