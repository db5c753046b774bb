"""Boot a second kernel (Debian's packaged 6.1) under qemu to trace it over ssh.

pytrace compiles against the target's kernel, so remote tests need a kernel
that is not the host's, with what the host lacks (kprobes). This boots
/boot/vmlinuz-<release> under `qemu-system-x86_64 -accel tcg` (nested KVM
hangs here) with:

- the host's / shared read-only over virtio-9p as the guest's root, so the
  guest runs the host's own python3, sshd and tools, and nothing is installed;
- a small initramfs built here from busybox and the kernel's 9p/virtio modules
  (Debian's initrd cannot mount a 9p root), whose /init mounts that root and
  switches to tests/helpers/qemu_guest_init.sh (scratch tmpfs, tracefs, bpffs,
  network, sshd);
- qemu's user-mode network with a host port forwarded to the guest's sshd, so
  the guest is reached through a real transport: `ssh -F CFG pytrace-vm`.

    with GuestVM.boot(workdir) as vm:     # ~15-60 s under TCG
        vm.ssh.run("uname", "-r")
        vm.ssh.target                     # "ssh://pytrace-vm"

Run `python3 -m tests.helpers.qemu_vm` to boot one by hand; it prints the ssh
command and keeps the VM up until Ctrl-C.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.processes import die_with_parent, kill_tree
from tests.helpers.sshd import SSH_OPTS_ENV, SshEndpoint, SshKeys, free_tcp_port, missing_ssh_programs

QEMU = "qemu-system-x86_64"
BUSYBOX = "/usr/bin/busybox"
GUEST_INIT = Path(__file__).with_name("qemu_guest_init.sh")
GUEST_ALIAS = "pytrace-vm"
READY_MARKER = "pytrace-guest: READY"
FAILED_MARKER = "pytrace-guest: FAILED"
# The host has 2 cores shared with everything else: more vCPUs only add contention.
GUEST_CPUS = 2
GUEST_MEMORY = "2G"
# Modules the initramfs loads, dependencies first: the 9p root and the network card.
INITRAMFS_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "virtio_net")


@dataclass(frozen=True)
class GuestKernel:
    release: str
    image: Path

    @property
    def modules_dir(self) -> Path:
        return Path("/lib/modules") / self.release


def find_guest_kernel(prefix: str = "6.1.") -> GuestKernel | None:
    """The newest /boot/vmlinuz-<prefix>* with its modules installed, or None."""
    for image in sorted(glob.glob(f"/boot/vmlinuz-{prefix}*"), reverse=True):
        release = image.removeprefix("/boot/vmlinuz-")
        kernel = GuestKernel(release, Path(image))
        if (kernel.modules_dir / "modules.dep").exists() and os.access(image, os.R_OK):
            return kernel
    return None


def why_vm_cannot_run() -> str | None:
    """None when this machine can boot the test VM, else the reason (for pytest.skip)."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (apt-get install qemu-system-x86)"
    if find_guest_kernel() is None:
        return "no 6.1 kernel in /boot with its modules (apt-get install linux-image-amd64 on Debian 12)"
    if not os.access(BUSYBOX, os.X_OK):
        return f"{BUSYBOX} is missing (apt-get install busybox): the initramfs is built from it"
    missing = missing_ssh_programs()
    if missing:
        return f"OpenSSH programs missing: {', '.join(missing)} (apt-get install openssh-server openssh-client)"
    if os.geteuid() != 0:
        return "booting the test VM needs root (it shares / and runs sshd inside as root)"
    return None


# --- initramfs ------------------------------------------------------------------

def module_load_order(modules_dir: Path, names: tuple[str, ...]) -> list[Path]:
    """The .ko files for `names` and everything they need, each after its dependencies."""
    deps: dict[str, list[str]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, needs = line.partition(":")
        deps[path] = needs.split()
    by_name = {_module_name(p): p for p in deps}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in deps[path]:
            visit(dep)
        order.append(path)

    for name in names:
        if name not in by_name:
            raise RuntimeError(f"module {name} is not in {modules_dir}/modules.dep")
        visit(by_name[name])
    return [modules_dir / p for p in order]


def _module_name(path: str) -> str:
    return re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(path)).replace("-", "_")


