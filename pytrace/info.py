"""`pytrace --info`: what a target's kernel offers pytrace, asked through the Target.

Like `bpftrace --info`: the system and the build, then which BPF helpers, kernel
features, map types, program types and probe types the kernel has. Every answer is one small
action through the Target (a two-instruction program loaded and closed, a
one-entry map created and closed, a file looked at), all the loads asked in one
Target.probe_loads, so the whole report costs milliseconds (a few round trips
to a remote target), plus one read of the kernel's BTF to try a kfunc program.
"""

from __future__ import annotations

import platform
import sys

from pytrace import __version__
from pytrace.diagnostics import PytraceError
from pytrace.kernel import bpf, btf
from pytrace.kernel.errors import KernelError
from pytrace.kernel.tracefs import TracefsError, tracefs_root

RETURN_ZERO = bytes.fromhex("b700000000000000" "9500000000000000")   # r0 = 0; exit
# r0 = 0; loop: r0 += 1; if r0 < 4 goto loop; exit (a back edge: bounded loops, 5.3+)
BOUNDED_LOOP = bytes.fromhex("b700000000000000" "0700000001000000"
                             "a500feff04000000" "9500000000000000")
# Past the old 4096-instruction limit (1M since Linux 5.2).
LONG_PROGRAM = bytes.fromhex("b700000000000000") * 4096 + bytes.fromhex("9500000000000000")

# The helpers pytrace's generated code calls, by bpftrace's names where it has one.
HELPERS = (
    ("probe_read", 4), ("probe_read_str", 45),
    ("probe_read_user", 112), ("probe_read_user_str", 114),
    ("probe_read_kernel", 113), ("probe_read_kernel_str", 115),
    ("get_current_cgroup_id", 80), ("send_signal", 109), ("override_return", 58),
    ("get_stackid", 27), ("get_func_ip", 173), ("get_attach_cookie", 174),
    ("ringbuf_reserve", 131), ("ringbuf_query", 134), ("for_each_map_elem", 164),
)

# name, map type, key size, value size, entries
MAP_TYPES = (
    ("hash", bpf.MAP_HASH, 8, 8, 1),
    ("percpu hash", bpf.MAP_PERCPU_HASH, 8, 8, 1),
    ("lru hash", bpf.MAP_LRU_HASH, 8, 8, 1),
    ("array", bpf.MAP_ARRAY, 4, 8, 1),
    ("percpu array", bpf.MAP_PERCPU_ARRAY, 4, 8, 1),
    ("stack_trace", bpf.MAP_STACK_TRACE, 4, 8 * 127, 1),
    # A power of two and a multiple of every page size Linux uses.
    ("ringbuf", bpf.MAP_RINGBUF, 0, 0, 1 << 16),
)

