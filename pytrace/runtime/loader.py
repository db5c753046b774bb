"""Load a compiled BPF object into a Target: create maps, patch map refs, load programs.

The compiler refers to maps only through `ld_imm64 rX, MAP_INDEX` with
src_reg = BPF_PSEUDO_MAP_FD (what `llvm.bpf.pseudo(1, INDEX)` lowers to), so
loading is: read each program's bytes out of the ELF object (pyelftools),
rewrite those immediates to the fds of the maps created from Resources.maps,
and BPF_PROG_LOAD each program with its type. A verifier rejection becomes a
PytraceError located at the probe's source span, carrying the few log lines
that say why.
"""

from __future__ import annotations

import errno
import re
import struct
from dataclasses import dataclass, field

from pytrace.diagnostics import PytraceError
from pytrace.resources import MapSpec, ProgramSpec, Resources
from pytrace.runtime.elf_object import ElfObject

MAP_TYPES = {
    "hash": 1, "array": 2, "percpu_hash": 5, "percpu_array": 6,
    "stack_trace": 7, "lru_hash": 9, "lru_percpu_hash": 10, "ringbuf": 27,
}

PROG_TYPES = {
    "kprobe": 2, "uprobe": 2, "usdt": 2, "tracepoint": 5, "perf_event": 7,
    "raw_tracepoint": 17, "tracing": 26,
    # BEGIN/END run through BPF_PROG_TEST_RUN, which raw tracepoint programs
    # support with an empty context.
    "begin": 17, "end": 17,
}

INSN_SIZE = 8
LD_IMM64 = 0x18
PSEUDO_MAP_FD = 1
PSEUDO_FUNC = 4  # ld_imm64 of a subprogram (callbacks of bpf_for_each_map_elem ...)


class LoadError(PytraceError):
    """A map or program the kernel would not take; `details` (verifier log
    lines) print after the located message."""

    def __init__(self, message: str, span=None, details: list[str] | None = None):
        super().__init__(message, span)
        self.details = details or []

    def render(self, source=None) -> str:
        text = super().render(source)
        return "\n".join([text, *("  " + ln for ln in self.details)])


@dataclass
class LoadedProgram:
    """One program loaded into the kernel: its spec, fd and verified size."""

    spec: ProgramSpec
    fd: int
    insn_count: int


@dataclass
class LoadedObject:
    """Everything a load created: map fds by Resources index and by name, programs."""

    resources: Resources
    map_fds: list[int] = field(default_factory=list)
    programs: list[LoadedProgram] = field(default_factory=list)

    def map_fd(self, name: str) -> int:
        return self.map_fds[self.resources.map_index(name)]

    def program(self, prog_type: str) -> LoadedProgram | None:
        for p in self.programs:
            if p.spec.prog_type == prog_type:
                return p
        return None

    def close(self, target) -> None:
        for p in self.programs:
            target.close(p.fd)
        for fd in self.map_fds:
            target.close(fd)
        self.programs, self.map_fds = [], []


# ---- reading the ELF object ---------------------------------------------------

