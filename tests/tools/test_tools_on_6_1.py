"""The tools that need kprobes, run on a kernel that has them: Debian's 6.1 in
the test VM (tests/helpers/qemu_vm.py), through `--target ssh://pytrace-vm`.

Each run is `pytrace --target ssh://pytrace-vm -c WORKLOAD TOOL`: the workload
starts in the guest once the tool's probes are attached, and the tool stops
when it ends, printing what it saw. Workloads are scripts written into the
guest's /tmp, each doing a known number of the operations the tool counts, so
the expected values come from the workload (or from the guest's own counters).
dcsnoop, also kprobes-only, runs there against a live lookup loop.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.remote.helpers import pytrace
from tests.tools.harness import ToolRun

WORK = "/tmp/pt-tools"

# Swap-ins: a memory cgroup of 16 MiB whose process touches 32 MiB of anonymous
# memory (writes each page, then reads each back), so that most of it is paged
# out to the swap device and read back in. It writes its pid to swap.pid (the
# output of a `-c` command is not the tool's to check).
SWAP_WORKLOAD = f"""\
echo $$ > /sys/fs/cgroup/pt-swap/cgroup.procs
exec python3 {WORK}/swap.py
"""
SWAP_PY = """\
import mmap, os
with open(os.path.join(os.path.dirname(__file__), "swap.pid"), "w") as f:
    f.write(str(os.getpid()))
size = 32 << 20
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for i in range(0, size, 4096):
    m[i] = 1
assert sum(m[i] for i in range(0, size, 4096)) == size // 4096
"""

# Five opens, writes, reads and fsyncs of a file in the guest's /tmp (tmpfs);
# then a pause of argv[1] seconds (vfsstat prints once a second, and its END
# clears what no second printed; under emulation a "second" can take two).
# vfs.py [ROUNDS [GAP_S [TAIL_S]]]: ROUNDS rounds of open, write, read, fsync,
# close, GAP_S seconds apart, then a sleep of TAIL_S seconds.
VFS_PY = f"""\
import os, sys, time
rounds, gap, tail = (sys.argv[1:] + ["5", "0", "0"][len(sys.argv) - 1:])[:3]
for _ in range(int(rounds)):
    fd = os.open("{WORK}/vfs-file", os.O_CREAT | os.O_RDWR | os.O_TRUNC)
    os.write(fd, b"x" * 100)
    os.pread(fd, 100, 0)
    os.fsync(fd)
    os.close(fd)
    time.sleep(float(gap))
time.sleep(float(tail))
"""

# Three connections to a listener with backlog 4 that accepts none: each finds
# the accept queue one longer than the last (0, 1, 2).
SYNBL_PY = """\
import socket, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)
clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
time.sleep(0.2)
"""

# On the XFS filesystem: one open, three 4 KiB writes, one fsync, one read.
XFS_PY = f"""\
import os
fd = os.open("{WORK}/xfs/file", os.O_CREAT | os.O_RDWR | os.O_TRUNC)
for _ in range(3):
    os.write(fd, b"x" * 4096)