EVENT_SOURCES = "/sys/bus/event_source/devices"
BTF_VMLINUX = "/sys/kernel/btf/vmlinux"
REF_CTR_FORMAT = f"{EVENT_SOURCES}/uprobe/format/ref_ctr_offset"
OS_FILES = ("/proc/sys/kernel/ostype", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/version")
ARCH_FILE = "/proc/sys/kernel/arch"


def print_info(target_name: str = "local") -> int:
    """The CLI's --info: the report on stdout, the exit status."""
    from pytrace.target.choose import open_target
    target = open_target(target_name)
    try:
        target.check_privileges()
        sys.stdout.write(render(report(target)))
    finally:
        target.close_all()
    return 0


def render(sections: list[tuple[str, list[tuple[str, object]]]]) -> str:
    out = []
    for title, rows in sections:
        out.append(title)
        for name, value in rows:
            shown = ("yes" if value else "no") if isinstance(value, bool) else value
            out.append(f"  {name}: {shown}")
        out.append("")
    return "\n".join(out)


def report(target) -> list[tuple[str, list[tuple[str, object]]]]:
    """Every section of the report, as (title, [(name, value)]) with yes/no as bools.
    Every map and program it tries goes to the target in one probe_loads (one
    round trip to a remote target); the files it reads in one prefetch."""
    target.prefetch([*OS_FILES, ARCH_FILE, REF_CTR_FORMAT])
    devices = _list(target, EVENT_SOURCES)
    probes = _Probes(target)
    kprobe_progs = probes.prog(bpf.PROG_KPROBE)
    tracepoint_progs = probes.prog(bpf.PROG_TRACEPOINT)
    perf_progs = probes.prog(bpf.PROG_PERF_EVENT)
    raw_tracepoint_progs = probes.prog(bpf.PROG_RAW_TRACEPOINT)
    fentry_progs = probes.fentry()
    long_programs = probes.prog(bpf.PROG_KPROBE, LONG_PROGRAM)
    loops = probes.prog(bpf.PROG_KPROBE, BOUNDED_LOOP)
    helpers = [(name, probes.helper(number)) for name, number in HELPERS]
    maps = [(name, probes.map(*spec)) for name, *spec in MAP_TYPES]
    probes.run()
    return [
        ("System", [("OS", _os_line(target)), ("Arch", _read(target, ARCH_FILE))]),
        ("Build", _build_rows()),
        ("Kernel helpers", [(name, answer()) for name, answer in helpers]),
        ("Kernel features", [
            ("Instruction limit", 1000000 if long_programs() else 4096),
            ("Loop support", loops()),
            ("btf", target.path_exists(BTF_VMLINUX)),
            ("map batch", target.supports("map_batch")),
            ("uprobe refcount (USDT semaphores)", target.path_exists(REF_CTR_FORMAT)),
            ("uprobe_multi links", target.supports("uprobe_multi")),
            ("perf event cookies", target.supports("perf_cookie")),
        ]),
        ("Map types", [(name, answer()) for name, answer in maps]),
        ("Program types", [
            ("kprobe", kprobe_progs()), ("tracepoint", tracepoint_progs()),
            ("perf_event", perf_progs()), ("raw_tracepoint", raw_tracepoint_progs()),
            ("tracing (fentry)", fentry_progs()),
        ]),
        # A probe type needs its program type and the means to attach it.
        ("Probe types", [
            ("kprobe", kprobe_progs() and "kprobe" in devices),
            ("uprobe", kprobe_progs() and "uprobe" in devices),
            ("tracepoint", tracepoint_progs() and _tracefs_readable(target)),
            ("rawtracepoint", raw_tracepoint_progs()),
            ("kfunc", fentry_progs()),
            ("perf_event (profile, interval, software)", perf_progs()),
            ("hardware", perf_progs() and any(_is_cpu_pmu(d) for d in devices)),
            ("watchpoint", perf_progs() and "breakpoint" in devices),
        ]),
    ]


class _Probes:
    """Tiny programs and maps to try, collected and then tried at once
    (Target.probe_loads); each method returns the function giving its answer."""

    def __init__(self, target):
        self.target = target
        self.requests: list[dict] = []
        self.results: list[list] = []

    def _add(self, request: dict, judge):
        index = len(self.requests)
        self.requests.append(request)
        return lambda: judge(*self.results[index])

    def prog(self, prog_type: int, insns: bytes = RETURN_ZERO, **kwargs):
        return self._add({"prog": [prog_type, insns], **kwargs}, lambda ok, log: ok)

    def helper(self, number: int):
        """Whether the verifier knows helper `number` in kprobe programs. The call
        has no arguments set up, so a known helper is usually refused too, but
        for its arguments, not as an unknown function."""
        call = bytes([0x85, 0, 0, 0]) + number.to_bytes(4, "little")

        def judge(ok, log):
            return ok or (bool(log) and not any(w in log for w in ("unknown func",
                                                                   "invalid func")))
        return self._add({"prog": [bpf.PROG_KPROBE, call + RETURN_ZERO]}, judge)

    def map(self, map_type: int, key_size: int, value_size: int, entries: int):
        return self._add({"map": [map_type, key_size, value_size, entries]},
                         lambda ok, log: ok)

    def fentry(self):
        """A kfunc (fentry) program on a function every kernel has."""
        try:
            ids = btf.load_vmlinux(self.target).find_ids("vfs_read", "FUNC")
        except (OSError, btf.BTFError):
            ids = []
        if not ids:
            return lambda: False
        return self.prog(bpf.PROG_TRACING, attach_btf_id=ids[0],
                         expected_attach_type=bpf.ATTACH_TRACE_FENTRY)

    def run(self) -> None:
        self.results = self.target.probe_loads(self.requests)


def _tracefs_readable(target) -> bool:
    try:
        tracefs_root(target)
    except (TracefsError, KernelError):
        return False
    return True


def _is_cpu_pmu(device: str) -> bool:
    # x86 "cpu" (hybrid: cpu_core, cpu_atom), arm64 "armv8_pmuv3_0"...
    return device == "cpu" or device.startswith(("cpu_", "armv"))


def _os_line(target) -> str:
    return " ".join(p for p in (_read(target, path) for path in OS_FILES) if p)


def _build_rows() -> list[tuple[str, object]]:
    # Loading libllvmlite costs ~50 ms: only once the privileges are known good.
    import llvmlite
    import llvmlite.binding
    llvm = ".".join(str(n) for n in llvmlite.binding.llvm_version_info)
    return [("version", f"v{__version__}"), ("LLVM", f"{llvm} (llvmlite {llvmlite.__version__})"),
            ("Python", platform.python_version())]


def _read(target, path: str) -> str:
    try:
        return target.read_file(path).decode(errors="replace").strip()
    except OSError:
        return ""


def _list(target, path: str) -> list[str]:
    try:
        return target.list_dir(path)
    except OSError:
        return []