def _needed_libraries(binary: str) -> list[Path]:
    """The shared objects `binary` loads, from ldd (empty for a static binary)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return [Path(p) for p in re.findall(r"(/\S+\.so[.\d]*)", out)]


_INITRAMFS_INIT = """#!/bin/busybox sh
# Load the 9p and virtio modules, mount the host's root read-only, switch to it.
busybox mount -t proc proc /proc
busybox mount -t devtmpfs devtmpfs /dev
for ko in {modules}; do
    busybox insmod "/modules/$ko" || echo "initramfs: insmod $ko failed" >/dev/console
done
busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /newroot \\
    || {{ echo "pytrace-guest: FAILED mounting the 9p root" >/dev/console; busybox poweroff -f; }}
init=/sbin/init
for arg in $(busybox cat /proc/cmdline); do
    case "$arg" in init=*) init="${{arg#init=}}" ;; esac
done
busybox umount /dev
busybox umount /proc
exec busybox switch_root /newroot "$init"
"""


def build_initramfs(kernel: GuestKernel, out: Path) -> Path:
    """Write a gzip'd newc cpio with busybox, its libraries, the modules and /init."""
    stage = out.with_suffix(".d")
    if stage.exists():
        shutil.rmtree(stage)
    for sub in ("bin", "proc", "dev", "newroot", "modules"):
        (stage / sub).mkdir(parents=True)
    # The kernel opens /dev/console of the initramfs before /init runs: without
    # the node, /init would have no stdout and its errors would be lost.
    os.mknod(stage / "dev" / "console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    shutil.copy2(BUSYBOX, stage / "bin" / "busybox")
    for lib in _needed_libraries(BUSYBOX):
        dest = stage / lib.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib.resolve(), dest)
    names = []
    for ko in module_load_order(kernel.modules_dir, INITRAMFS_MODULES):
        if ko.suffix != ".ko":
            raise RuntimeError(f"{ko}: compressed modules are not supported by this builder")
        shutil.copy2(ko, stage / "modules" / ko.name)
        names.append(ko.name)
    init = stage / "init"
    init.write_text(_INITRAMFS_INIT.format(modules=" ".join(names)))
    init.chmod(0o755)
    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
    with out.open("wb") as f:
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
                                cwd=stage, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        gzip = subprocess.Popen(["gzip", "-1"], stdin=cpio.stdout, stdout=f)
        cpio.stdout.close()
        cpio.communicate("\n".join(files).encode() + b"\n")
        if cpio.wait() != 0 or gzip.wait() != 0:
            raise RuntimeError("building the initramfs with cpio failed")
    shutil.rmtree(stage)
    return out


# --- the VM ---------------------------------------------------------------------

