"""USDT probes: the `.note.stapsdt` notes that sys/sdt.h puts in a binary.

Owns reading the notes (provider, name, probe address, semaphore) and turning
them into what an attach needs: the probe's FILE offset for the uprobe and the
semaphore's file offset for the kernel's uprobe reference counter
(ref_ctr_offset), and parsing each note's argument spec (`-4@%edi 8@-16(%rbp)
4@$5`) into typed arguments whose registers are mapped to `struct pt_regs`
offsets (x86_64 and aarch64). Binaries are read through a Target.
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from pytrace.kernel import wildcard
from pytrace.kernel.elf_symbols import (Segment, load_segments, process_path, read_maps,
                                        segment_file_offset)

NT_STAPSDT = 3
NOTE_OWNER = b"stapsdt"


class UsdtError(Exception):
    """A binary whose USDT notes or argument specs cannot be understood."""


# ---- registers ----------------------------------------------------------------------------

# x86_64 struct pt_regs (arch/x86/include/asm/ptrace.h): byte offset of each slot.
_X86_SLOTS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40, "r11": 48,
              "r10": 56, "r9": 64, "r8": 72, "rax": 80, "rcx": 88, "rdx": 96, "rsi": 104,
              "rdi": 112, "orig_rax": 120, "rip": 128, "cs": 136, "eflags": 144,
              "rsp": 152, "ss": 160}


def _x86_registers() -> dict[str, tuple[str, int, int]]:
    """Every x86_64 register spelling -> (64-bit slot name, byte offset in
    pt_regs, width in bytes). `%ah`-style high bytes live one byte into the slot."""
    regs: dict[str, tuple[str, int, int]] = {}
    for letter in "abcd":
        slot = f"r{letter}x"
        off = _X86_SLOTS[slot]
        regs.update({slot: (slot, off, 8), f"e{letter}x": (slot, off, 4),
                     f"{letter}x": (slot, off, 2), f"{letter}l": (slot, off, 1),
                     f"{letter}h": (slot, off + 1, 1)})
    for base in ("si", "di", "bp", "sp"):
        slot = "r" + base
        off = _X86_SLOTS[slot]
        regs.update({slot: (slot, off, 8), "e" + base: (slot, off, 4),
                     base: (slot, off, 2), base + "l": (slot, off, 1)})
    for n in range(8, 16):
        slot = f"r{n}"
        off = _X86_SLOTS[slot]
        regs.update({slot: (slot, off, 8), f"r{n}d": (slot, off, 4),
                     f"r{n}w": (slot, off, 2), f"r{n}b": (slot, off, 1)})
    regs["rip"] = ("rip", _X86_SLOTS["rip"], 8)
    return regs


def _arm64_registers() -> dict[str, tuple[str, int, int]]:
    """aarch64 user_pt_regs: regs[0..30], sp, pc, pstate (8 bytes each)."""
    regs: dict[str, tuple[str, int, int]] = {}
    for n in range(31):
        regs[f"x{n}"] = (f"x{n}", 8 * n, 8)
        regs[f"w{n}"] = (f"x{n}", 8 * n, 4)
    regs["sp"] = ("sp", 248, 8)
    regs["pc"] = ("pc", 256, 8)
    return regs


REGISTERS = {"EM_X86_64": _x86_registers(), "EM_AARCH64": _arm64_registers()}


# ---- arguments ----------------------------------------------------------------------------

@dataclass(frozen=True)
class UsdtArg:
    """One probe argument.

    kind "reg": the value is in register `reg` (pt_regs offset `reg_offset`);
    kind "mem": it is at `offset` + value of `reg` (+ `index_reg` * `scale`),
    or at symbol `symbol` + offset for a %rip-relative global;
    kind "const": it is the number `offset`.
    `size` is the argument's width in bytes and `signed` its signedness.
    """

    spec: str
    size: int
    signed: bool
    kind: str
    reg: str = ""
    reg_offset: int = -1
    offset: int = 0
    index_reg: str = ""
    index_reg_offset: int = -1
    scale: int = 1
    symbol: str = ""


_SIZE = re.compile(r"^(-?)(\d+)@(.*)$")
_X86_MEM = re.compile(
    r"^(?P<disp>[-+]?(?:0x[0-9a-fA-F]+|\d+))?(?P<sym>[A-Za-z_.$][\w.$@]*(?:[-+]\d+)?)?"
    r"\(%(?P<base>\w+)(?:,%(?P<index>\w+)(?:,(?P<scale>\d+))?)?\)$")
_ARM_MEM = re.compile(r"^\[(?P<base>\w+)(?:\s*,\s*#?(?P<disp>[-+]?(?:0x[0-9a-fA-F]+|\d+)))?\]$")
_NUMBER = re.compile(r"^[-+]?(?:0x[0-9a-fA-F]+|\d+)$")


def _register(regs: dict, name: str, spec: str) -> tuple[str, int, int]:
    try:
        return regs[name]
    except KeyError:
        raise UsdtError(f"unknown register {name!r} in USDT argument {spec!r}") from None


def parse_arg(spec: str, machine: str = "EM_X86_64") -> UsdtArg:
    """Parse one argument spec such as `-4@%edi`, `8@-16(%rbp)`, `4@$5`,
    `8@(%rsp,%rdx,8)`, or on aarch64 `8@x0`, `4@[sp, 12]`."""
    regs = REGISTERS.get(machine)
    if regs is None:
        raise UsdtError(f"USDT arguments on {machine} are not supported yet")
    m = _SIZE.match(spec)
    if m:
        signed, size, operand = m.group(1) == "-", int(m.group(2)), m.group(3)
    else:
        # Old sdt.h wrote no size: the value is a signed long.
        signed, size, operand = True, 8, spec
    if size not in (1, 2, 4, 8):
        raise UsdtError(f"bad size {size} in USDT argument {spec!r}")
    if machine == "EM_X86_64":
        if operand.startswith("$"):
            return UsdtArg(spec, size, signed, "const", offset=int(operand[1:], 0))
        if operand.startswith("%"):
            slot, off, _ = _register(regs, operand[1:], spec)
            return UsdtArg(spec, size, signed, "reg", slot, off)
        mm = _X86_MEM.match(operand)
        if mm:
            base, base_off, _ = _register(regs, mm.group("base"), spec)
            disp = int(mm.group("disp"), 0) if mm.group("disp") else 0
            symbol = ""
            if mm.group("sym"):
                # `counter+8(%rip)`: a global; the symbol's address is the base.
                sym_m = re.match(r"^(.*?)([-+]\d+)?$", mm.group("sym"))
                symbol = sym_m.group(1)
                disp += int(sym_m.group(2)) if sym_m.group(2) else 0
            index, index_off, scale = "", -1, 1
            if mm.group("index"):
                index, index_off, _ = _register(regs, mm.group("index"), spec)
                scale = int(mm.group("scale") or 1)
            return UsdtArg(spec, size, signed, "mem", base, base_off, disp,
                           index, index_off, scale, symbol)
    else:  # aarch64
        if _NUMBER.match(operand) or operand.startswith("#"):
            return UsdtArg(spec, size, signed, "const", offset=int(operand.lstrip("#"), 0))
        if operand in regs:
            slot, off, _ = regs[operand]
            return UsdtArg(spec, size, signed, "reg", slot, off)
        mm = _ARM_MEM.match(operand)
        if mm:
            base, base_off, _ = _register(regs, mm.group("base"), spec)
            disp = int(mm.group("disp"), 0) if mm.group("disp") else 0
            return UsdtArg(spec, size, signed, "mem", base, base_off, disp)
    raise UsdtError(f"cannot parse USDT argument {spec!r}")


def parse_args(specs: str, machine: str = "EM_X86_64") -> list[UsdtArg]:
    """Parse a note's whole argument string (specs separated by spaces).

    aarch64 memory operands contain a space after the comma (`[sp, 12]`), so
    split on spaces that are not inside brackets.
    """
    parts, depth, cur = [], 0, ""
    for ch in specs.strip():
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == " " and depth == 0:
            if cur:
                parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [parse_arg(p, machine) for p in parts]


# ---- notes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class UsdtProbe:
    """One probe site. `pc` and `semaphore` are virtual addresses as in the
    binary (pc already adjusted for prelinking); `file_offset` is where the
    uprobe goes; `semaphore_offset` is the semaphore's file offset (0 if the
    probe has none) for the uprobe's ref_ctr_offset."""

    path: str
    provider: str
    name: str
    pc: int
    base: int
    semaphore: int
    file_offset: int
    semaphore_offset: int
    arg_spec: str
    args: list[UsdtArg]

    @property
    def has_semaphore(self) -> bool:
        return self.semaphore != 0