os.fsync(fd)
os.pread(fd, 4096, 0)
os.close(fd)
"""


def guest(vm, command: str, stdin: bytes = b"", check: bool = True) -> str:
    """A shell command run in the guest over ssh; its stdout."""
    done = subprocess.run(vm.ssh.ssh_command(command), input=stdin, capture_output=True,
                          timeout=120)
    if check:
        assert done.returncode == 0, f"{command!r} in the guest: {done.stderr.decode()}"
    return done.stdout.decode()


@pytest.fixture(scope="module")
def vm(qemu_guest):
    """The guest with the workloads in /tmp/pt-tools (the VM is shared by the
    session: what the tests set up there is undone afterwards)."""
    guest(qemu_guest, f"mkdir -p {WORK}")
    for name, text in [("swap.sh", SWAP_WORKLOAD), ("swap.py", SWAP_PY), ("vfs.py", VFS_PY),
                       ("synbl.py", SYNBL_PY), ("xfs.py", XFS_PY)]:
        guest(qemu_guest, f"cat > {WORK}/{name}", stdin=text.encode())
    yield qemu_guest
    guest(qemu_guest, f"rm -rf {WORK}", check=False)


def run_tool(vm, tool: str, workload: str) -> str:
    done = pytrace(["--target", vm.ssh.target, "-c", workload, tool], env=vm.ssh.environ(),
                   timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def swap_device(vm):
    guest(vm, f"modprobe loop && truncate -s 64M {WORK}/swap.img && "
              f"dev=$(losetup --find --show {WORK}/swap.img) && echo $dev > {WORK}/swap.dev && "
              "mkswap $dev >/dev/null && swapon $dev && "
              "echo +memory > /sys/fs/cgroup/cgroup.subtree_control && "
              "mkdir -p /sys/fs/cgroup/pt-swap && echo 16M > /sys/fs/cgroup/pt-swap/memory.max")
    yield
    guest(vm, f"rmdir /sys/fs/cgroup/pt-swap; dev=$(cat {WORK}/swap.dev); swapoff $dev; "
              f"losetup -d $dev; rm -f {WORK}/swap.img", check=False)


@pytest.fixture
def xfs_mount(vm):
    missing = guest(vm, "command -v mkfs.xfs >/dev/null || echo mkfs.xfs; "
                        "modprobe xfs 2>/dev/null || echo 'the xfs module'")
    if missing.strip():
        pytest.skip(f"no XFS in the guest: {' and '.join(missing.split())} missing "
                    "(apt-get install xfsprogs on the host: the guest runs the host's root)")
    guest(vm, f"modprobe loop && truncate -s 320M {WORK}/xfs.img && "
              f"dev=$(losetup --find --show {WORK}/xfs.img) && echo $dev > {WORK}/xfs.dev && "
              f"mkfs.xfs -q $dev && mkdir -p {WORK}/xfs && mount -t xfs $dev {WORK}/xfs")
    yield
    guest(vm, f"umount {WORK}/xfs; losetup -d $(cat {WORK}/xfs.dev); rm -f {WORK}/xfs.img",
          check=False)


def hist_total(text: str) -> int:
    return sum(int(n) for n in re.findall(r"^\[[^)\]]*[)\]]\s+(\d+) \|", text, re.M))


def map_section(output: str, key: str) -> str:
    """The lines of a printed histogram map entry `@name[KEY]:`."""
    start = output.index(f"{key}: \n") + len(key) + 3
    end = output.find("\n\n", start)
    return output[start:] if end < 0 else output[start:end]


def swapped_in(vm) -> int:
    """The guest's count of pages read in from swap since boot."""
    return int(re.search(r"^pswpin (\d+)$", guest(vm, "cat /proc/vmstat"), re.M).group(1))


def test_swapin_counts_the_workloads_swap_ins(vm, swap_device):
    # 6.1 names the function swap_readpage (6.10 renamed it swap_read_folio).
    before = swapped_in(vm)
    out = run_tool(vm, "swapin", f"sh {WORK}/swap.sh")
    during = swapped_in(vm) - before
    pid = guest(vm, f"cat {WORK}/swap.pid")
    counted = sum(int(n) for n in re.findall(rf"^@\[python3, {pid}\]: (\d+)$", out, re.M))
    assert re.search(r"^\d\d:\d\d:\d\d$", out, re.M), out
    # Nothing else in the guest is short of memory: the swap-ins during the run
    # are the workload's, less those counted between a second's print(@) and
    # clear(@), which are lost (as in bpftrace).
    assert during > 0 and during // 2 <= counted <= during, (during, out)


def test_vfscount_counts_the_workloads_vfs_calls(vm):
    out = run_tool(vm, "vfscount", f"python3 {WORK}/vfs.py")
    assert out.startswith("Attaching ") and "Tracing VFS calls... Hit Ctrl-C to end.\n" in out
    counts = {name: int(n) for name, n in re.findall(r"^@\[(\w+)\]: (\d+)$", out, re.M)}
    # fsync(2) reaches vfs_fsync_range through an inlined copy of vfs_fsync.
    for name in ("vfs_open", "vfs_write", "vfs_read", "vfs_fsync_range"):
        assert counts.get(name, 0) >= 5, (name, out)
    assert all(name.startswith("vfs_") for name in counts), out


