"""The second kernel the remote tests compile against: Debian's 6.1 booted under
qemu, reached over ssh. What the remote tests rely on is checked here: it is
another kernel than the host's, it has BTF and working kprobes (the host has
none), python3 runs, the tracer's filesystems are mounted, and the host's root is
shared read-only."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.processes import alive, descendants
from tests.helpers.qemu_vm import why_vm_cannot_run

REPO = Path(__file__).resolve().parents[2]


def guest(vm, script: str) -> str:
    done = vm.ssh.run(script, timeout=120)
    assert done.returncode == 0, f"{script!r} failed in the guest: {done.stderr}"
    return done.stdout


def test_guest_runs_debian_6_1_not_the_host_kernel(qemu_guest):
    release = guest(qemu_guest, "uname -r").strip()
    assert release == qemu_guest.kernel.release
    assert release.startswith("6.1.")
    assert release != os.uname().release


def test_guest_kernel_has_btf(qemu_guest):
    size = int(guest(qemu_guest, "stat -c %s /sys/kernel/btf/vmlinux"))
    assert size > 1_000_000
    # The guest's BTF is its own, not the host's.
    assert size != Path("/sys/kernel/btf/vmlinux").stat().st_size


def test_guest_python3_runs_with_ctypes(qemu_guest):
    out = guest(qemu_guest, "python3 -c 'import ctypes, sys; print(sys.version_info[0], ctypes.sizeof(ctypes.c_long))'")
    assert out == "3 8\n"


def test_guest_lists_kprobe_targets(qemu_guest):
    out = guest(qemu_guest, "grep -c . /sys/kernel/tracing/available_filter_functions; "
                            "grep -cw do_sys_openat2 /sys/kernel/tracing/available_filter_functions")
    functions, openat2 = map(int, out.split())
    assert functions > 10_000
    assert openat2 >= 1


def test_guest_kprobe_and_kretprobe_fire(qemu_guest):
    # Through tracefs (no pytrace involved): the kernel side the remote tests need works.
    script = r"""
set -e
cd /sys/kernel/tracing
echo 'p:pytrace_infra_open do_sys_openat2' >> kprobe_events
echo 'r:pytrace_infra_open_ret do_sys_openat2 ret=$retval' >> kprobe_events
cleanup() { echo 0 > events/kprobes/enable; echo > trace;
            echo '-:pytrace_infra_open' >> kprobe_events; echo '-:pytrace_infra_open_ret' >> kprobe_events; }
trap cleanup EXIT
echo > trace
echo 1 > events/kprobes/enable
for i in 1 2 3 4 5; do cat /proc/version >/dev/null; done
echo 0 > events/kprobes/enable
echo entries=$(grep -c 'pytrace_infra_open:' trace) returns=$(grep -c 'pytrace_infra_open_ret:' trace)
"""
    out = guest(qemu_guest, script)
    counts = dict(kv.split("=") for kv in out.split())
    assert int(counts["entries"]) >= 5
    assert int(counts["returns"]) >= 5
    assert guest(qemu_guest, "cat /sys/kernel/tracing/kprobe_events") == ""


def test_guest_mounts_what_a_tracer_needs(qemu_guest):
    mounts = {line.split()[1]: line.split()[2] for line in guest(qemu_guest, "cat /proc/mounts").splitlines()}
    assert mounts["/sys/kernel/tracing"] == "tracefs"
    assert mounts["/sys/fs/bpf"] == "bpf"
    assert mounts["/"] == "9p"
    for scratch in ("/tmp", "/run", "/var"):
        assert mounts[scratch] == "tmpfs"


def test_guest_sees_the_host_root_read_only(qemu_guest):
    # A file outside the guest's own tmpfs mounts (/tmp, /run, /var, /root),
    # wherever this checkout lives.
    marker = Path("/etc/os-release")
    assert guest(qemu_guest, f"cat {marker}") == marker.read_text()
    done = qemu_guest.ssh.run("touch /etc/guest-was-here", timeout=60)
    assert done.returncode != 0
    assert "Read-only file system" in done.stderr
    assert not Path("/etc/guest-was-here").exists()


@pytest.mark.qemu
def test_vm_command_line_boots_prints_ssh_and_stops_on_ctrl_c(tmp_path):
    """`python3 -m tests.helpers.qemu_vm`: the manual entry point, and proof that
    stopping it leaves no qemu behind."""
    reason = why_vm_cannot_run()
    if reason:
        pytest.skip(f"test VM unavailable: {reason}")
    cli = subprocess.Popen([sys.executable, "-m", "tests.helpers.qemu_vm", "--workdir", str(tmp_path)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in cli.stdout:
            lines.append(line)
            if line.startswith("ssh:") or line.startswith("test VM:"):
                break
        ssh_line = "".join(lines).split("ssh:", 1)
        assert len(ssh_line) == 2, "".join(lines)
        qemus = [p for p in descendants(cli.pid) if _comm(p).startswith("qemu-system")]
        assert len(qemus) == 1
        ssh_argv = ssh_line[1].split()
        done = subprocess.run(ssh_argv + ["uname", "-r"], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        assert re.match(r"6\.1\.", done.stdout), done.stderr
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=30) == 0
        end = time.monotonic() + 10
        while alive(qemus[0]) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive(qemus[0])
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_a_test_that_panics_the_guest_runs_again_on_a_new_guest(qemu_guest):
    """The harness's answer to a guest kernel panic (seen under TCG): the panic
    is found in the console, the guest boots again on the same ssh endpoint
    (the dead guest's console kept) and the test body runs once more."""
    assert qemu_guest.panic() is None
    runs = []

    def body():
        runs.append(qemu_guest.panic())
        if len(runs) == 1:
            qemu_guest.ssh.run("echo c > /proc/sysrq-trigger", timeout=30)   # crash it
            end = time.monotonic() + 60
            while qemu_guest.panic() is None and time.monotonic() < end:
                time.sleep(0.2)
            raise AssertionError("the guest went away")
        return guest(qemu_guest, "uname -r").strip()

    with pytest.warns(UserWarning, match="kernel panicked"):
        release = qemu_guest.run_surviving_one_panic(body)
    assert release == qemu_guest.kernel.release
    assert runs == [None, None]
    assert "Kernel panic" in qemu_guest.console_log.with_suffix(".1.log").read_text()
