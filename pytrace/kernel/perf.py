"""perf_event_open(2) and attaching BPF programs to what it opens.

Owns `struct perf_event_attr` (packed at uapi offsets), opening tracepoint,
kprobe/uprobe (through their dynamic PMUs in /sys/bus/event_source, so the
probe lives exactly as long as its fd), software, hardware, timer and
breakpoint events, and linking a program to an event: a BPF perf-event link
where the kernel has one (5.15+), PERF_EVENT_IOC_SET_BPF otherwise. Raw
tracepoints, tracing programs and uprobe_multi (many uprobes of one binary,
no perf event) get their own bpf(2) links here too.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct

from pytrace.kernel import bpf
from pytrace.kernel.errors import (CAP_PERFMON, ENOTSUPP, AttachError, errno_text,
                                   kprobes_unavailable, permission_error, unknown_tracepoint)

SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine, 298)

TYPE_HARDWARE, TYPE_SOFTWARE, TYPE_TRACEPOINT, TYPE_BREAKPOINT = 0, 1, 2, 5
SW_CPU_CLOCK, SW_TASK_CLOCK, SW_PAGE_FAULTS = 0, 1, 2

ATTR_SIZE = 136         # PERF_ATTR_SIZE_VER8
FLAG_DISABLED = 1 << 0
FLAG_FREQ = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3

IOC_ENABLE = 0x2400
IOC_SET_BPF = 0x40042408   # _IOW('$', 8, __u32)

BREAKPOINT_MODES = {"r": 1, "w": 2, "rw": 3, "x": 4}

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
EVENT_SOURCES = "/sys/bus/event_source/devices"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def tracefs_root() -> str:
    for root in TRACEFS_ROOTS:
        if os.path.isdir(os.path.join(root, "events")):
            return root
    return TRACEFS_ROOTS[0]


def mount_tracefs_if_missing() -> bool:
    """Mount tracefs on /sys/kernel/tracing when no tracefs is visible (as root).

    Tracepoint ids and formats live there; some minimal systems boot without it
    mounted. Returns True when tracefs is available afterwards.
    """
    if any(os.path.isdir(os.path.join(root, "events")) for root in TRACEFS_ROOTS):
        return True
    if os.geteuid() != 0 or not os.path.isdir(TRACEFS_ROOTS[0]):
        return False
    # mount(source, target, fstype, unsigned long flags, data)
    _libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    _libc.mount(b"nodev", TRACEFS_ROOTS[0].encode(), b"tracefs", 0, None)
    return os.path.isdir(os.path.join(TRACEFS_ROOTS[0], "events"))


def perf_event_open(attr, pid: int, cpu: int, group_fd: int = -1) -> int:
    ret = _libc.syscall(SYS_PERF_EVENT_OPEN, ctypes.byref(attr), ctypes.c_int(pid),
                        ctypes.c_int(cpu), ctypes.c_int(group_fd),
                        ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def make_attr(ev_type: int, config: int, *, sample_period: int = 0, sample_freq: int = 0,
              config1: int = 0, config2: int = 0, bp_type: int = 0, flags: int = FLAG_DISABLED):
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    if sample_freq:
        flags |= FLAG_FREQ
    struct.pack_into("IIQQ", attr, 0, ev_type, ATTR_SIZE, config, sample_freq or sample_period)
    struct.pack_into("Q", attr, 40, flags)
    # wakeup_events=1: with sampling events a BPF program runs per sample anyway.
    struct.pack_into("IIQQ", attr, 48, 1, bp_type, config1, config2)
    return attr


def _open(action: str, attr, pid: int, cpu: int) -> int:
    try:
        return perf_event_open(attr, pid, cpu)
    except OSError as e:
        raise _attach_error(action, e.errno) from None


def _attach_error(action: str, err: int) -> Exception:
    if err in (errno.EPERM, errno.EACCES):
        return permission_error(action, (CAP_PERFMON,), err)
    return AttachError(f"{action}: {errno_text(err)}", err)


# ---- dynamic PMUs ---------------------------------------------------------------------

def pmu_type(name: str) -> int | None:
    try:
        with open(f"{EVENT_SOURCES}/{name}/type") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def pmu_format_bit(pmu: str, field: str) -> tuple[int, int] | None:
    """(first bit, width) of a config field, from e.g. `config:32-63`."""
    try:
        with open(f"{EVENT_SOURCES}/{pmu}/format/{field}") as f:
            spec = f.read().strip()
    except OSError:
        return None
    return parse_format_bits(spec)


def parse_format_bits(spec: str) -> tuple[int, int] | None:
    where, _, bits = spec.partition(":")
    if where != "config" or not bits:
        return None
    lo, _, hi = bits.partition("-")
    return int(lo), int(hi or lo) - int(lo) + 1


def _probe_attr(pmu: str, target: str, offset: int, retprobe: bool,
                ref_ctr_offset: int = 0):
    ptype = pmu_type(pmu)
    if ptype is None:
        return None, None
    config = 0
    if retprobe:
        bit = pmu_format_bit(pmu, "retprobe")
        if bit is None:
            raise AttachError(f"this kernel's {pmu} PMU cannot make return probes",
                              errno.EOPNOTSUPP)
        config |= 1 << bit[0]
    if ref_ctr_offset:
        field = pmu_format_bit(pmu, "ref_ctr_offset")
        if field is None:
            raise AttachError("this kernel cannot maintain USDT semaphores "
                              "(uprobe ref_ctr_offset unsupported)", errno.EOPNOTSUPP)
        config |= (ref_ctr_offset & ((1 << field[1]) - 1)) << field[0]
    name = ctypes.create_string_buffer(target.encode())
    # config1 points at the name: keep the buffer alive until perf_event_open returns.
    attr = make_attr(ptype, config, sample_period=1, config1=ctypes.addressof(name),
                     config2=offset)
    return attr, name


# ---- opening events ---------------------------------------------------------------------

def tracepoint_id(category: str, event: str) -> int:
    root = tracefs_root()
    try:
        with open(f"{root}/events/{category}/{event}/id") as f:
            return int(f.read())
    except FileNotFoundError:
        raise _tracepoint_not_found(root, category, event) from None
    except PermissionError as e:
        raise _attach_error(f"cannot read tracepoint {category}:{event}", e.errno) from None


def _tracepoint_not_found(root: str, category: str, event: str) -> AttachError:
    events_dir = f"{root}/events"
    if not os.path.isdir(events_dir):
        return AttachError(f"tracepoint {category}:{event}: tracefs is not mounted "
                           f"(mount -t tracefs nodev /sys/kernel/tracing)", errno.ENOENT)
    in_category = None
    if os.path.isdir(f"{events_dir}/{category}"):
        in_category = [e for e in os.listdir(f"{events_dir}/{category}")
                       if os.path.isdir(f"{events_dir}/{category}/{e}")]
    every = []
    for cat in os.listdir(events_dir):
        if os.path.isdir(f"{events_dir}/{cat}"):
            every.extend(f"{cat}:{e}" for e in os.listdir(f"{events_dir}/{cat}")
                         if os.path.isdir(f"{events_dir}/{cat}/{e}"))
    return unknown_tracepoint(category, event, in_category, every)


def open_tracepoint(category: str, event: str) -> int:
    attr = make_attr(TYPE_TRACEPOINT, tracepoint_id(category, event), sample_period=1)
    # A BPF program on a tracepoint runs on every CPU whatever cpu the event names.
    return _open(f"cannot attach to tracepoint {category}:{event}", attr, -1, 0)


def kprobes_available() -> bool:
    root = tracefs_root()
    return pmu_type("kprobe") is not None or os.path.exists(f"{root}/kprobe_events")


def open_kprobe(func: str, offset: int = 0, retprobe: bool = False) -> int:
    kind = "kretprobe" if retprobe else "kprobe"
    attr, keep = _probe_attr("kprobe", func, offset, retprobe)
    if attr is None:
        if not kprobes_available():
            raise kprobes_unavailable(func)
        # Only the legacy kprobe_events file exists: probes made there outlive
        # the process, which pytrace refuses to do.
        raise AttachError(f"cannot attach {kind} to {func}: this kernel has no kprobe PMU "
                          f"(needs Linux 4.17+)", errno.EOPNOTSUPP)
    try:
        return perf_event_open(attr, -1, 0)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EINVAL):
            raise AttachError(f"cannot attach {kind} to {func}: no such kernel function "
                              f"or it cannot be probed", e.errno) from None
        raise _attach_error(f"cannot attach {kind} to {func}", e.errno) from None
    finally:
        del keep


def open_uprobe(path: str, offset: int, retprobe: bool = False, pid: int = -1,
                ref_ctr_offset: int = 0) -> int:
    kind = "uretprobe" if retprobe else "uprobe"
    where = f"{path}:{offset:#x}"
    attr, keep = _probe_attr("uprobe", path, offset, retprobe, ref_ctr_offset)
    if attr is None:
        raise AttachError(f"cannot attach {kind} to {where}: this kernel has no uprobe PMU "
                          f"(CONFIG_UPROBE_EVENTS is not enabled)", errno.EOPNOTSUPP)
    # A uprobe needs a pid or a cpu; pid -1 means every process, cpu 0 is a formality.
    cpu = 0 if pid == -1 else -1
    try:
        return perf_event_open(attr, pid, cpu)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise AttachError(f"cannot attach {kind}: no such file {path}", e.errno) from None
        raise _attach_error(f"cannot attach {kind} to {where}", e.errno) from None
    finally:
        del keep


def attach_uprobe_multi(prog_fd: int, path: str, offsets: list[int], retprobe: bool = False,
                        pid: int = -1, ref_ctr_offsets: list[int] | None = None,
                        cookies: list[int] | None = None) -> int:
    """One uprobe_multi link putting prog_fd on every offset of `path`; returns the
    link fd. Closing it removes every one of those uprobes at once (one RCU wait
    for them all, where per-function perf events wait once each)."""
    kind = "uretprobe" if retprobe else "uprobe"
    try:
        return bpf.link_create_uprobe_multi(prog_fd, path, list(offsets),
                                            ref_ctr_offsets=ref_ctr_offsets, cookies=cookies,
                                            retprobe=retprobe, pid=max(pid, 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise AttachError(f"cannot attach {kind}: no such file {path}", e.errno) from None
        if e.errno == errno.ESRCH:
            raise AttachError(f"cannot attach {kind} to {path}: no process {pid}",
                              e.errno) from None
        where = f"{path}:{offsets[0]:#x}" if len(offsets) == 1 else \
            f"{len(offsets)} functions of {path}"
        raise _attach_error(f"cannot attach {kind} to {where}", e.errno) from None


def open_event(ev_type: int, config: int, *, sample_period: int = 0, sample_freq: int = 0,
               pid: int = -1, cpu: int = 0) -> int:
    """Software, hardware or timer event; sample_freq wins over sample_period."""
    what = {TYPE_HARDWARE: "hardware", TYPE_SOFTWARE: "software"}.get(ev_type, "perf")
    attr = make_attr(ev_type, config, sample_period=0 if sample_freq else (sample_period or 1),
                     sample_freq=sample_freq)
    try:
        return perf_event_open(attr, pid, cpu)
    except OSError as e:
        if ev_type == TYPE_HARDWARE and e.errno in (errno.ENOENT, errno.EOPNOTSUPP, ENOTSUPP):
            raise AttachError(f"cannot open hardware event {config}: this machine has no "
                              f"hardware performance counters (no PMU)", e.errno) from None
        raise _attach_error(f"cannot open {what} event {config} on cpu {cpu}",
                            e.errno) from None


def open_breakpoint(addr: int, length: int, mode: str, pid: int = -1, cpu: int = 0) -> int:
    if mode not in BREAKPOINT_MODES:
        raise AttachError(f"watchpoint mode must be one of {', '.join(BREAKPOINT_MODES)}",
                          errno.EINVAL)
    attr = make_attr(TYPE_BREAKPOINT, 0, sample_period=1, bp_type=BREAKPOINT_MODES[mode],
                     config1=addr, config2=length)
    if pid != -1:
        cpu = -1
    try:
        return perf_event_open(attr, pid, cpu)
    except OSError as e:
        raise _attach_error(f"cannot set watchpoint on {addr:#x} ({length} bytes)",
                            e.errno) from None


# ---- linking programs to events ---------------------------------------------------------

def attach_to_event(prog_fd: int, perf_fd: int, what: str = "event",
                    cookie: int = 0) -> int | None:
    """Run prog_fd on perf_fd's samples and enable it; returns the link fd, or
    None when the ioctl fallback was used (then the perf fd owns the attachment).
    A cookie needs the link: the ioctl cannot carry one."""
    link = None
    try:
        link = bpf.link_create(prog_fd, perf_fd, bpf.ATTACH_PERF_EVENT, cookie)
    except OSError as e:
        if cookie or e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP, errno.E2BIG):
            raise _attach_error(f"cannot attach program to {what}", e.errno) from None
        try:
            fcntl.ioctl(perf_fd, IOC_SET_BPF, prog_fd)
        except OSError as e2:
            raise _attach_error(f"cannot attach program to {what}", e2.errno) from None
    try:
        fcntl.ioctl(perf_fd, IOC_ENABLE, 0)
    except OSError as e:
        if link is not None:
            os.close(link)
        raise _attach_error(f"cannot enable {what}", e.errno) from None
    return link


def attach_raw_tracepoint(prog_fd: int, name: str) -> int:
    try:
        return bpf.raw_tracepoint_open(prog_fd, name)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise AttachError(f"raw tracepoint not found: {name}", e.errno) from None
        raise _attach_error(f"cannot attach raw tracepoint {name}", e.errno) from None


def attach_tracing(prog_fd: int, attach_type: int | None = None) -> int:
    """fentry/fexit/tp_btf: a tracing link, or raw_tracepoint_open(NULL) before 5.x links."""
    if attach_type is not None:
        try:
            return bpf.link_create(prog_fd, 0, attach_type)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP):
                raise _attach_error("cannot attach tracing program", e.errno) from None
    try:
        return bpf.raw_tracepoint_open(prog_fd, None)
    except OSError as e:
        raise _attach_error("cannot attach tracing program", e.errno) from None
