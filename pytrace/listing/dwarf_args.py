"""Parameters of user functions from DWARF, for `-lv uprobe:BINARY:FUNC`.

Reads `.debug_info` with pyelftools once per binary: each defined function's
formal parameters as `TYPE NAME` (`int a`, `char** argv`, `const char* msg`),
type names spelled as the DWARF producer wrote them, like bpftrace.
Binaries without DWARF give None (the caller warns, as bpftrace does).
"""

from __future__ import annotations

import io

from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile


def function_parameters(data: bytes) -> dict[str, list[str]] | None:
    """{function name: ["TYPE NAME", ...]} of an ELF file, None without DWARF."""
    try:
        elf = ELFFile(io.BytesIO(data))
        if not elf.has_dwarf_info() or elf.get_section_by_name(".debug_info") is None:
            return None
        dwarf = elf.get_dwarf_info()
        out: dict[str, list[str]] = {}
        for cu in dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag != "DW_TAG_subprogram" or "DW_AT_name" not in die.attributes:
                    continue
                if "DW_AT_declaration" in die.attributes:
                    continue  # a prototype, not the definition
                name = die.attributes["DW_AT_name"].value.decode(errors="replace")
                params = [_parameter(child) for child in die.iter_children()
                          if child.tag == "DW_TAG_formal_parameter"]
                out.setdefault(name, params)
        return out
    except (ELFError, DWARFError, ValueError, KeyError, AttributeError):
        return None


def _parameter(die) -> str:
    name = die.attributes.get("DW_AT_name")
    text = name.value.decode(errors="replace") if name is not None else ""
    return f"{type_name(die)} {text}".rstrip()


def type_name(die, depth: int = 0) -> str:
    """C spelling of the DW_AT_type of `die` (void when it has none)."""
    if "DW_AT_type" not in die.attributes or depth > 32:
        return "void"
    t = die.get_DIE_from_attribute("DW_AT_type")
    tag = t.tag
    name = t.attributes.get("DW_AT_name")
    named = name.value.decode(errors="replace") if name is not None else ""
    if tag == "DW_TAG_pointer_type":
        if "DW_AT_type" in t.attributes and \
                t.get_DIE_from_attribute("DW_AT_type").tag == "DW_TAG_subroutine_type":
            return type_name(t.get_DIE_from_attribute("DW_AT_type"), depth + 1) + " (*)()"
        return type_name(t, depth + 1) + "*"  # bpftrace's spelling: `char** argv`
    if tag in ("DW_TAG_const_type", "DW_TAG_volatile_type"):
        word = "const" if tag == "DW_TAG_const_type" else "volatile"
        inner = type_name(t, depth + 1)
        return f"{inner} {word}" if inner.endswith("*") else f"{word} {inner}".rstrip()
    if tag == "DW_TAG_structure_type":
        return f"struct {named or '(anon)'}"
    if tag == "DW_TAG_union_type":
        return f"union {named or '(anon)'}"
    if tag == "DW_TAG_enumeration_type":
        return f"enum {named or '(anon)'}"
    if tag == "DW_TAG_array_type":
        return type_name(t, depth + 1) + "[]"
    if tag in ("DW_TAG_restrict_type", "DW_TAG_atomic_type") and not named:
        return type_name(t, depth + 1)
    return named or "void"
