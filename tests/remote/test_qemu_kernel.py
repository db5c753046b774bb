"""Tracing a kernel that is not the host's: Debian's 6.1 booted under qemu
(tests/helpers/qemu_vm.py), reached with `--target ssh://pytrace-vm`.

The host runs 6.18 without kprobes or kfuncs; the guest has both,
tracepoints the host lacks, raw tracepoints whose BTF arguments differ from
the host's, and a task_struct laid out differently.
So each test here passes only if pytrace compiled against the guest's facts
(its BTF, tracepoint formats, function list) and ran the programs there.
The expected values come from what the programs do (a workload making a known
number of calls) or from the guest's own files read over ssh."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cbuild import build_c
from tests.remote.helpers import pytrace

E2E = Path(__file__).resolve().parents[1] / "e2e"
# Named wl like the host's, so recorded outputs (comm, paths) match with {wl} replaced.
GUEST_WL = "/tmp/pytrace-guest/wl"
# finit_module(12345, "pytrace=1", 0): fails (bad fd) after its tracepoint fired.
FINIT_SCRIPT = "/tmp/pytrace-finit.py"
FINIT_SOURCE = "import ctypes\nctypes.CDLL(None).syscall(313, 12345, b'pytrace=1', 0)\n"


def guest(vm, command: str, stdin: bytes = b"") -> str:
    """Run a shell command in the guest over ssh; its stdout."""
    done = subprocess.run(vm.ssh.ssh_command(command), input=stdin, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, f"{command!r} in the guest: {done.stderr.decode()}"
    return done.stdout.decode()


@pytest.fixture(scope="module")
def vm(qemu_guest, tmp_path_factory):
    """The guest, with the static workload and the finit_module script in its /tmp."""
    wl = build_c((E2E / "workload.c").read_text(), tmp_path_factory.mktemp("wl"), "wl",
                 flags=("-O1", "-static"))
    guest(qemu_guest, f"mkdir -p /tmp/pytrace-guest && cat > {GUEST_WL} && chmod +x {GUEST_WL}",
          stdin=wl.read_bytes())
    guest(qemu_guest, f"cat > {FINIT_SCRIPT}", stdin=FINIT_SOURCE.encode())
    return qemu_guest


def trace(vm, *argv: str) -> str:
    done = pytrace(["--target", vm.ssh.target, *argv], env=vm.ssh.environ(), timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


CASES = {case["name"]: case for path in sorted(E2E.glob("oneliners*.json"))
         for case in json.loads(path.read_text())}
# Not interval_ms: under emulation a tick can land before exit() takes effect.
# tp_count_comm: 6.1's bpf_get_current_comm leaves the bytes after the NUL as
# they were, so comm as a key is equal only if pytrace zeroes it first.
ON_THE_GUEST = ["printf_width", "hist_small", "count_order", "json_output", "tp_count_comm",
                "tp_openat_filename", "tp_write_hist", "tp_data_loc"]


@pytest.mark.parametrize("name", ON_THE_GUEST)
def test_recorded_oneliner_prints_the_same_on_the_6_1_guest(vm, name):
    """Recorded on the host's 6.18; the same bytes must come from 6.1."""
    case = CASES[name]
    out = trace(vm, *[a.replace("{wl}", GUEST_WL) for a in case["argv"]])
    assert out == case["stdout"].replace("{wl}", GUEST_WL)


def test_kprobe_and_kretprobe_count_exactly_on_the_guest(vm):
    out = trace(vm, "-e", "kprobe:__x64_sys_getppid /pid == cpid/ { @calls = count(); } "
                          "kretprobe:__x64_sys_getppid /pid == cpid/ { @returns = count(); }",
                "-c", f"{GUEST_WL} getppid 7")
    assert out == "Attaching 2 probes...\n\n\n@calls: 7\n@returns: 7\n"


def test_kprobe_arguments_and_kretprobe_return_values(vm):
    # Each open gets fd 3 (the workload closes it again) and names the same file.
    out = trace(vm, "-e", "kprobe:do_sys_openat2 /pid == cpid/ { @path[str(arg1)] = count(); } "
                          "kretprobe:do_sys_openat2 /pid == cpid/ { @fd[retval] = count(); }",
                "-c", f"{GUEST_WL} open /etc/hostname 4")
    assert out == "Attaching 2 probes...\n\n\n@fd[3]: 4\n@path[/etc/hostname]: 4\n"


def test_kfunc_and_kretfunc_run_on_the_guest(vm):
    # The host refuses tracing programs (EPERM); 6.1 takes them, typed from its BTF.
    out = trace(vm, "-e", "kfunc:do_sys_openat2 /pid == cpid/ { @path[str(args.filename)] = count(); } "
                          "kretfunc:do_sys_openat2 /pid == cpid/ { @fd[retval] = count(); }",
                "-c", f"{GUEST_WL} open /etc/hostname 5")
    assert out == "Attaching 2 probes...\n\n\n@fd[3]: 5\n@path[/etc/hostname]: 5\n"


