"""C types by name: the script's own struct/union/enum/typedef definitions over the kernel's BTF.

The type pass asks this registry for `struct task_struct`, `u32 *` or an
enumerator such as `TCP_FIN_WAIT1`. A definition in the script wins over BTF
(bpftrace lets a script redefine a kernel type). Records are built one level
at a time: a member that is a pointer to a struct gets a *stub* record (its
name only, no fields), completed by `complete()` when a field is reached
through it, so `a->b->c->d` costs three lookups and recursive types
(task_struct -> task_struct) never recurse. Anonymous struct/union members are
flattened into their parent, with offsets from the parent's start, as C finds
their fields.
"""

from __future__ import annotations

import re

from pytrace import ast
from pytrace.diagnostics import PytraceError
from pytrace.kernel import btf as B
from pytrace.types import (INT64, UINT64, ArrayType, IntType, PointerType, RecordField,
                           RecordType, StringType, Type, VOID, align_up)

# C spellings of the integer types, as bpftrace accepts them in casts and definitions.
INTEGER_NAMES = {
    "int8": IntType(8, True), "int16": IntType(16, True), "int32": IntType(32, True),
    "int64": INT64, "uint8": IntType(8), "uint16": IntType(16), "uint32": IntType(32),
    "uint64": UINT64, "char": IntType(8, True), "signed char": IntType(8, True),
    "unsigned char": IntType(8), "short": IntType(16, True), "short int": IntType(16, True),
    "unsigned short": IntType(16), "unsigned short int": IntType(16),
    "int": IntType(32, True), "signed": IntType(32, True), "signed int": IntType(32, True),
    "unsigned": IntType(32), "unsigned int": IntType(32), "long": INT64, "long int": INT64,
    "unsigned long": UINT64, "unsigned long int": UINT64, "long long": INT64,
    "long long int": INT64, "unsigned long long": UINT64, "unsigned long long int": UINT64,
    "bool": IntType(8), "_Bool": IntType(8),
    "u8": IntType(8), "u16": IntType(16), "u32": IntType(32), "u64": UINT64,
    "s8": IntType(8, True), "s16": IntType(16, True), "s32": IntType(32, True), "s64": INT64,
}

# Type sizes are 32-bit (as BTF records them): larger arrays and records are refused.
MAX_TYPE_SIZE = 1 << 32

_TAGGED = re.compile(r"^(struct|union|enum)\s+([\w.]+)$")


def check_array_size(elem: Type, count: int, span=None) -> None:
    # Sizes are 32-bit further on (sizeof, map values, stack slots): refuse what
    # would not fit rather than truncate it.
    if count >= MAX_TYPE_SIZE or count * elem.size >= MAX_TYPE_SIZE:
        raise PytraceError(f"Array of {count} elements is too large "
                           f"(at most {MAX_TYPE_SIZE - 1} bytes)", span)


def is_stub(t: Type) -> bool:
    return isinstance(t, RecordType) and bool(t.name) and not t.fields and t.byte_size == 0