def read_probes(data: bytes, path: str = "") -> list[UsdtProbe]:
    """Every USDT probe site in an ELF file given as bytes, in note order."""
    try:
        elf = ELFFile(io.BytesIO(data))
        notes = elf.get_section_by_name(".note.stapsdt")
        if notes is None:
            return []
        raw = notes.data()
        base_section = elf.get_section_by_name(".stapsdt.base")
        actual_base = base_section.header.sh_addr if base_section is not None else 0
        segments = load_segments(elf)
        addr_size = 8 if elf.elfclass == 64 else 4
        machine = elf.header.e_machine
        little = elf.little_endian
    except (ELFError, ValueError, struct.error) as e:
        raise UsdtError(f"{path or 'binary'}: not a readable ELF file ({e})") from None
    end = "<" if little else ">"
    probes, pos = [], 0
    while pos + 12 <= len(raw):
        namesz, descsz, ntype = struct.unpack_from(end + "III", raw, pos)
        pos += 12
        owner = raw[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = raw[pos:pos + descsz]
        pos += (descsz + 3) & ~3
        if owner != NOTE_OWNER or ntype != NT_STAPSDT:
            continue
        pc, note_base, sema = struct.unpack_from(end + ("QQQ" if addr_size == 8 else "III"),
                                                 desc, 0)
        strings = desc[3 * addr_size:].split(b"\0")
        provider, name = strings[0].decode(), strings[1].decode()
        arg_spec = strings[2].decode() if len(strings) > 2 else ""
        if actual_base and note_base:
            # Prelink moves the binary; the note keeps the old .stapsdt.base,
            # so shift pc by how far that section moved.
            pc += actual_base - note_base
        probes.append(UsdtProbe(
            path, provider, name, pc, note_base, sema,
            _file_offset(segments, pc, path),
            _file_offset(segments, sema, path) if sema else 0,
            arg_spec, parse_args(arg_spec, machine) if arg_spec else []))
    return probes


def _file_offset(segments: list[Segment], vaddr: int, path: str) -> int:
    offset = segment_file_offset(segments, vaddr)
    if offset is None:
        raise UsdtError(f"{path}: USDT address 0x{vaddr:x} is in no loadable segment")
    return offset


def load_probes(target, path: str) -> list[UsdtProbe]:
    """USDT probes of the binary or library at `path` on the target."""
    try:
        data = target.read_file(path)
    except OSError as e:  # a directory, no permission, a device that refuses reads
        raise UsdtError(f"{path}: {e.strerror or e}") from None
    return read_probes(data, path)


def load_process_probes(target, pid: int) -> list[UsdtProbe]:
    """USDT probes of every file a running process maps (executable and
    libraries), for `usdt:*` with -p. Paths go through /proc/PID/root so they
    name the process's own files even inside a container."""
    probes: list[UsdtProbe] = []
    seen: set[str] = set()
    for m in read_maps(target, pid):
        if not m.is_file or m.path in seen or m.path.endswith(" (deleted)"):
            continue
        seen.add(m.path)
        try:
            probes.extend(load_probes(target, process_path(pid, m.path)))
        except (UsdtError, OSError):
            continue  # not ELF (locale archives, fonts...) or gone
    return probes


def match_probes(probes: list[UsdtProbe], provider_pattern: str,
                 name_pattern: str) -> list[UsdtProbe]:
    """Probe sites matching `usdt:PATH:provider:name` wildcards. A bpftrace
    `usdt:PATH:name` without provider passes "*" as provider_pattern."""
    prov = wildcard.compile_wildcard(provider_pattern).fullmatch
    name = wildcard.compile_wildcard(name_pattern).fullmatch
    return [p for p in probes if prov(p.provider) and name(p.name)]