def test_vfsstat_counts_key_vfs_calls_each_second(vm):
    """Ten rounds of VFS calls over two seconds all show in the per-second
    counts. The tool prints its map, then clears it: done as two steps, a call
    made in between (a round trip or two to the VM) was cleared unprinted."""
    out = run_tool(vm, "vfsstat", f"python3 {WORK}/vfs.py 10 0.2 2")
    assert "Tracing key VFS calls... Hit Ctrl-C to end.\n" in out
    totals: dict[str, int] = {}
    for name, n in re.findall(r"^@\[(\w+)\]: (\d+)$", out, re.M):
        totals[name] = totals.get(name, 0) + int(n)
    for name in ("vfs_open", "vfs_write", "vfs_read", "vfs_fsync_range"):
        assert totals.get(name, 0) >= 10, (name, out)


def test_tcpsynbl_shows_the_accept_queue_growing(vm):
    out = run_tool(vm, "tcpsynbl", f"python3 {WORK}/synbl.py")
    assert "Tracing SYN backlog size. Ctrl-C to end.\n" in out
    section = map_section(out, "@backlog[4]")
    rows = re.findall(r"^(\[[^\n]*?[)\]])\s+(\d+) \|", section, re.M)
    assert [(b, int(n)) for b, n in rows if int(n)] == [("[0]", 1), ("[1]", 1), ("[2, 4)", 1)], out
    assert "@backlog[backlog limit]: histogram of backlog size" in out


def test_xfsdist_times_the_workloads_xfs_operations(vm, xfs_mount):
    out = run_tool(vm, "xfsdist", f"python3 {WORK}/xfs.py")
    assert "Tracing XFS operation latency... Hit Ctrl-C to end.\n" in out
    totals = {name: hist_total(map_section(out, f"@us[{name}]"))
              for name in ("xfs_file_open", "xfs_file_write_iter", "xfs_file_fsync",
                           "xfs_file_read_iter")}
    assert totals == {"xfs_file_open": 1, "xfs_file_write_iter": 3, "xfs_file_fsync": 1,
                      "xfs_file_read_iter": 1}, out


def test_dcsnoop_shows_a_missed_lookup(vm):
    """A lookup of a name that does not exist in the guest shows as a miss (M)
    made by the process that looked."""
    vm.run_surviving_one_panic(lambda: dcsnoop_sees_a_miss(vm))


def dcsnoop_sees_a_miss(vm) -> None:
    import time
    with ToolRun("dcsnoop", options=("--target", vm.ssh.target), env=vm.ssh.environ(),
                 count_links=False) as run:
        deadline = time.monotonic() + 60
        seen = None
        while seen is None and time.monotonic() < deadline:
            vm.ssh.run("cat", "/pt-dcsnoop-missing", timeout=30)
            seen = re.search(r"^\d+\s+\d+\s+cat\s+M pt-dcsnoop-missing$", run.output_so_far(),
                             re.M)
    assert seen, run.output


def test_a_tool_whose_connection_drops_says_only_that(vm):
    """A dropped connection is not blamed on what the target lacks: one line
    about the connection, without the tool's `Needs:` note."""
    import os
    from tests.helpers.processes import descendants
    from tests.remote.helpers import pytrace_running, wait_for_line
    with pytrace_running(["--target", vm.ssh.target, "vfsstat"], env=vm.ssh.environ()) as proc:
        wait_for_line(proc.stdout, "Tracing key VFS calls")
        for pid in descendants(proc.pid):     # the ssh client: the connection drops
            os.kill(pid, 9)
        proc.wait(timeout=60)
        lines = [line for line in proc.stderr.read().splitlines()
                 if line.strip() and not line.startswith("Connection to ")]
    assert proc.returncode == 1
    assert len(lines) == 1 and lines[0].startswith(
        f"ERROR: lost the connection to the target {vm.ssh.target}"), lines
