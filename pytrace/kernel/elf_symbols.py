"""Symbols of user binaries and shared libraries, for uprobes and user stacks.

Owns: reading ELF symbol tables (.symtab and .dynsym, with pyelftools) of PIE
and non-PIE executables and libraries; turning a symbol into the FILE OFFSET a
uprobe attaches at; resolving library names (`libc`, `libc.so.6`) through
/proc/PID/maps, /etc/ld.so.cache and the standard (multiarch) directories;
and turning user addresses back into `function+offset` through /proc/PID/maps
(ustack/usym). Every file is read through a Target. C++ names are not
demangled yet.
"""

from __future__ import annotations

import io
import os
import struct
from bisect import bisect_right
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.constants import P_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from pytrace.kernel import wildcard

FUNC_TYPES = ("STT_FUNC", "STT_GNU_IFUNC")
LD_SO_CACHE = "/etc/ld.so.cache"
MULTIARCH = ("x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf",
             "riscv64-linux-gnu", "powerpc64le-linux-gnu", "s390x-linux-gnu")
LIB_DIRS = ("/lib64", "/usr/lib64", *(f"/lib/{m}" for m in MULTIARCH),
            *(f"/usr/lib/{m}" for m in MULTIARCH), "/lib", "/usr/lib",
            "/usr/local/lib64", "/usr/local/lib")
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class SymbolError(Exception):
    """A binary, library or symbol that cannot be found or read."""


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    address: int  # st_value: a virtual address (absolute for non-PIE executables)
    size: int
    type: str  # "STT_FUNC", "STT_OBJECT", ...
    bind: str  # "STB_GLOBAL", "STB_LOCAL", "STB_WEAK"

    @property
    def is_function(self) -> bool:
        return self.type in FUNC_TYPES


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    executable: bool


def load_segments(elf: ELFFile) -> list[Segment]:
    """The PT_LOAD segments of an open ELF file."""
    return [Segment(seg.header.p_vaddr, seg.header.p_memsz, seg.header.p_offset,
                    seg.header.p_filesz, bool(seg.header.p_flags & P_FLAGS.PF_X))
            for seg in elf.iter_segments() if seg.header.p_type == "PT_LOAD"]


def segment_file_offset(segments: list[Segment], vaddr: int) -> int | None:
    """File offset of a virtual address (vaddr - p_vaddr + p_offset of the
    PT_LOAD holding it): what uprobes and ref_ctr_offset are expressed in.
    None when the address has no bytes in the file (e.g. .bss)."""
    for seg in segments:
        if seg.vaddr <= vaddr < seg.vaddr + max(seg.filesz, 1):
            return vaddr - seg.vaddr + seg.offset
    return None


def _build_id(elf: ELFFile) -> str | None:
    """The GNU build id, as hex: it names the separate debug file of a stripped
    library (/usr/lib/debug/.build-id/xx/yyyy.debug)."""
    for section in elf.iter_sections():
        if section.header.sh_type == "SHT_NOTE":
            for note in section.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    return note["n_desc"]
    return None