def btf_struct_layout(bpftool_raw: str, struct: str, member: str) -> tuple[int, int]:
    """(size of struct, byte offset of member) from `bpftool btf dump ... format raw`."""
    lines = bpftool_raw.splitlines()
    start = next(i for i, ln in enumerate(lines) if f"STRUCT '{struct}' size=" in ln)
    size = int(re.search(r"size=(\d+)", lines[start]).group(1))
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        found = re.match(rf"\t'{member}' type_id=\d+ bits_offset=(\d+)", line)
        if found:
            return size, int(found.group(1)) // 8
    raise AssertionError(f"no member {member} in struct {struct}")


def test_curtask_field_walks_use_the_guests_struct_layout(vm):
    """task_struct is laid out differently in 6.1 and 6.18: the offsets must come from
    the guest's BTF (read here independently with bpftool in the guest)."""
    guest_layout = btf_struct_layout(
        guest(vm, "bpftool btf dump file /sys/kernel/btf/vmlinux format raw"), "task_struct", "pid")
    host_layout = btf_struct_layout(subprocess.run(
        ["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
        capture_output=True, text=True, check=True).stdout, "task_struct", "pid")
    assert guest_layout != host_layout
    out = trace(vm, "-e", "tracepoint:syscalls:sys_exit_getppid /pid == cpid/ { "
                          'printf("%d %d %s %d %d %d\\n", curtask->pid == (int32)tid, '
                          "curtask->tgid == (int32)pid, curtask->comm, "
                          "curtask->real_parent->tgid == args->ret, "
                          "sizeof(struct task_struct), offsetof(struct task_struct, pid)); }",
                "-c", f"{GUEST_WL} getppid 1")
    size, offset = guest_layout
    assert out == f"Attaching 1 probe...\n1 1 wl 1 {size} {offset}\n\n\n"


def test_tracepoint_only_the_guest_kernel_has(vm):
    # syscalls:sys_enter_finit_module exists in 6.1's tracefs, not in the host's.
    assert not Path("/sys/kernel/tracing/events/syscalls/sys_enter_finit_module").exists()
    out = trace(vm, "-e", 'tracepoint:syscalls:sys_enter_finit_module /pid == cpid/ '
                          '{ printf("%d %s %d\\n", args->fd, str(args->uargs), args->flags); }',
                "-c", f"/usr/bin/python3 {FINIT_SCRIPT}")
    assert out == "Attaching 1 probe...\n12345 pytrace=1 0\n\n\n"


def test_raw_tracepoint_arguments_come_from_the_guests_btf(vm):
    # 6.1: sched_stat_runtime(curr, runtime, vruntime); the host's 6.18 has no vruntime.
    # update_curr() fires it only for a positive runtime; vruntime only grows from 0.
    # Several CPUs fire at once, so the check is a min() over every event.
    out = trace(vm, "-e", "rawtracepoint:sched_stat_runtime "
                          "{ @runtime_positive = min(args.runtime > 0); "
                          "@vruntime_positive = min(args.vruntime > 0); } "
                          "interval:ms:300 { exit(); }")
    assert out == "Attaching 2 probes...\n\n\n@runtime_positive: 1\n@vruntime_positive: 1\n"


def test_listing_shows_the_guests_kprobes(vm):
    # lookup_dcookie left the kernel in 6.8: the guest has it, the host does not.
    functions = guest(vm, "grep -w '[a-z0-9_]*lookup_dcookie' /sys/kernel/tracing/available_filter_functions")
    expected = sorted(f"kprobe:{line.split()[0]}" for line in functions.splitlines())
    assert expected, "the guest kernel has no lookup_dcookie functions"
    listed = trace(vm, "-l", "kprobe:*lookup_dcookie").splitlines()
    assert sorted(listed) == expected
    local = pytrace(["-l", "kprobe:*lookup_dcookie"])
    assert local.stdout == ""


def test_listing_shows_the_guests_tracepoint_fields(vm):
    fmt = guest(vm, "cat /sys/kernel/tracing/events/syscalls/sys_enter_finit_module/format")
    assert "const char * uargs" in fmt
    out = trace(vm, "-lv", "tracepoint:syscalls:sys_enter_finit_module")
    lines = out.splitlines()
    assert lines[0] == "tracepoint:syscalls:sys_enter_finit_module"
    assert lines[1:] == ["    int __syscall_nr", "    int fd", "    const char * uargs",
                         "    int flags"]


def test_listing_shows_the_guests_raw_tracepoint_signature(vm):
    out = trace(vm, "-lv", "rawtracepoint:timer_start")
    assert out.splitlines() == ["rawtracepoint:timer_start", "    struct timer_list * timer",
                                "    long unsigned int expires", "    unsigned int flags"]


def test_system_runs_on_the_guest(vm):
    out = trace(vm, "--unsafe", "-e", 'BEGIN { system("uname -r"); exit(); }')
    assert out == f"Attaching 1 probe...\n{vm.kernel.release}\n\n\n"