class CTypes:
    """Named C types of one compile: the script's definitions, then the target's BTF."""

    def __init__(self, btf, definitions: list[ast.CDefinition], includes=()):
        self.btf = btf
        self.includes = list(includes)
        every = [n for d in definitions for n in d.nested] + list(definitions)
        self.script = {(d.kind, d.name): d for d in every}
        self.enumerators = {name: value for d in definitions if d.kind == "enum"
                            for name, value in d.enumerators}
        self._records: dict[tuple[str, str], RecordType] = {}
        self._building: set[tuple[str, str]] = set()  # script records being laid out
        self._typedefs_seen: set[str] = set()

    # ---- by name --------------------------------------------------------------------
    def parse_name(self, text: str, span=None) -> Type:
        """`struct sock *`, `const char *`, `u32`, `unsigned long[4]` as a Type."""
        words = re.sub(r"\b(const|volatile|restrict|__user|__rcu)\b", " ", text)
        stars = words.count("*")
        array = re.search(r"\[(\d*)\]\s*$", words)
        base = " ".join(re.sub(r"\[\d*\]|\*", " ", words).split())
        t = self.named(base, span, allow_void=stars > 0)
        if array is not None and array.group(1):
            t = self.array_of(t, int(array.group(1)), span)
        for _ in range(stars):
            t = PointerType(t if t != VOID else None, c_name=self._pointer_name(text))
        return t

    @staticmethod
    def _pointer_name(text: str) -> str:
        return " ".join(text.replace("*", " *").split()).replace("* *", "**")

    def named(self, base: str, span=None, allow_void: bool = False) -> Type:
        if base in INTEGER_NAMES:
            return INTEGER_NAMES[base]
        if base == "void":
            if allow_void:
                return VOID
            raise PytraceError("Cannot use a value of type void", span)
        m = _TAGGED.match(base)
        if m is not None:
            kind, name = m.groups()
            if kind == "enum":
                return self._enum(name, span)
            return RecordType(f"{kind} {name}")  # a stub, completed on first use
        typedef = self.script.get(("typedef", base))
        if typedef is not None:
            if base in self._typedefs_seen:
                raise PytraceError(f"typedef {base} refers to itself", typedef.span or span)
            self._typedefs_seen.add(base)
            try:
                return self.type_name(typedef.aliased, span)
            finally:
                self._typedefs_seen.discard(base)
        if self.btf is not None:
            ids = self.btf.find_ids(base, B.TYPEDEF) or self.btf.find_ids(base, B.INT)
            if ids:
                return self.from_btf(ids[0])
        raise PytraceError(self._unknown(base), span)

    def type_name(self, tn: ast.TypeName, span=None) -> Type:
        t = self.named(tn.name, span or tn.span, allow_void=tn.pointer > 0)
        if tn.array is not None:
            t = self.array_of(t, tn.array, span or tn.span)
        for _ in range(tn.pointer):
            t = PointerType(t if t != VOID else None, c_name=str(tn))
        return t

    def _unknown(self, base: str) -> str:
        message = f"Unknown type: '{base}'"
        if self.btf is None:
            return message + " (the kernel has no BTF)"
        if self.includes:
            return (message + ": not in the kernel's BTF nor defined in the script "
                    "(pytrace reads types from BTF, not from included headers)")
        return message

    @staticmethod
    def array_of(elem: Type, count: int, span=None) -> Type:
        check_array_size(elem, count, span)
        if isinstance(elem, IntType) and elem.bits == 8:
            return StringType(count)  # char[N] is a string, as in bpftrace
        return ArrayType(elem, count)

    def _enum(self, name: str, span) -> Type:
        definition = self.script.get(("enum", name))
        if definition is not None:
            return IntType(32, any(v < 0 for _, v in definition.enumerators))
        if self.btf is not None:
            ids = self.btf.find_ids(name, B.ENUM) or self.btf.find_ids(name, B.ENUM64)
            if ids:
                return self.from_btf(ids[0])
        raise PytraceError(self._unknown(f"enum {name}"), span)

    # ---- records ----------------------------------------------------------------------
    def complete(self, t: RecordType, span=None) -> RecordType:
        """The record with its fields (a stub is looked up by name)."""
        if not is_stub(t):
            return t
        kind, _, name = t.name.partition(" ")
        key = (kind, name)
        cached = self._records.get(key)
        if cached is not None:
            return cached
        definition = self.script.get(key)
        if definition is not None:
            if key in self._building:
                raise PytraceError(f"{t.name} contains itself", definition.span or span)
            self._building.add(key)
            try:
                record = self._script_record(definition)
            finally:
                self._building.discard(key)
        elif self.btf is not None and (ids := self.btf.find_ids(
                name, B.STRUCT if kind == "struct" else B.UNION)):
            record = self._btf_record(ids[0])
        else:
            message = f"Unknown struct/union: '{t.name}'"  # 0.17's words
            if self.includes and self.btf is not None:
                message += (": not in the kernel's BTF nor defined in the script "
                            "(pytrace reads types from BTF, not from included headers)")
            raise PytraceError(message, span)
        self._records[key] = record
        return record

    def _script_record(self, d: ast.CDefinition) -> RecordType:
        fields, offset, size, align, bit_pos = [], 0, 0, 1, None
        for member in d.members:
            t = self.type_name(member.type, member.span)
            if isinstance(t, RecordType):
                t = self.complete(t, member.span)
            a = t.align
            align = max(align, a)
            if not member.name and isinstance(t, RecordType):
                # An anonymous struct/union: laid out as one member, its fields
                # reachable from here.
                if bit_pos is not None:
                    offset, bit_pos = (bit_pos + 7) // 8, None
                start = 0 if d.kind == "union" else align_up(offset, a)
                fields.extend(RecordField(f.name, f.type, start + f.offset, f.bit_offset,
                                          f.bit_size) for f in t.fields)
                offset = start + t.size
                size = max(size, offset)
                continue
            if member.bits is not None:
                # Bitfields pack into units of their declared type, as GCC does.
                unit_bits = t.size * 8
                pos = bit_pos if bit_pos is not None else offset * 8
                if (pos % unit_bits) + member.bits > unit_bits:
                    pos = align_up(pos, unit_bits)
                start = 0 if d.kind == "union" else pos
                fields.append(RecordField(member.name, t, start // 8, start % 8, member.bits))
                bit_pos = start + member.bits
                offset = (bit_pos + 7) // 8
                size = max(size, offset)
                continue
            if bit_pos is not None:
                offset, bit_pos = (bit_pos + 7) // 8, None
            start = 0 if d.kind == "union" else align_up(offset, a)
            fields.append(RecordField(member.name, t, start))
            offset = start + t.size
            size = max(size, offset)
        size = align_up(size, align)
        if size >= MAX_TYPE_SIZE:
            raise PytraceError(f"{d.kind} {d.name} is too large: {size} bytes "
                               f"(at most {MAX_TYPE_SIZE - 1})", d.span)
        return RecordType(f"{d.kind} {d.name}", tuple(fields), size)

    # ---- BTF --------------------------------------------------------------------------
    def from_btf(self, type_id: int) -> Type:
        btf = self.btf
        t = btf.resolve(type_id)
        if t.kind == B.INT:
            if t.encoding & B.INT_BOOL:
                return IntType(8)
            size = t.size if t.size in (1, 2, 4, 8) else 8
            return IntType(size * 8, t.is_signed)
        if t.kind in (B.ENUM, B.ENUM64):
            size = t.size if t.size in (1, 2, 4, 8) else 8
            return IntType(size * 8, t.is_signed)
        if t.kind == B.PTR:
            target = btf.resolve(t.ref) if t.ref else None
            pointee = None
            if target is not None and target.kind in (B.INT, B.ENUM, B.ENUM64):
                pointee = self.from_btf(t.ref)
            elif target is not None and target.kind in (B.STRUCT, B.UNION) and target.name:
                pointee = RecordType(("struct " if target.kind == B.STRUCT else "union ")
                                     + target.name)
            elif target is not None and target.kind == B.PTR:
                pointee = PointerType(None, c_name=btf.type_name(t.ref))
            return PointerType(pointee, c_name=btf.type_name(type_id))
        if t.kind == B.ARRAY:
            return self.array_of(self.from_btf(t.elem_type), t.nelems)
        if t.kind in (B.STRUCT, B.UNION):
            if t.name:
                return self.complete(RecordType(("struct " if t.kind == B.STRUCT
                                                 else "union ") + t.name))
            return self._btf_record(t.id)
        if t.kind == B.FWD:
            return RecordType(f"struct {t.name}")
        return UINT64  # void, functions, floats: the raw bits

    def _btf_record(self, type_id: int) -> RecordType:
        t = self.btf.resolve(type_id)
        fields: list[RecordField] = []
        self._add_btf_members(type_id, 0, fields)
        prefix = "struct " if t.kind == B.STRUCT else "union "
        return RecordType(prefix + (t.name or "(anon)"), tuple(fields), t.size)

    def _add_btf_members(self, type_id: int, base_bits: int, out: list[RecordField]) -> None:
        for m in self.btf.members(type_id):
            bits = base_bits + m.bit_offset
            if not m.name:
                inner = self.btf.resolve(m.type_id)
                if inner.kind in (B.STRUCT, B.UNION):
                    self._add_btf_members(inner.id, bits, out)
                continue
            t = self.from_btf(m.type_id)
            if m.is_bitfield:
                out.append(RecordField(m.name, t, bits // 8, bits % 8, m.bitfield_size))
            else:
                out.append(RecordField(m.name, t, bits // 8))

    # ---- constants -------------------------------------------------------------------
    def enum_value(self, name: str) -> int | None:
        if name in self.enumerators:
            return self.enumerators[name]
        if self.btf is not None:
            found = self.btf.find_enum_value(name)
            if found is not None:
                return found[1]
        return None
