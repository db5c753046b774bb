#!/bin/sh
# PID 1 of the test VM (tests/helpers/qemu_vm.py), run from the host's root
# shared read-only over virtio-9p. It gives the guest writable scratch space,
# the kernel filesystems a tracer needs, a network behind qemu's user-mode NAT,
# and sshd with the keys the host shared; then it reaps orphans until poweroff.
#
# Kernel command line parameters read here:
#   pytrace.share=DIR   host directory with the ssh keys, mounted at the same
#                       path in the guest (9p tag "pytrace")
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "pytrace-guest: $*" >/dev/console; }
fail() { say "FAILED: $*"; echo o >/proc/sysrq-trigger; sleep 10; }

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
for dir in /tmp /run /var; do mount -t tmpfs -o mode=1777 tmpfs "$dir"; done
chmod 755 /run /var
# A fresh home: the host's dotfiles (read-only here) must not run in ssh sessions.
mount -t tmpfs -o mode=700 tmpfs /root
mkdir -p /var/tmp /var/log /var/run /run/sshd /run/lock && chmod 1777 /var/tmp
mount -t tracefs tracefs /sys/kernel/tracing || fail "mount tracefs"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf || fail "mount bpffs"
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname pytrace-guest

share=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in pytrace.share=*) share="${arg#pytrace.share=}" ;; esac
done
[ -n "$share" ] || fail "no pytrace.share= on the kernel command line"
mkdir -p "$share"
mount -t 9p -o trans=virtio,version=9p2000.L,ro pytrace "$share" || fail "mount the key share"

ip link set lo up
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

/usr/sbin/sshd -e -f "$share/sshd_config.guest" || fail "sshd did not start"
say "READY $(uname -r)"

# PID 1 must reap the orphans of every ssh session; python3 is on the shared root.
exec python3 -c '
import os, signal, time
signal.signal(signal.SIGTERM, lambda *_: os.system("echo o > /proc/sysrq-trigger"))
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
'
