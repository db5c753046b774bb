"""Names of user-space probes for `-l`: uprobe functions and USDT sites of binaries.

A search names one binary (`uprobe:/bin/bash:*`, or a library name such as
`uprobe:libc:*`, resolved as attach points are), or `-p PID` lists every
executable object mapped into that process, named through
/proc/PID/root as bpftrace does (so the path works from any mount
namespace). bpftrace 0.17 lists only the process's main executable for -p;
pytrace lists its libraries too.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.kernel import elf_symbols, usdt, wildcard


def binaries(target, path: str, pid: int | None) -> list[tuple[str, str]]:
    """(name to print, file to read) of each binary a search names."""
    if pid is not None and (path == "*" or wildcard.has_wildcard(path)):
        return mapped_objects(target, pid, path)
    if wildcard.has_wildcard(path):
        raise PytraceError(f"uprobe target file '{path}' does not exist or is not "
                           "executable (a wildcard in the path needs -p PID)")
    try:
        resolved = elf_symbols.resolve_binary(target, path, pid)
    except elf_symbols.SymbolError:
        raise PytraceError(f"uprobe target file '{path}' does not exist or is not "
                           "executable") from None
    # A path is printed as written (bpftrace does); a library name as found.
    shown = path if "/" in path and pid is None else resolved
    return [(shown, resolved)]


def mapped_objects(target, pid: int, pattern: str = "*") -> list[tuple[str, str]]:
    """Executable file mappings of a process, as /proc/PID/root/... paths."""
    try:
        maps = elf_symbols.read_maps(target, pid)
    except elf_symbols.SymbolError as e:
        raise PytraceError(str(e)) from None
    match = wildcard.compile_wildcard(pattern).fullmatch
    paths = sorted({m.path for m in maps if m.is_file and "x" in m.perms and match(m.path)})
    return [(p, p) for p in (elf_symbols.process_path(pid, path) for path in paths)]


def uprobe_names(target, file: str, match) -> list[str]:
    """Function names of one ELF file (empty for a file that is not ELF)."""
    try:
        syms = elf_symbols.ElfSymbols.load(target, file)
    except elf_symbols.SymbolError:
        return []
    names = sorted({s.name for s in syms.functions()})
    return names if match is None else [n for n in names if match(n)]


def usdt_names(target, file: str, match) -> list[str]:
    """`PROVIDER:NAME` of each USDT probe of one ELF file, each once."""
    try:
        probes = usdt.load_probes(target, file)
    except (usdt.UsdtError, FileNotFoundError, PermissionError):
        return []
    names = sorted({f"{p.provider}:{p.name}" for p in probes})
    return names if match is None else [n for n in names if match(n)]


USER_SOURCES = {"uprobe": uprobe_names, "usdt": usdt_names}