class ElfSymbols:
    """Symbol table and loadable segments of one ELF file (given as bytes)."""

    def __init__(self, data: bytes, path: str = ""):
        self.path = path
        try:
            elf = ELFFile(io.BytesIO(data))
            self.is_pie = elf.header.e_type == "ET_DYN"
            self.machine = elf.header.e_machine
            self.segments = load_segments(elf)
            self.symbols = self._read_symbols(elf)
            self.build_id = _build_id(elf)
        except (ELFError, struct.error, ValueError) as e:
            raise SymbolError(f"{path or 'binary'}: not a readable ELF file ({e})") from None
        self._by_name: dict[str, list[ElfSymbol]] = {}
        for s in self.symbols:
            self._by_name.setdefault(s.name, []).append(s)
        funcs = sorted((s for s in self.symbols if s.is_function and s.address),
                       key=lambda s: (s.address, -s.size))
        self._funcs = funcs
        self._func_addrs = [s.address for s in funcs]

    @staticmethod
    def _read_symbols(elf: ELFFile) -> list[ElfSymbol]:
        # .symtab (when not stripped) holds everything .dynsym does and more;
        # read both and keep one entry per (name, address).
        seen: set[tuple[str, int]] = set()
        out = []
        for section_name in (".symtab", ".dynsym"):
            section = elf.get_section_by_name(section_name)
            # A separate debug file keeps .dynsym as NOBITS: a header, no table.
            if not isinstance(section, SymbolTableSection) or \
                    section.header.sh_type == "SHT_NOBITS":
                continue
            for sym in section.iter_symbols():
                e = sym.entry
                if not sym.name or e.st_shndx == "SHN_UNDEF":
                    continue
                key = (sym.name, e.st_value)
                if key in seen:
                    continue
                seen.add(key)
                out.append(ElfSymbol(sym.name, e.st_value, e.st_size,
                                     e.st_info.type, e.st_info.bind))
        return out

    @classmethod
    def load(cls, target, path: str) -> "ElfSymbols":
        try:
            return cls(target.read_file(path), path)
        except FileNotFoundError:
            raise SymbolError(f"{path}: no such file") from None
        except OSError as e:  # a directory, no permission, a device that refuses reads
            raise SymbolError(f"{path}: {e.strerror or e}") from None

    # ---- symbol -> uprobe offset -----------------------------------------------
    def lookup(self, name: str) -> ElfSymbol | None:
        """The symbol `name`, preferring a defined function with a global binding."""
        cands = self._by_name.get(name)
        if not cands:
            return None
        rank = {"STB_GLOBAL": 0, "STB_WEAK": 1}
        return min(cands, key=lambda s: (not s.is_function, rank.get(s.bind, 2)))

    def file_offset(self, vaddr: int) -> int:
        """The file offset of a virtual address: what uprobe_register wants."""
        offset = segment_file_offset(self.segments, vaddr)
        if offset is not None:
            return offset
        raise SymbolError(f"{self.path}: address 0x{vaddr:x} is in no loadable segment")

    def vaddr_of_offset(self, file_offset: int) -> int:
        """Inverse of file_offset, preferring the executable segment."""
        segs = sorted(self.segments, key=lambda s: not s.executable)
        for seg in segs:
            if seg.offset <= file_offset < seg.offset + seg.filesz:
                return file_offset - seg.offset + seg.vaddr
        raise SymbolError(f"{self.path}: file offset 0x{file_offset:x} is in no loadable segment")

    def uprobe_offset(self, name: str, offset: int = 0) -> int:
        """File offset for `uprobe:PATH:name[+offset]`."""
        sym = self.lookup(name)
        if sym is None:
            raise SymbolError(f"{self.path}: no symbol {name!r}")
        if offset and sym.size and offset >= sym.size:
            raise SymbolError(f"{self.path}: offset {offset} is past the end of {name} "
                              f"(size {sym.size})")
        return self.file_offset(sym.address + offset)

    def functions(self, pattern: str = "*") -> list[ElfSymbol]:
        """Function symbols matching a bpftrace wildcard, by address, one per name."""
        rx = wildcard.compile_wildcard(pattern).fullmatch
        seen: set[str] = set()
        out = []
        for s in self._funcs:
            if s.name not in seen and rx(s.name):
                seen.add(s.name)
                out.append(s)
        return out

    # ---- address -> symbol ---------------------------------------------------------
    def symbolize_vaddr(self, vaddr: int) -> tuple[ElfSymbol, int] | None:
        """The function containing `vaddr` and the offset into it."""
        i = bisect_right(self._func_addrs, vaddr) - 1
        while i >= 0:
            s = self._funcs[i]
            if vaddr < s.address + max(s.size, 1):
                return s, vaddr - s.address
            # A zero-size or shorter symbol at a lower address may be nested in
            # a larger one further down (aliases); step back over equal starts.
            if i > 0 and self._func_addrs[i - 1] == s.address:
                i -= 1
                continue
            return None
        return None