class ObjectReader:
    """The program sections, function symbols and subprogram references of one
    BPF ELF object, parsed once."""

    def __init__(self, elf_object: bytes):
        elf = ElfObject(elf_object)
        self.sections: dict[str, bytes] = {}
        index_to_name: dict[int, str] = {}
        for section in elf.sections:
            if (section.header["sh_type"] == "SHT_PROGBITS"
                    and section.header["sh_flags"] & 0x4):  # SHF_EXECINSTR
                self.sections[section.name] = section.data
                index_to_name[section.index] = section.name
        # (section, function) -> (start, size), and (section, start) -> size.
        self.functions: dict[tuple[str, str], tuple[int, int]] = {}
        self.function_at: dict[tuple[str, int], tuple[int, str]] = {}
        symbols = []
        for section in elf.sections:
            if section.header["sh_type"] not in ("SHT_SYMTAB", "SHT_DYNSYM"):
                continue
            named = elf.symbols(section)
            symbols = [sym for _, sym in named]
            for name, sym in named:
                shndx = sym["st_shndx"]
                if sym["st_info"]["type"] == "STT_FUNC" and shndx in index_to_name:
                    where = (sym["st_value"], sym["st_size"])
                    self.functions[(index_to_name[shndx], name)] = where
                    self.function_at[(index_to_name[shndx], where[0])] = (where[1], name)
        # Relocations in program sections: (offset, section and value of the symbol).
        # LLVM emits them only for ld_imm64 references to subprograms (callbacks);
        # maps never need one (they are llvm.bpf.pseudo immediates).
        self.relocations: dict[str, list[tuple[int, str | None, int]]] = {}
        for section in elf.sections:
            if section.header["sh_type"] not in ("SHT_REL", "SHT_RELA"):
                continue
            applies_to = elf.sections[section.header["sh_info"]].name
            if applies_to not in self.sections:
                continue  # .eh_frame and other non-code sections
            for rel in elf.relocations(section):
                sym = symbols[rel["r_info_sym"]]
                self.relocations.setdefault(applies_to, []).append(
                    (rel["r_offset"], index_to_name.get(sym["st_shndx"]), sym["st_value"]))

    def program(self, spec: ProgramSpec) -> bytes:
        """The instructions of spec.function, followed by the subprograms it references."""
        return self.link(spec)[0]

    def link(self, spec: ProgramSpec) -> tuple[bytes, list[tuple[str, int]]]:
        """The program's instructions with its subprograms appended, and the
        (name, first instruction) of each subprogram."""
        data = self.sections.get(spec.section)
        if data is None:
            raise LoadError(f"internal: the BPF object has no section {spec.section!r}")
        where = self.functions.get((spec.section, spec.function))
        if where is None:
            start, size = 0, len(data)  # one function per section: the whole section
        else:
            start, size = where
            size = size or len(data) - start
        insns = bytearray(data[start:start + size])
        placed: dict[tuple[str, int], int] = {}  # subprogram -> its first insn index
        subprograms: list[tuple[str, int]] = []
        for offset, sym_section, sym_value in self.relocations.get(spec.section, []):
            if not start <= offset < start + size:
                continue
            pc = offset - start
            if insns[pc] != LD_IMM64 or sym_section is None:
                raise LoadError(f"internal: unsupported relocation in {spec.section} "
                                f"at {offset:#x}")
            # REL relocations keep the addend in the instruction: the byte offset of
            # the subprogram within its section.
            (addend,) = struct.unpack_from("<i", insns, pc + 4)
            key = (sym_section, sym_value + addend)
            if key not in placed:
                sub_size, sub_name = self.function_at.get(key, (None, ""))
                if sub_size is None:
                    raise LoadError(f"internal: relocation in {spec.section} points at "
                                    f"no function ({key[0]}+{key[1]:#x})")
                if any(key[1] <= off < key[1] + sub_size
                       for off, _, _ in self.relocations.get(key[0], [])):
                    raise LoadError("internal: nested subprogram references are not supported")
                placed[key] = len(insns) // INSN_SIZE
                subprograms.append((sub_name, placed[key]))
                insns += self.sections[key[0]][key[1]:key[1] + sub_size]
            # The kernel wants the subprogram's position relative to the next insn.
            insns[pc + 1] = (PSEUDO_FUNC << 4) | (insns[pc + 1] & 0x0F)
            struct.pack_into("<i", insns, pc + 4, placed[key] - pc // INSN_SIZE - 1)
        return bytes(insns), subprograms


def program_bytes(elf_object: bytes, spec: ProgramSpec) -> bytes:
    return ObjectReader(elf_object).program(spec)


def patch_map_fds(insns: bytes, map_fds: list[int]) -> bytes:
    """Rewrite every ld_imm64 with src_reg=BPF_PSEUDO_MAP_FD: imm MAP_INDEX -> fd."""
    if len(insns) % INSN_SIZE:
        raise LoadError("internal: program size is not a whole number of instructions")
    out = bytearray(insns)
    pc = 0
    while pc < len(out):
        opcode, regs = out[pc], out[pc + 1]
        if opcode == LD_IMM64:
            if regs >> 4 == PSEUDO_MAP_FD:
                (index,) = struct.unpack_from("<i", out, pc + 4)
                if not 0 <= index < len(map_fds):
                    raise LoadError(f"internal: map index {index} out of range")
                struct.pack_into("<i", out, pc + 4, map_fds[index])
            pc += 2 * INSN_SIZE  # ld_imm64 spans two instruction slots
        else:
            pc += INSN_SIZE
    return bytes(out)


# ---- kernel objects -----------------------------------------------------------

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


def kernel_name(name: str) -> str:
    """A name the kernel accepts for a map or program: [A-Za-z0-9_.], 15 chars."""
    name = name.replace("@", "AT_", 1) if name.startswith("@") else name
    # String ops, not a regex: this runs at every start-up, a compile is ~1 ms.
    return "".join(c if c in _NAME_CHARS else "_" for c in name[:15])


def create_map(target, spec: MapSpec) -> int:
    try:
        map_type = MAP_TYPES[spec.bpf_type]
    except KeyError:
        raise LoadError(f"internal: unknown map type {spec.bpf_type!r}") from None
    try:
        return target.map_create(map_type, spec.key_size, spec.value_size,
                                 spec.max_entries, name=kernel_name(spec.name))
    except PytraceError as e:  # KernelError: a ready message, name the user's map
        raise LoadError(f"Could not create map {spec.name}: {e.message}") from None


def load(target, elf_object: bytes, resources: Resources) -> LoadedObject:
    """Create every map and load every program in one Target step (one round trip
    to a remote target); on failure the Target closes what it made."""
    from pytrace.kernel.errors import KernelError, LoadStepError

    reader = ObjectReader(elf_object)
    maps = [map_request(spec) for spec in resources.maps]
    programs = []
    for spec in resources.programs:
        linked, subprograms = reader.link(spec)
        patch_map_fds(linked, list(range(len(maps))))   # checks the map indexes
        programs.append(program_request(spec, linked, subprograms))

    def explain(error):
        """The located error for a failed load step."""
        if isinstance(error, LoadStepError):
            if error.kind == "map":
                name = resources.maps[error.index].name
                return LoadError(f"Could not create map {name}: {error.cause.message}")
            return program_error(resources.programs[error.index], error.cause, resources)
        if isinstance(error, KernelError):
            return LoadError(error.message)
        return error

    try:
        # A remote target sends this with its next request (BEGIN's run, the
        # attaches) and raises explain(error) there.
        map_fds, prog_fds = target.load_all_later(maps, programs, explain)
    except (LoadStepError, KernelError) as e:
        raise explain(e) from None
    loaded = LoadedObject(resources, list(map_fds))
    for spec, fd, request in zip(resources.programs, prog_fds, programs):
        loaded.programs.append(LoadedProgram(spec, fd, len(request["insns"]) // INSN_SIZE))
    return loaded


def map_request(spec: MapSpec) -> dict:
    try:
        map_type = MAP_TYPES[spec.bpf_type]
    except KeyError:
        raise LoadError(f"internal: unknown map type {spec.bpf_type!r}") from None
    return {"type": map_type, "key_size": spec.key_size, "value_size": spec.value_size,
            "max_entries": spec.max_entries, "name": kernel_name(spec.name)}


def program_request(spec: ProgramSpec, insns: bytes,
                    subprograms: list[tuple[str, int]] | None = None) -> dict:
    """What Target.load_all takes for one program (map references still indexes);
    a program with subprograms carries the BTF that declares them."""
    prog_type = PROG_TYPES.get(spec.prog_type)
    if prog_type is None:
        raise LoadError(f"internal: unknown program type {spec.prog_type!r}")
    request = {"prog_type": prog_type, "insns": insns, "name": kernel_name(spec.function),
               "expected_attach_type": spec.expected_attach_type,
               "attach_btf_id": spec.attach_btf_id}
    if subprograms:
        from pytrace.runtime import func_btf
        request["btf"], request["func_info"] = func_btf.build(spec.function, subprograms)
    return request


def program_error(spec: ProgramSpec, error, resources: Resources | None) -> LoadError:
    """The located error for a program the kernel refused (a ProgLoadError)."""
    if getattr(error, "errno", 0) == errno.EPERM:
        # Not the verifier: the kernel refused the program itself (policy, a
        # program type it forbids); the kernel layer's message names why.
        return LoadError(f"Could not load the program for {program_title(spec, resources)}:"
                         f" {error.message}", spec.span)
    return verifier_error(spec, _log_of(error) or str(error), resources)


def load_program(target, spec: ProgramSpec, insns: bytes,
                 resources: Resources | None = None,
                 subprograms: list[tuple[str, int]] | None = None) -> int:
    """Load one program whose map references are fds already."""
    from pytrace.kernel.errors import LoadStepError

    request = program_request(spec, insns, subprograms)
    try:
        return target.load_all([], [request])[1][0]
    except LoadStepError as e:
        raise program_error(spec, e.cause, resources) from None


def _log_of(err) -> str:
    return getattr(err, "log", None) or getattr(err, "verifier_log", None) or ""


BPF_STACK_BYTES = 512

# Log lines that are statistics, not reasons.
# (A pattern string: compiled only when a program is rejected.)
_NOISE = (r"^(processed \d+ insns|verification time|stack depth|"
          r"max_states_per_insn|Func#|func#|Validating )")


def verifier_summary(log: str, max_lines: int = 4) -> list[str]:
    """The last few meaningful lines of a verifier log: the instruction and reason."""
    lines = [ln.rstrip() for ln in log.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(_NOISE, ln)]
    return lines[-max_lines:]


def program_title(spec: ProgramSpec, resources: Resources | None = None) -> str:
    """How messages name a program: its attach points, else its probe."""
    if spec.attach:
        return ", ".join(a.name for a in spec.attach)
    if resources and 0 <= spec.probe_index < len(resources.probe_names):
        return resources.probe_names[spec.probe_index]
    return spec.prog_type.upper()


def verifier_error(spec: ProgramSpec, log: str, resources: Resources) -> LoadError:
    summary = verifier_summary(log)
    message = f"The BPF verifier rejected the program for {program_title(spec, resources)}"
    if summary:
        message += f": {summary[-1].strip()}"
        if "cannot use helper bpf_override_return" in summary[-1]:
            # The kernel offers the helper only when built with it.
            message += (" (override() needs a kernel built with "
                         "CONFIG_BPF_KPROBE_OVERRIDE)")
        deepest = re.search(r"(?:write to|read from) stack R10 off=-(\d+)", summary[-1])
        if deepest and int(deepest.group(1)) > BPF_STACK_BYTES:
            # The backend lets a big frame through (-bpf-stack-size); the verifier
            # names only one access of it.
            message += (f" (the program needs at least {deepest.group(1)} bytes of stack; "
                        f"BPF allows {BPF_STACK_BYTES})")
    return LoadError(message, spec.span, summary[:-1] if summary else [])
