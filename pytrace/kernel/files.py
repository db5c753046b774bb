"""Local file facts for a Target: reading files, listing directories, CPU lists.

Runs in process for `LocalTarget` and inside the remote agent for a `RemoteTarget`
(so: stdlib only, nothing else of pytrace).

`LocalFiles` is a mixin: `LocalTarget` inherits it so that every parser in
pytrace.kernel (BTF, tracefs, kallsyms, ELF symbols, USDT) reads this machine
through the same Target methods a `RemoteTarget` forwards to its agent.
"""

from __future__ import annotations

import os


def parse_cpu_list(text: str) -> list[int]:
    """The kernel's CPU list format (`0-3,5,8-9`) as a sorted list of numbers."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.extend(range(int(lo), int(hi) + 1))
        else:
            cpus.append(int(part))
    return sorted(set(cpus))


class LocalFiles:
    """read_file / list_dir / path_exists / CPU facts on the local machine."""

    def read_file(self, path: str, max_bytes: int | None = None) -> bytes:
        # Unbuffered reads: sysfs and procfs files report size 0 (or 4096),
        # so read until EOF rather than trusting st_size.
        with open(path, "rb", buffering=0) as f:
            if max_bytes is not None:
                chunks, left = [], max_bytes
                while left > 0:
                    chunk = f.read(left)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    left -= len(chunk)
                return b"".join(chunks)
            return f.readall()

    def list_dir(self, path: str) -> list[str]:
        return os.listdir(path)

    def path_exists(self, path: str) -> bool:
        return os.path.exists(path)

    def cgroup_id(self, path: str) -> int:
        # cgroupfs file handles are the 64-bit cgroup id (the kernel's
        # cgroup_get_from_id reads them back); 8 bytes is all a handle may take,
        # so other file systems with longer handles fail with EOVERFLOW.
        import ctypes
        import ctypes.util

        class FileHandle(ctypes.Structure):
            _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                        ("f_handle", ctypes.c_uint8 * 8)]

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        handle, mount_id = FileHandle(handle_bytes=8), ctypes.c_int()
        at_fdcwd = -100
        if libc.name_to_handle_at(at_fdcwd, os.fsencode(path), ctypes.byref(handle),
                                  ctypes.byref(mount_id), 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return int.from_bytes(bytes(handle.f_handle), "little")

    def num_possible_cpus(self) -> int:
        # Per-CPU map values are sized by *possible* CPUs, which may exceed
        # os.cpu_count() (hotpluggable slots), so the sysfs list is the truth.
        text = self.read_file("/sys/devices/system/cpu/possible").decode()
        return max(parse_cpu_list(text)) + 1

    def online_cpus(self) -> list[int]:
        return parse_cpu_list(self.read_file("/sys/devices/system/cpu/online").decode())