# ---- /proc/PID/maps ----------------------------------------------------------------------

@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    perms: str
    offset: int
    inode: int
    path: str  # "" for anonymous memory; "[stack]", "[vdso]"... for special ones

    @property
    def is_file(self) -> bool:
        return self.path.startswith("/") and self.inode != 0


def parse_maps(text: str) -> list[Mapping]:
    """Parse /proc/PID/maps text."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 5:
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5].strip() if len(parts) > 5 else ""
        out.append(Mapping(start, end, parts[1], int(parts[2], 16), int(parts[4]), path))
    return out


def read_maps(target, pid: int) -> list[Mapping]:
    try:
        return parse_maps(target.read_file(f"/proc/{pid}/maps").decode())
    except FileNotFoundError:
        raise SymbolError(f"no process with pid {pid}") from None
    except OSError as e:  # EACCES: another namespace or a ptrace restriction
        raise SymbolError(f"cannot read the memory maps of process {pid}: "
                          f"{e.strerror or e}") from None


def process_path(pid: int, path: str) -> str:
    """A mapped file seen through the process's own root (containers, chroots)."""
    return f"/proc/{pid}/root{path}"


# ---- library and binary names -------------------------------------------------------------

@dataclass(frozen=True)
class LdCacheEntry:
    soname: str
    path: str
    flags: int

    @property
    def is_64bit(self) -> bool:
        # Arch bits of glibc's FLAG_*: 0x0300 x86-64, 0x0500 ia64, 0x0a00 aarch64,
        # 0x0700 s390x, 0x0900 riscv64...; 0 means a 32-bit (or untagged) library.
        return bool(self.flags & 0xFF00)


_CACHE_NEW = b"glibc-ld.so.cache1.1"


def parse_ld_so_cache(data: bytes) -> list[LdCacheEntry]:
    """Entries of /etc/ld.so.cache (the `glibc-ld.so.cache1.1` format, alone or
    after the old `ld.so-1.7.0` table), in the cache's priority order."""
    base = data.find(_CACHE_NEW)
    if base < 0:
        return []
    nlibs, _strings_len = struct.unpack_from("<II", data, base + 20)
    entries = []
    pos = base + 48  # magic+version (20), nlibs, len_strings, flags+pad, ext offset, 3 unused
    for _ in range(nlibs):
        flags, key, value = struct.unpack_from("<iII", data, pos)
        pos += 24
        entries.append(LdCacheEntry(_cstr(data, base + key), _cstr(data, base + value), flags))
    return entries


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end].decode("utf-8", "replace")


def _library_name_matches(query: str, filename: str) -> bool:
    """`libc`, `c`, `libc.so` and `libc.so.6` all name libc.so.6 (bcc's and
    bpftrace's rules); `libc` does not match libcap.so.2."""
    if filename == query:
        return True
    if not (filename.endswith(".so") or ".so." in filename):
        return False
    if ".so" in query:
        return filename.startswith(query + ".")
    return any(filename.startswith(stem + ".so") or filename.startswith(stem + "-")
               for stem in (query, "lib" + query))


