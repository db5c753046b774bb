"""`pytrace --info`: what a target's kernel offers pytrace, asked through the Target.

Like `bpftrace --info`: the system and the build, then which BPF helpers, kernel
features, map types, program types and probe types the kernel has. Every answer is one small
action through the Target (a two-instruction program loaded and closed, a
one-entry map created and closed, a file looked at), so the whole report costs
milliseconds, plus one read of the kernel's BTF to try a kfunc program.
"""

from __future__ import annotations

import platform
import sys

from pytrace import __version__
from pytrace.diagnostics import PytraceError
from pytrace.kernel import bpf, btf
from pytrace.kernel.errors import KernelError, ProgLoadError
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
    """Every section of the report, as (title, [(name, value)]) with yes/no as bools."""
    prog = _ProgramProbe(target)
    devices = _list(target, EVENT_SOURCES)
    kprobe_progs = prog.loads(bpf.PROG_KPROBE)
    tracepoint_progs = prog.loads(bpf.PROG_TRACEPOINT)
    perf_progs = prog.loads(bpf.PROG_PERF_EVENT)
    raw_tracepoint_progs = prog.loads(bpf.PROG_RAW_TRACEPOINT)
    fentry_progs = prog.loads_fentry()
    return [
        ("System", [("OS", _os_line(target)), ("Arch", _read(target, "/proc/sys/kernel/arch"))]),
        ("Build", _build_rows()),
        ("Kernel helpers", [(name, prog.has_helper(number)) for name, number in HELPERS]),
        ("Kernel features", [
            ("Instruction limit", 1000000 if prog.loads(bpf.PROG_KPROBE, LONG_PROGRAM)
             else 4096),
            ("Loop support", prog.loads(bpf.PROG_KPROBE, BOUNDED_LOOP)),
            ("btf", target.path_exists(BTF_VMLINUX)),
            ("map batch", target.supports("map_batch")),
            ("uprobe refcount (USDT semaphores)",
             target.path_exists(f"{EVENT_SOURCES}/uprobe/format/ref_ctr_offset")),
            ("uprobe_multi links", target.supports("uprobe_multi")),
            ("perf event cookies", target.supports("perf_cookie")),
        ]),
        ("Map types", [(name, _map_creates(target, *spec)) for name, *spec in MAP_TYPES]),
        ("Program types", [
            ("kprobe", kprobe_progs), ("tracepoint", tracepoint_progs),
            ("perf_event", perf_progs), ("raw_tracepoint", raw_tracepoint_progs),
            ("tracing (fentry)", fentry_progs),
        ]),
        # A probe type needs its program type and the means to attach it.
        ("Probe types", [
            ("kprobe", kprobe_progs and "kprobe" in devices),
            ("uprobe", kprobe_progs and "uprobe" in devices),
            ("tracepoint", tracepoint_progs and _tracefs_readable(target)),
            ("rawtracepoint", raw_tracepoint_progs),
            ("kfunc", fentry_progs),
            ("perf_event (profile, interval, software)", perf_progs),
            ("hardware", perf_progs and any(_is_cpu_pmu(d) for d in devices)),
            ("watchpoint", perf_progs and "breakpoint" in devices),
        ]),
    ]


class _ProgramProbe:
    """Tiny programs loaded through the target and closed at once."""

    def __init__(self, target):
        self.target = target

    def loads(self, prog_type: int, insns: bytes = RETURN_ZERO, **kwargs) -> bool:
        try:
            fd, _ = self.target.prog_load(prog_type, insns, name="info_probe", **kwargs)
        except KernelError:
            return False
        self.target.close(fd)
        return True

    def has_helper(self, number: int) -> bool:
        """Whether the verifier knows helper `number` in kprobe programs. The call
        has no arguments set up, so a known helper is usually refused too, but
        for its arguments, not as an unknown function."""
        call = bytes([0x85, 0, 0, 0]) + number.to_bytes(4, "little")
        try:
            fd, _ = self.target.prog_load(bpf.PROG_KPROBE, call + RETURN_ZERO,
                                          name="helper_probe")
        except ProgLoadError as e:
            return bool(e.log) and not any(w in e.log for w in ("unknown func", "invalid func"))
        except KernelError:
            return False
        self.target.close(fd)
        return True

    def loads_fentry(self) -> bool:
        """A kfunc (fentry) program on a function every kernel has."""
        try:
            ids = btf.load_vmlinux(self.target).find_ids("vfs_read", "FUNC")
        except (OSError, btf.BTFError):
            return False
        return bool(ids) and self.loads(bpf.PROG_TRACING, attach_btf_id=ids[0],
                                        expected_attach_type=bpf.ATTACH_TRACE_FENTRY)


def _map_creates(target, map_type: int, key_size: int, value_size: int,
                 entries: int) -> bool:
    try:
        fd = target.map_create(map_type, key_size, value_size, entries, name="info_probe")
    except KernelError:
        return False
    target.close(fd)
    return True


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
    kind = _read(target, "/proc/sys/kernel/ostype")
    return " ".join(p for p in (kind, _read(target, "/proc/sys/kernel/osrelease"),
                                _read(target, "/proc/sys/kernel/version")) if p)


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
