"""Reading the BPF ELF object our compiler emits: its sections, symbols and relocations.

Parsed with pyelftools' structure definitions (`elftools.elf.structs`) rather than
its `ELFFile` facade: `elftools.elf.elffile` imports the DWARF, EH-ABI, notes and
dynamic-section readers at module level, 15-30 ms of every start-up that an object
of a few program sections never needs. Field values are pyelftools' own
(`sh_type` "SHT_PROGBITS", `st_info.type` "STT_FUNC", `r_info_sym` ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from elftools.elf.structs import ELFStructs


class ElfObjectError(Exception):
    """The bytes are not a 64-bit little-endian ELF object."""


@dataclass
class Section:
    """One section: its header fields as pyelftools parses them, and its bytes."""

    index: int
    name: str
    header: object  # pyelftools Container: sh_type, sh_flags, sh_info, sh_link ...
    data: bytes


class ElfObject:
    """The sections of one ELF object held in memory, with symbol and relocation readers."""

    def __init__(self, data: bytes):
        if data[:4] != b"\x7fELF" or len(data) < 64:
            raise ElfObjectError("not an ELF object")
        if data[4] != 2 or data[5] != 1:  # EI_CLASS 64-bit, EI_DATA little-endian
            raise ElfObjectError("not a 64-bit little-endian ELF object")
        self.data = data
        self.structs = ELFStructs(little_endian=True, elfclass=64)
        self.structs.create_basic_structs()
        ehdr = self.structs.Elf_Ehdr.parse(data)
        self.structs.create_advanced_structs(ehdr["e_type"], ehdr["e_machine"],
                                             ehdr["e_ident"]["EI_OSABI"])
        headers = [self.structs.Elf_Shdr.parse(data[off:off + ehdr["e_shentsize"]])
                   for off in range(ehdr["e_shoff"],
                                    ehdr["e_shoff"] + ehdr["e_shnum"] * ehdr["e_shentsize"],
                                    ehdr["e_shentsize"])]
        names = self._bytes(headers[ehdr["e_shstrndx"]]) if headers else b""
        self.sections = [Section(i, _c_string(names, h["sh_name"]), h, self._bytes(h))
                         for i, h in enumerate(headers)]

    def _bytes(self, header) -> bytes:
        if header["sh_type"] == "SHT_NOBITS":
            return b""
        return self.data[header["sh_offset"]:header["sh_offset"] + header["sh_size"]]

    def symbols(self, symtab: Section) -> list[tuple[str, object]]:
        """(name, pyelftools Elf_Sym) for each entry of a SHT_SYMTAB section."""
        strtab = self.sections[symtab.header["sh_link"]].data
        size = symtab.header["sh_entsize"] or self.structs.Elf_Sym.sizeof()
        out = []
        for off in range(0, len(symtab.data) - size + 1, size):
            sym = self.structs.Elf_Sym.parse(symtab.data[off:off + size])
            out.append((_c_string(strtab, sym["st_name"]), sym))
        return out

    def relocations(self, section: Section) -> list[object]:
        """The Elf_Rel / Elf_Rela entries of a SHT_REL / SHT_RELA section."""
        struct = (self.structs.Elf_Rela if section.header["sh_type"] == "SHT_RELA"
                  else self.structs.Elf_Rel)
        size = section.header["sh_entsize"] or struct.sizeof()
        return [struct.parse(section.data[off:off + size])
                for off in range(0, len(section.data) - size + 1, size)]


def _c_string(table: bytes, offset: int) -> str:
    end = table.find(b"\0", offset)
    return table[offset:end if end >= 0 else len(table)].decode("utf-8", "replace")