def resolve_binary(target, name: str, pid: int | None = None) -> str:
    """Absolute path of the binary or library a uprobe names.

    A path with a slash is used as is (through /proc/PID/root when a pid is
    given). A bare name is looked up in the process's mappings first, then in
    /etc/ld.so.cache, the standard library directories and the usual PATH.
    """
    if "/" in name:
        if pid is not None and target.path_exists(process_path(pid, name)):
            return process_path(pid, name)
        if target.path_exists(name):
            return name
        raise SymbolError(f"{name}: no such file")
    if pid is not None:
        for m in read_maps(target, pid):
            if m.is_file and _library_name_matches(name, os.path.basename(m.path)):
                return process_path(pid, m.path)
    try:
        cache = parse_ld_so_cache(target.read_file(LD_SO_CACHE))
    except (FileNotFoundError, PermissionError):
        cache = []
    # Prefer the 64-bit entries: pytrace's targets are 64-bit kernels.
    for entry in sorted(cache, key=lambda e: not e.is_64bit):
        if _library_name_matches(name, entry.soname) and target.path_exists(entry.path):
            return entry.path
    for d in LIB_DIRS:
        try:
            names = sorted(target.list_dir(d))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for filename in names:
            if _library_name_matches(name, filename):
                return f"{d}/{filename}"
    for d in BIN_DIRS:
        if target.path_exists(f"{d}/{name}"):
            return f"{d}/{name}"
    raise SymbolError(f"could not find a binary or library called {name!r}")


# ---- user address symbolization (ustack / usym) ---------------------------------------------

DEBUG_ROOT = "/usr/lib/debug/.build-id"   # separate debug files, by build id

class UserSymbolizer:
    """Symbolize addresses of one process from its /proc/PID/maps and ELF files.

    Maps are read once (call `refresh()` after the process maps new code);
    each file's symbols are parsed once.
    """

    def __init__(self, target, pid: int):
        self.target = target
        self.pid = pid
        self._elves: dict[str, ElfSymbols | None] = {}
        self._debug: dict[str, ElfSymbols | None] = {}
        self.refresh()

    def refresh(self) -> None:
        self.maps = read_maps(self.target, self.pid)
        self._starts = [m.start for m in self.maps]

    def _elf(self, m: Mapping) -> ElfSymbols | None:
        if m.path not in self._elves:
            # The process's own view first (containers); a file deleted or
            # replaced since it was mapped is still reachable via map_files.
            candidates = [process_path(self.pid, m.path), m.path,
                          f"/proc/{self.pid}/map_files/{m.start:x}-{m.end:x}"]
            if m.path.endswith(" (deleted)"):
                candidates = candidates[2:]
            self._elves[m.path] = None
            for candidate in candidates:
                try:
                    self._elves[m.path] = ElfSymbols.load(self.target, candidate)
                    break
                except (SymbolError, OSError):
                    continue
        return self._elves[m.path]

    def resolve(self, address: int) -> tuple[str, int, str] | None:
        """(function, offset, mapped file) for a user address, or None."""
        i = bisect_right(self._starts, address) - 1
        if i < 0 or address >= self.maps[i].end or not self.maps[i].is_file:
            return None
        m = self.maps[i]
        elf = self._elf(m)
        if elf is None:
            return None
        try:
            vaddr = elf.vaddr_of_offset(address - m.start + m.offset)
        except SymbolError:
            return None
        # A stripped library keeps its local functions (libc's
        # __libc_start_call_main) only in its separate debug file.
        found = elf.symbolize_vaddr(vaddr) or self._debug_symbolize(m.path, elf, vaddr)
        if found is None:
            return None
        return found[0].name, found[1], m.path

    def _debug_symbolize(self, path: str, elf: ElfSymbols, vaddr: int):
        if path not in self._debug:
            self._debug[path] = None
            if elf.build_id and len(elf.build_id) > 2:
                debug_path = f"{DEBUG_ROOT}/{elf.build_id[:2]}/{elf.build_id[2:]}.debug"
                try:
                    self._debug[path] = ElfSymbols.load(self.target, debug_path)
                except (SymbolError, OSError):
                    pass   # no debug file: the frame stays hex
        debug = self._debug[path]
        return debug.symbolize_vaddr(vaddr) if debug is not None else None

    def symbolize(self, address: int, with_offset: bool = True) -> str:
        """`main+12` (or `main`), else the hex address, as bpftrace prints ustack."""
        r = self.resolve(address)
        if r is None:
            return f"0x{address:x}"
        return f"{r[0]}+{r[1]}" if with_offset else r[0]
