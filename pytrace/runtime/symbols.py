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
        self._cgroup_dirs: list[tuple[str, dict[int, str]]] | None = None
        self._executables: list | None = None  # (path, ElfSymbols) of probed executables

    def boot_wall_ns(self) -> int:
        """The target's wall-clock time of its monotonic zero (strftime), read once."""
        if self._boot_wall_ns is None:
            try:
                self._boot_wall_ns = self.target.boot_wall_ns()
            except (AttributeError, NotImplementedError):   # a test double
                from pytrace.runtime.decode import local_boot_wall_ns
                self._boot_wall_ns = local_boot_wall_ns()
        return self._boot_wall_ns

    def errno_text(self, errno: int) -> str:
        """strerror() as the target's C library words it."""
        try:
            return self.target.errno_text(errno)
        except (AttributeError, NotImplementedError):   # a test double
            import os
            return os.strerror(errno)

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
            r = self._probed_executable_symbol(addr)
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

    def _probed_executable_symbol(self, addr: int):
        """A process that exited before its event was printed has no maps left:
        an address in a position-dependent executable the program probes is
        still its link-time address (`func` of a short-lived `-c` command)."""
        if self._executables is None:
            from pytrace.kernel.elf_symbols import ElfSymbols, SymbolError
            self._executables = []
            paths = {a.target for p in self.resources.programs for a in p.attach
                     if a.provider in ("uprobe", "uretprobe", "usdt")}
            for path in sorted(paths):
                try:
                    elf = ElfSymbols.load(self.target, path)
                except (SymbolError, OSError):
                    continue
                if not elf.is_pie:
                    self._executables.append((path, elf))
        for path, elf in self._executables:
            found = elf.symbolize_vaddr(addr)
            if found is not None:
                return found[0].name, found[1], path
        return None

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
        from pytrace.resources import stack_map_name
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

    def cgroup_path(self, cgroup_id: int, pattern: str = "*") -> str:
        """`unified:/a/b,cpu:/,...`: where the cgroup with this id sits in each
        mounted hierarchy (cgroup2 is "unified"), as bpftrace prints cgroup_path()."""
        from pytrace.kernel import wildcard
        if self._cgroup_dirs is None:
            self._cgroup_dirs = [(name, self._cgroup_ids(mount))
                                 for name, mount in self._cgroup_mounts()]
        match = wildcard.compile_wildcard(pattern).fullmatch
        return ",".join(f"{name}:{dirs[cgroup_id]}" for name, dirs in self._cgroup_dirs
                        if match(name) and cgroup_id in dirs)

    def _cgroup_mounts(self) -> list[tuple[str, str]]:
        try:
            text = self.target.read_file("/proc/self/mountinfo").decode("utf-8", "replace")
        except OSError:
            return []
        unified, named = [], []
        for line in text.splitlines():
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            if tail[0] == "cgroup2":
                unified.append(("unified", fields[4]))
            elif tail[0] == "cgroup":
                options = [o[5:] if o.startswith("name=") else o for o in tail[2].split(",")
                           if o not in ("rw", "ro") and "=" not in o or o.startswith("name=")]
                named += [(o, fields[4]) for o in options]
        return unified[:1] + sorted(named)

    def _cgroup_ids(self, mount: str) -> dict[int, str]:
        """cgroup id -> path below the mount, for every directory of one hierarchy."""
        ids: dict[int, str] = {}
        todo = [""]
        while todo and len(ids) < 100_000:
            rel = todo.pop()
            try:
                ids.setdefault(self.target.cgroup_id(mount + rel), rel or "/")
                names = self.target.list_dir(mount + rel)
            except OSError:
                continue
            for name in names:
                child = f"{rel}/{name}"
                if self.target.path_exists(f"{mount}{child}/cgroup.procs"):
                    todo.append(child)
        return ids

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