class GuestVM:
    """A running qemu guest reachable over ssh; close() kills qemu and waits for it."""

    def __init__(self, workdir: Path, kernel: GuestKernel, keys: SshKeys, port: int):
        self.workdir = workdir
        self.kernel = kernel
        self.keys = keys
        self.port = port
        self.console_log = workdir / "console.log"
        self.process: subprocess.Popen | None = None
        self.ssh = SshEndpoint(keys, GUEST_ALIAS, port)
        self.boot_seconds: float | None = None

    @classmethod
    def boot(cls, workdir: Path, timeout_s: float = 240, keys: SshKeys | None = None) -> "GuestVM":
        """Build the initramfs, start qemu, return once ssh to the guest works."""
        reason = why_vm_cannot_run()
        if reason:
            raise RuntimeError(reason)
        workdir.mkdir(parents=True, exist_ok=True)
        keys = keys or SshKeys.generate(workdir / "ssh")
        kernel = find_guest_kernel()
        (keys.directory / "sshd_config.guest").write_text(
            keys.sshd_config(22, listen="0.0.0.0"))
        initramfs = build_initramfs(kernel, workdir / "initramfs.img")
        vm = cls(workdir, kernel, keys, free_tcp_port())
        vm.initramfs = initramfs
        try:
            vm._start(initramfs)
            vm._wait_ready(timeout_s)
        except BaseException:
            vm.close()
            raise
        return vm

    def qemu_argv(self, initramfs: Path) -> list[str]:
        cmdline = " ".join([
            "console=ttyS0", "panic=-1", "loglevel=4",
            # Spectre mitigations only slow an emulated CPU down.
            "mitigations=off",
            f"init={GUEST_INIT}", f"pytrace.share={self.keys.directory}",
        ])
        return [
            QEMU, "-accel", "tcg", "-cpu", "max", "-smp", str(GUEST_CPUS), "-m", GUEST_MEMORY,
            "-kernel", str(self.kernel.image), "-initrd", str(initramfs), "-append", cmdline,
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", f"file:{self.console_log}", "-monitor", "none",
            "-fsdev", "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=root,mount_tag=hostroot",
            "-fsdev", f"local,id=share,path={self.keys.directory},security_model=none,readonly=on",
            "-device", "virtio-9p-pci,fsdev=share,mount_tag=pytrace",
            "-netdev", f"user,id=net,hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device", "virtio-net-pci,netdev=net,romfile=",
        ]

    def _start(self, initramfs: Path) -> None:
        self.started_at = time.monotonic()
        self.qemu_log = self.workdir / "qemu.log"
        with self.qemu_log.open("wb") as log:
            self.process = subprocess.Popen(
                self.qemu_argv(initramfs), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=die_with_parent)

    def console(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_ready(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while READY_MARKER not in self.console():
            if self.process.poll() is not None or FAILED_MARKER in self.console():
                raise RuntimeError(self._boot_failure("the guest did not come up"))
            if time.monotonic() > end:
                raise RuntimeError(self._boot_failure(f"no ready line after {timeout_s:.0f} s"))
            time.sleep(0.25)
        try:
            self.ssh.wait_until_ready(max(30.0, end - time.monotonic()),
                                      is_alive=lambda: self.process.poll() is None)
        except RuntimeError as e:
            raise RuntimeError(self._boot_failure(str(e))) from None
        self.boot_seconds = time.monotonic() - self.started_at

    def panic(self) -> str | None:
        """The guest kernel's oops or panic report (the console from its first
        line on), or None while the guest is healthy."""
        console = self.console()
        match = re.search(r"^.*(BUG: |Oops: |Kernel panic)", console, re.M)
        return console[match.start():] if match else None

    def restart(self, timeout_s: float = 240) -> None:
        """Boot the guest again after a panic: same kernel, keys and port; the
        dead guest's console stays in console.N.log."""
        self.close()
        previous = 1
        while self.console_log.with_suffix(f".{previous}.log").exists():
            previous += 1
        if self.console_log.exists():
            self.console_log.rename(self.console_log.with_suffix(f".{previous}.log"))
        self._start(self.initramfs)
        self._wait_ready(timeout_s)

    def run_surviving_one_panic(self, body):
        """body(); if it fails and the guest kernel panicked meanwhile, restart
        the guest and run body() once more.

        Debian's 6.1 under TCG has panicked (a call to address 0 in its path
        walk, in sshd) while kprobes on the path-walk functions were attached:
        the emulated guest, not what the test checks. A second panic fails.
        """
        try:
            return body()
        except Exception:
            report = self.panic()
            if report is None:
                raise
            import warnings
            warnings.warn("the test VM's kernel panicked; restarted it and ran the test again:\n"
                          + "\n".join(report.splitlines()[:12]))
            self.restart()
        return body()

    def _boot_failure(self, what: str) -> str:
        tail = "\n".join(self.console().splitlines()[-30:])
        qemu = self.qemu_log.read_text(errors="replace").strip()
        return f"test VM: {what}\nqemu: {qemu}\nlast console lines:\n{tail}"

    def close(self) -> None:
        """Kill qemu (no clean shutdown needed: the root is read-only) and wait for it."""
        if self.process is None:
            return
        kill_tree(self.process.pid, grace_s=3)
        self.process.wait()
        self.process = None

    def __enter__(self) -> "GuestVM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main() -> int:
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="keep keys, logs and initramfs here (default: a temp dir)")
    args = parser.parse_args()
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pytrace-vm-"))
    print(f"booting the test VM in {workdir} ...", flush=True)
    try:
        vm = GuestVM.boot(workdir)
    except RuntimeError as e:
        print(e)
        return 1
    with vm:
        print(f"up in {vm.boot_seconds:.1f} s; console log: {vm.console_log}")
        print(f"ssh:     {vm.ssh.shell_alias()}")
        opts = shlex.join(vm.ssh.ssh_options)
        print(f"pytrace: {SSH_OPTS_ENV}={shlex.quote(opts)} python3 -m pytrace --target {vm.ssh.target} ...")
        print("Ctrl-C or SIGTERM stops the VM.", flush=True)
        # Explicit handlers: a shell's `cmd &` starts us with SIGINT ignored.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stop_waiting)
        try:
            vm.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


def _stop_waiting(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
