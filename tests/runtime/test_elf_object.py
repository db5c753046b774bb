"""The BPF object reader: sections, symbols and relocations as pyelftools parses them."""

import pytest

from pytrace.runtime.elf_object import ElfObject, ElfObjectError
from tests.runtime.handmade import build_object, counter_body


def test_program_section_symbol_and_string_tables_are_read():
    obj = ElfObject(build_object(counter_body(1, 0)))
    by_name = {s.name: s for s in obj.sections}
    program = by_name["s_begin"]
    assert program.header["sh_type"] == "SHT_PROGBITS"
    assert len(program.data) % 8 == 0 and program.data[-8] == 0x95  # ends with exit
    symtab = next(s for s in obj.sections if s.header["sh_type"] == "SHT_SYMTAB")
    funcs = {name: sym for name, sym in obj.symbols(symtab)
             if sym["st_info"]["type"] == "STT_FUNC"}
    assert funcs["begin_prog"]["st_shndx"] == program.index


def test_bytes_that_are_not_a_64bit_little_endian_elf_are_refused():
    with pytest.raises(ElfObjectError):
        ElfObject(b"not an elf object at all" * 4)
    header = bytearray(build_object(counter_body(1, 0)))
    header[5] = 2  # big-endian
    with pytest.raises(ElfObjectError):
        ElfObject(bytes(header))
