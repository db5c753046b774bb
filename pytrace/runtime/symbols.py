"""Symbols for decoding: stack ids -> frames, addresses -> names, probe ids -> names.

`TargetSymbols` answers pytrace.runtime.decode's questions from the target's
facts (kallsyms, /proc/PID/maps and ELF files, /etc/passwd) and the stack
map. Everything is read lazily and once: a program that prints no stacks
never parses kallsyms.
"""

from __future__ import annotations

import struct

from pytrace import types as T
from pytrace.output import values as V


class TargetSymbols:
    def __init__(self, target, resources, loaded=None):
        self.target = target
        self._boot_wall_ns = None
        self.resources = resources
        self.loaded = loaded
        self._kallsyms = None
        self._users: dict[int, object] = {}
        self._usernames: dict[int, str] | None = None

    def boot_wall_ns(self) -> int:
        """The target's wall-clock time of its monotonic zero (strftime), read once."""
        if self._boot_wall_ns is None:
            try:
                self._boot_wall_ns = self.target.boot_wall_ns()
            except (AttributeError, NotImplementedError):   # a test double
                from pytrace.runtime.decode import local_boot_wall_ns
                self._boot_wall_ns = local_boot_wall_ns()
        return self._boot_wall_ns

    # ---- kernel ----------------------------------------------------------------------
    def kallsyms(self):
        if self._kallsyms is None:
            from pytrace.kernel.kallsyms import Kallsyms
            self._kallsyms = Kallsyms.load(self.target)
        return self._kallsyms

    def _kernel_frame(self, addr: int) -> V.Frame:
        try:
            r = self.kallsyms().resolve(addr)
        except Exception:  # noqa: BLE001 - hidden addresses print as hex
            r = None
        if r is None:
            return V.Frame(addr)
        return V.Frame(addr, r.symbol.name, r.offset)

    def ksym(self, addr: int) -> V.Symbol:
        frame = self._kernel_frame(addr)
        return V.Symbol(addr, frame.name)

    # ---- user ----------------------------------------------------------------------------
    def _user(self, pid: int):
        if pid not in self._users:
            try:
                from pytrace.kernel.elf_symbols import UserSymbolizer
                self._users[pid] = UserSymbolizer(self.target, pid)
            except Exception:  # noqa: BLE001 - the process may be gone
                self._users[pid] = None
        return self._users[pid]

    def _user_frame(self, addr: int, pid: int) -> V.Frame:
        if getattr(self.resources, "config", {}).get("no_user_symbols"):
            return V.Frame(addr)   # BPFTRACE_NO_USER_SYMBOLS=1: addresses only
        sym = self._user(pid)
        r = sym.resolve(addr) if sym is not None else None
        if r is None:
            return V.Frame(addr)
        # r[2]: the mapped file, for perf mode
        return V.Frame(addr, self._demangled(r[0]), r[1], r[2])

    def _demangled(self, name: str) -> str:
        """A C++ name as bpftrace prints it, `ns::f(int)`, unless
        BPFTRACE_NO_CPP_DEMANGLE=1; a name that is not C++ as it is."""
        if not name.startswith("_Z") or \
                getattr(self.resources, "config", {}).get("no_cpp_demangle"):
            return name
        from pytrace.probes.demangle import demangle
        return demangle(name) or name

    def usym(self, addr: int, pid: int) -> V.Symbol:
        return V.Symbol(addr, self._user_frame(addr, pid).name)

    # ---- stacks ----------------------------------------------------------------------------
    def stack(self, stype: T.StackType, stack_id: int, pid: int) -> V.Stack:
        addrs = self._stack_addresses(stype, stack_id)
        if stype.kernel:
            frames = tuple(self._kernel_frame(a) for a in addrs)
        else:
            frames = tuple(self._user_frame(a, pid) for a in addrs)
        return V.Stack(frames, stype.mode, stype.kernel)

    def _stack_addresses(self, stype: T.StackType, stack_id: int) -> list[int]:
        if stack_id < 0 or self.loaded is None:
            return []
        from pytrace.builtins.stacks import stack_map_name
        name = stack_map_name(stype.limit)
        try:
            fd = self.loaded.map_fd(name)
            spec = self.resources.map(name)
        except KeyError:
            return []
        raw = self.target.map_lookup(fd, struct.pack("<I", stack_id), spec.value_size)
        if raw is None:
            return []
        addrs = []
        for (addr,) in struct.iter_unpack("<Q", raw[:len(raw) // 8 * 8]):
            if addr == 0:
                break
            addrs.append(addr)
        return addrs[:stype.limit]

    # ---- names ---------------------------------------------------------------------------------
    def probe_name(self, index: int) -> str:
        names = self.resources.probe_names
        return names[index] if 0 <= index < len(names) else str(index)

    def username(self, uid: int) -> str:
        if self._usernames is None:
            self._usernames = {}
            try:
                text = self.target.read_file("/etc/passwd").decode("utf-8", "replace")
            except OSError:
                text = ""
            for line in text.splitlines():
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    self._usernames.setdefault(int(parts[2]), parts[0])
        return self._usernames.get(uid, str(uid))
