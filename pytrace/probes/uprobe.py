"""uprobe/uretprobe:BINARY:FUNCTION[+OFFSET] (or :ADDRESS): user functions, by path or library name.

BINARY is a path or a library/program name (`libc`, `bash`) resolved as the
dynamic loader would; FUNCTION is a symbol or a demangled C++ name
(`ns::f` matches every overload, `"ns::f(int)"` one); it may be a wildcard
over the ELF symbol table (C++ functions match by demangled name too),
and every match attaches the SAME program (one compile, many attachments):
on kernels with uprobe_multi links (6.6+) one link per binary holds every
match, so detaching is one RCU wait instead of one per function (~90 ms each);
elsewhere one perf event per match. `probe` then reads the attach cookie
(the point's probe id) rather than splitting the program per function.
Each AttachSpec carries the uprobe's file offset, which is what the kernel
wants. `-p PID` restricts the probes to that process: names resolve through its
mappings and its root (/proc/PID/root, so its mount namespace), and the pid
goes to perf_event_open at attach time.
"""

from __future__ import annotations

import errno
import re

from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard
from pytrace.kernel.errors import ENOTSUPP, AttachError, KernelError, errno_text
from pytrace.kernel.bpf import ATTACH_TRACE_UPROBE_MULTI
from pytrace.kernel.elf_symbols import ElfSymbols, SymbolError, resolve_binary
from pytrace.probes.demangle import demangle, without_parameters
from pytrace.probes.x86_insn import starts_instruction
from pytrace.probes import NothingMatched, Provider
from pytrace.resources import AttachSpec

_ADDRESS = re.compile(r"^(0[xX][0-9a-fA-F]+|\d+)$")


def attach_pid(options: dict) -> int:
    """The process a user probe is restricted to: -p's, else every process (-1).
    As in bpftrace, `-c` does not restrict uprobes to the child."""
    pid = (options or {}).get("pid")
    return pid if pid is not None and pid > 0 else -1


def binary_path(ap, target, name: str, pid: int | None = None) -> str:
    try:
        return resolve_binary(target, name, pid if pid and pid > 0 else None)
    except SymbolError as e:
        raise PytraceError(f"{ap.raw or name}: {e}", ap.span) from None


def shown_path(path: str) -> str:
    """How a probe names its binary: as the traced process sees it (no /proc/PID/root)."""
    return re.sub(r"^/proc/\d+/root(?=/)", "", path)


def cpp_functions(elf: ElfSymbols, matches) -> list[tuple[str, object]]:
    """(demangled name, symbol) of C++ functions whose demangled name, or that name
    without its parameter list, satisfies `matches` (as bpftrace matches them)."""
    out = []
    for sym in elf.functions("_Z*"):
        full = demangle(sym.name)
        if full is not None and (matches(full) or matches(without_parameters(full))):
            out.append((full, sym))
    return out


def load_symbols(ap, target, path: str) -> ElfSymbols:
    try:
        return ElfSymbols.load(target, path)
    except (SymbolError, PermissionError, IsADirectoryError) as e:
        raise PytraceError(f"{ap.raw or path}: {e}", ap.span) from None


def check_instruction_start(ap, target, path: str, elf: ElfSymbols, sym, offset: int,
                            shown: str) -> None:
    """Refuse, in bpftrace's words, a uprobe `offset` bytes into function `sym` that
    does not start an instruction (a breakpoint there would change the
    instruction the process runs), or that cannot be checked."""
    if not offset:
        return
    where = f"{shown}:{sym.name}+{offset}"
    if elf.machine == "EM_AARCH64":       # fixed-size instructions
        starts = offset % 4 == 0
    elif elf.machine == "EM_X86_64":
        start = elf.file_offset(sym.address)
        end = start + (sym.size or offset + 16)
        starts = starts_instruction(target.read_file(path, end)[start:end], offset)
    else:
        starts = None
    if starts is None:
        raise PytraceError(f"Can't check if uprobe is in proper place: {where}", ap.span)
    if not starts:
        raise PytraceError(f"Could not add uprobe into middle of instruction: {where}",
                           ap.span)


class UprobeProvider(Provider):
    ctx_kind = "pt_regs"
    user = True
    prog_type = "uprobe"
    # A uprobe's consumers run newest first: attached last to first (runtime.attach).
    runs_newest_first = True
    expands_for_pid = True  # with -p, names resolve inside that process

    def __init__(self, name: str, aliases: tuple[str, ...], retprobe: bool):
        self.name, self.aliases, self.is_return = name, aliases, retprobe

    def expand(self, ap, target, pid: int | None = None) -> list[AttachSpec]:
        if len(ap.parts) < 2:
            raise PytraceError(f"{self.name} probe must be {self.name}:BINARY:FUNCTION",
                               ap.span)
        # An unquoted C++ name (`ns::f`) was split at its colons: put it back together.
        binary, func = ap.parts[0], ":".join(ap.parts[1:])
        if wildcard.has_wildcard(binary):
            raise PytraceError(f"{ap.raw}: wildcards in the binary path are not supported",
                               ap.span)
        path = binary_path(ap, target, binary, pid)
        elf = load_symbols(ap, target, path)
        shown = shown_path(path)
        offset = ap.offset or 0
        if self.is_return and offset:
            raise PytraceError(f"{ap.raw}: a {self.name} can not have an offset", ap.span)
        if _ADDRESS.match(func):
            # An absolute address in the binary (a virtual address, as nm shows it).
            addr = int(func, 0) if len(func.lstrip("0xX")) <= 20 else 1 << 64  # int() refuses 4300+ digits
            try:
                # Like bpftrace: an address must lie inside a function the binary names.
                inside = elf.symbolize_vaddr(addr + offset)
                if inside is None:
                    raise SymbolError("no function there")
                file_offset = elf.file_offset(addr + offset)
            except SymbolError:
                raise PytraceError(f"Could not resolve address: {shown}:{func}",
                                   ap.span) from None
            check_instruction_start(ap, target, path, elf, *inside, shown)
            return [AttachSpec(self.name, f"{self.name}:{shown}:{func}", path, func,
                               file_offset)]
        if wildcard.has_wildcard(func):
            if offset:
                raise PytraceError(f"{ap.raw}: an offset needs one function, not a wildcard",
                                   ap.span)
            rx = wildcard.compile_wildcard(func).fullmatch
            matches = [(s.name, s) for s in elf.functions(func)]
            seen = {s.address for _, s in matches}
            matches += [(d, s) for d, s in cpp_functions(elf, rx) if s.address not in seen]
            if not matches:
                raise NothingMatched(f"{ap.raw}: no function in {path} matches {func}",
                                     ap.span)
            return [AttachSpec(self.name, f"{self.name}:{shown}:{name}", path, name,
                               elf.file_offset(s.address)) for name, s in matches]
        if elf.lookup(func) is None:
            # Not a symbol as written: a C++ name, `ns::f` (every overload) or `ns::f(int)`.
            found = cpp_functions(elf, lambda d: d == func)
            if found and not offset:
                return [AttachSpec(self.name, f"{self.name}:{shown}:{d}", path, d,
                                   elf.file_offset(s.address)) for d, s in found]
        sym = elf.lookup(func)
        if sym is not None and offset and sym.size and offset >= sym.size:
            raise PytraceError(f"Offset outside the function bounds ('{func}' size is "
                               f"{sym.size})", ap.span)
        try:
            file_offset = elf.uprobe_offset(func, offset)
        except SymbolError as e:
            if elf.lookup(func) is None:
                raise NothingMatched(f"{ap.raw}: {e}", ap.span) from None
            raise PytraceError(f"{ap.raw}: {e}", ap.span) from None
        check_instruction_start(ap, target, path, elf, sym, offset, shown)
        suffix = f"+{offset}" if offset else ""
        return [AttachSpec(self.name, f"{self.name}:{shown}:{func}{suffix}", path, func,
                           file_offset)]

    def args_type(self, spec, target):
        return None  # typed uprobe args need DWARF, which pytrace does not read

    # ---- uprobe_multi: one link per binary ----------------------------------------
    def probe_ids_by_cookie(self, target) -> bool:
        return has_uprobe_multi(target)

    def program_attrs(self, specs, target) -> dict:
        return multi_program_attrs(target)

    def attach_program(self, target, prog_fd, program, options) -> list:
        return attach_points(target, prog_fd, program, options, self.is_return, self.attach)

    def attach(self, target, prog_fd, spec, options):
        return target.attach_uprobe(prog_fd, spec.target, spec.offset,
                                    retprobe=self.is_return, pid=attach_pid(options))


# ---- uprobe_multi, shared with usdt ---------------------------------------------------
# `probe` in a program attached to many points reads the attach cookie (each
# point's probe id, set at expansion) instead of splitting into one program per
# point; only uprobe_multi links carry a cookie per offset.

def has_uprobe_multi(target) -> bool:
    supports = getattr(target, "supports", None)
    return bool(supports and supports("uprobe_multi"))


def multi_program_attrs(target) -> dict:
    # The load must already know the attach path: a program loaded for
    # uprobe_multi links is refused by perf-event links, and the reverse.
    return {"expected_attach_type": ATTACH_TRACE_UPROBE_MULTI} if has_uprobe_multi(target) \
        else {}


def attach_points(target, prog_fd, program, options, retprobe: bool, attach_one) -> list:
    """Attach one program at all its points: one uprobe_multi link per binary when it
    was loaded for them, else `attach_one` (a perf event) per point. Returns the
    handles; on failure, detaches what it made."""
    specs = program.attach
    if program.expected_attach_type != ATTACH_TRACE_UPROBE_MULTI:
        return _each(target, [lambda s=s: _naming(s, attach_one, target, prog_fd, s, options)
                              for s in specs])
    by_path: dict[str, list] = {}
    for spec in specs:
        by_path.setdefault(spec.target, []).append(spec)
    pid = attach_pid(options)

    def link(group):
        return target.attach_uprobe_multi(
            prog_fd, group[0].target, [s.offset for s in group], retprobe=retprobe, pid=pid,
            ref_ctr_offsets=_ref_ctr_offsets(group), cookies=_cookies(group))

    def link_or_name_the_culprit(group):
        try:
            return link(group)
        except KernelError as e:
            if e.errno not in _POINT_ERRORS:
                raise
            culprit = group[0] if len(group) == 1 else _first_refused(target, link, group)
            raise (_named(culprit, e) if culprit else e) from None

    return _each(target, [lambda group=group: link_or_name_the_culprit(group)
                          for group in by_path.values()])


# A uprobe the kernel refuses because of where it is (ENOTSUPP: an instruction it
# cannot single-step, such as a lock-prefixed one), not because of the whole request.
_POINT_ERRORS = frozenset({errno.EINVAL, ENOTSUPP})


def _naming(spec, attach, *args):
    try:
        return attach(*args)
    except KernelError as e:
        raise _named(spec, e) if e.errno in _POINT_ERRORS else e from None


def _named(spec, e) -> AttachError:
    reason = ("the kernel cannot probe the instruction there" if e.errno == ENOTSUPP
              else errno_text(e.errno))
    return AttachError(f"Error attaching probe: {spec.name}: {reason}", e.errno)


def _first_refused(target, link, group):
    """One point of `group` the kernel refuses on its own (a group link failed):
    bisect, keeping the half that still fails; a half that links is detached again.
    None if every half links (the failure was not about one point)."""
    while len(group) > 1:
        half = group[:len(group) // 2]
        try:
            target.detach(link(half))
        except KernelError as e:
            if e.errno not in _POINT_ERRORS:
                raise
            group = half
        else:
            group = group[len(group) // 2:]
    try:
        target.detach(link(group))
    except KernelError:
        return group[0]
    return None


def _ref_ctr_offsets(specs) -> list[int] | None:
    """USDT semaphores: the kernel counts them up while the probe is attached."""
    offsets = [s.options.get("ref_ctr_offset", 0) for s in specs]
    return offsets if any(offsets) else None


def _cookies(specs) -> list[int] | None:
    """Each point's probe id (set by expansion when `probe` reads the cookie)."""
    if not any("probe_id" in s.options for s in specs):
        return None
    return [s.options.get("probe_id", 0) for s in specs]


def _each(target, attaches) -> list:
    """Run every attach; if one fails, detach the ones before it and re-raise."""
    handles = []
    try:
        for attach in attaches:
            handles.append(attach())
    except BaseException:
        for handle in handles:
            try:
                target.detach(handle)
            except Exception:   # already gone: the original failure is what matters
                pass
        raise
    return handles


PROVIDERS = [UprobeProvider("uprobe", ("u",), False),
             UprobeProvider("uretprobe", ("ur",), True)]
