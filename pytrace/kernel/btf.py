"""BTF: the kernel's own type information, parsed from raw blobs.

Owns reading /sys/kernel/btf/vmlinux and module BTF (split on vmlinux), finding
types by name, struct/union members (offsets, bitfields), enums, typedef and
qualifier chains, sizes, function prototypes (fentry/fexit, tp_btf arguments)
and a C-ish printer for type names. Blobs come through a Target, so a remote
machine's BTF is parsed on the host exactly like the local one.

Indexing is lazy: opening a blob only learns where each record starts
(vmlinux has ~130k types); records are decoded when asked for, and names are
matched by locating the string first (bytes.find) and then its string offset
among the records' name offsets (array.index, C speed). Walking the record
headers is the one Python loop (~25 ms of a ~55 ms first open), so the two
offset arrays are cached on disk under ~/.cache/pytrace/btf, keyed by the
blob's SHA-1: later processes open vmlinux BTF in ~15 ms (bench/btf_lookup.py).
"""

from __future__ import annotations

import hashlib
import os
import struct
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field

BTF_MAGIC = 0xEB9F
VMLINUX_PATH = "/sys/kernel/btf/vmlinux"
BTF_DIR = "/sys/kernel/btf"

# Kinds, numbered as in include/uapi/linux/btf.h.
VOID, INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, \
    FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(20)

KIND_NAMES = ["VOID", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF",
              "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC",
              "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64"]
KIND_BY_NAME = {name: kind for kind, name in enumerate(KIND_NAMES)}

# Record length in u32 words after the 3-word header: fixed part + per-vlen part.
# FUNC's vlen is its linkage, not a count, hence 0 words per vlen.
_FIXED_WORDS = [0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0] + [0] * 12
_WORDS_PER_VLEN = [0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3] + [0] * 12

# Kinds that only wrap another type without changing its layout.
QUALIFIERS = (VOLATILE, CONST, RESTRICT, TYPE_TAG)

INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4
POINTER_SIZE = 8  # every target pytrace supports is 64-bit (x86_64, aarch64)


class BTFError(Exception):
    """A malformed blob or a lookup that cannot be answered."""


@dataclass(frozen=True)
class Member:
    """A struct/union member. `offset` is in bytes from the start of the outer
    struct (for a bitfield: of the byte holding its first bit); bit_offset is the
    full offset in bits; bitfield_size is 0 for a plain member."""

    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0

    @property
    def offset(self) -> int:
        return self.bit_offset // 8

    @property
    def is_bitfield(self) -> bool:
        return self.bitfield_size != 0


@dataclass(frozen=True)
class EnumValue:
    name: str
    value: int


@dataclass(frozen=True)
class Param:
    name: str  # "" when BTF has no name (typedef'd prototypes)
    type_id: int


@dataclass(frozen=True)
class SecVar:
    type_id: int
    offset: int
    size: int


@dataclass
class BtfType:
    """One decoded BTF record. `ref` is the referenced type id (PTR, TYPEDEF,
    qualifiers, FUNC, VAR, DECL_TAG, FUNC_PROTO return type); `size` for sized
    kinds. Kind-specific parts live in the optional fields."""

    id: int
    kind: int
    name: str
    kind_flag: bool
    vlen: int
    size: int = 0
    ref: int = 0
    # INT
    encoding: int = 0
    bits: int = 0
    int_offset: int = 0
    # ARRAY
    elem_type: int = 0
    index_type: int = 0
    nelems: int = 0
    # STRUCT / UNION / ENUM / ENUM64 / FUNC_PROTO / DATASEC
    members: list[Member] = field(default_factory=list)
    values: list[EnumValue] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    variadic: bool = False
    sec_vars: list[SecVar] = field(default_factory=list)
    # VAR / FUNC linkage; DECL_TAG component index (-1: the type itself)
    linkage: int = 0
    component_idx: int = -1

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def is_signed(self) -> bool:
        if self.kind == INT:
            return bool(self.encoding & INT_SIGNED)
        if self.kind in (ENUM, ENUM64):
            return self.kind_flag
        return False


@dataclass(frozen=True)
class FuncSignature:
    """A function's prototype: return type id and named parameters."""

    name: str
    func_id: int  # the FUNC (or TYPEDEF) record; fentry's attach_btf_id
    proto_id: int
    ret_type_id: int
    params: list[Param]
    variadic: bool = False


class BTF:
    """One parsed BTF blob, optionally split on a base (module BTF on vmlinux).

    Type ids of a split blob continue after the base's; string offsets past the
    base's string section point into this blob's own strings.
    """

    def __init__(self, blob: bytes, base: "BTF | None" = None, name: str = "vmlinux"):
        if len(blob) < 24:
            raise BTFError(f"BTF blob {name!r} is too short")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            struct.unpack_from("<HBBIIIII", blob)
        if magic != BTF_MAGIC:
            # A big-endian target's blob starts 0xEB 0x9F; pytrace only parses
            # little-endian BTF today.
            raise BTFError(f"BTF blob {name!r} has bad magic {magic:#x}")
        self.name = name
        self.base = base
        self._blob = blob
        self._type_start = hdr_len + type_off
        self._str_start = hdr_len + str_off
        self._str_end = self._str_start + str_len
        self._str_base = base._str_total if base is not None else 0
        self._str_total = self._str_base + str_len
        self._first_id = base.nr_types if base is not None else 1
        self._words = array("I")
        self._words.frombytes(blob[self._type_start:self._type_start + type_len])
        self._name_offs: array | None = None
        self._decoded: dict[int, BtfType] = {}
        cache_path = _IndexCache.path_for(blob) if len(blob) >= _CACHE_MIN_BYTES else None
        cached = _IndexCache.load(cache_path) if cache_path else None
        if cached is not None:
            self._starts, self._name_offs = cached
        else:
            self._starts = self._scan_record_starts(self._words)
            if cache_path:
                _IndexCache.store(cache_path, self._starts, self._name_offsets())

    # ---- indexing ----------------------------------------------------------
    @staticmethod
    def _scan_record_starts(words: array) -> array:
        """Word index of every record. The loop is the whole cost of opening a
        blob, so it memoises the record length per distinct info word (a few
        thousand distinct values among ~130k records)."""
        starts = []
        append = starts.append
        length_of: dict[int, int] = {}
        get = length_of.get
        i, n = 0, len(words)
        while i < n:
            append(i)
            info = words[i + 1]
            length = get(info)
            if length is None:
                kind = (info >> 24) & 0x1F
                length = length_of[info] = 3 + _FIXED_WORDS[kind] + \
                    (info & 0xFFFF) * _WORDS_PER_VLEN[kind]
            i += length
        if i != n:
            raise BTFError("BTF type section ends inside a record")
        return array("I", starts)

    @property
    def nr_types(self) -> int:
        """One past the highest type id in this blob (ids start at 1; 0 is void)."""
        return self._first_id + len(self._starts)

    def _name_offsets(self) -> array:
        if self._name_offs is None:
            words = self._words
            self._name_offs = array("I", map(words.__getitem__, self._starts))
        return self._name_offs

    # ---- strings -------------------------------------------------------------
    def string(self, off: int) -> str:
        if off < self._str_base:
            return self.base.string(off)
        start = self._str_start + off - self._str_base
        end = self._blob.find(b"\0", start, self._str_end)
        if end < 0:
            raise BTFError(f"string offset {off} out of range")
        return self._blob[start:end].decode("utf-8", "replace")

    def _string_offsets(self, name: str) -> list[int]:
        """Every string offset (in this blob's numbering) holding exactly `name`."""
        needle = b"\0" + name.encode() + b"\0"
        offs = []
        pos = self._blob.find(needle, self._str_start, self._str_end)
        while pos >= 0:
            offs.append(pos + 1 - self._str_start + self._str_base)
            pos = self._blob.find(needle, pos + 1, self._str_end)
        return offs

    # ---- records -------------------------------------------------------------
    def type(self, type_id: int) -> BtfType:
        """The decoded record for a type id (0 is void)."""
        if type_id < self._first_id:
            if type_id == 0:
                return BtfType(0, VOID, "void", False, 0)
            if self.base is None:
                raise BTFError(f"no BTF type id {type_id}")
            return self.base.type(type_id)
        cached = self._decoded.get(type_id)
        if cached is None:
            cached = self._decoded[type_id] = self._decode(type_id)
        return cached

    def _decode(self, type_id: int) -> BtfType:
        idx = type_id - self._first_id
        if idx >= len(self._starts):
            raise BTFError(f"no BTF type id {type_id} in {self.name}")
        w = self._words
        i = self._starts[idx]
        name_off, info, size_or_type = w[i], w[i + 1], w[i + 2]
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kflag = bool(info >> 31)
        t = BtfType(type_id, kind, self.string(name_off), kflag, vlen)
        i += 3
        if kind in (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC):
            t.size = size_or_type
        else:
            t.ref = size_or_type
        if kind == INT:
            enc = w[i]
            t.encoding, t.int_offset, t.bits = enc >> 24 & 0x0F, enc >> 16 & 0xFF, enc & 0xFF
        elif kind == ARRAY:
            t.elem_type, t.index_type, t.nelems = w[i], w[i + 1], w[i + 2]
        elif kind in (STRUCT, UNION):
            for j in range(i, i + 3 * vlen, 3):
                off = w[j + 2]
                if kflag:  # bitfield size in the top 8 bits, bit offset below
                    t.members.append(Member(self.string(w[j]), w[j + 1], off & 0xFFFFFF, off >> 24))
                else:
                    t.members.append(Member(self.string(w[j]), w[j + 1], off))
        elif kind == ENUM:
            for j in range(i, i + 2 * vlen, 2):
                val = w[j + 1]
                if kflag and val >= 1 << 31:
                    val -= 1 << 32
                t.values.append(EnumValue(self.string(w[j]), val))
        elif kind == ENUM64:
            for j in range(i, i + 3 * vlen, 3):
                val = w[j + 1] | w[j + 2] << 32
                if kflag and val >= 1 << 63:
                    val -= 1 << 64
                t.values.append(EnumValue(self.string(w[j]), val))
        elif kind == FUNC_PROTO:
            for j in range(i, i + 2 * vlen, 2):
                t.params.append(Param(self.string(w[j]), w[j + 1]))
            # A trailing nameless param of type void marks `...`.
            if t.params and t.params[-1].type_id == 0 and not t.params[-1].name:
                t.params.pop()
                t.variadic = True
        elif kind == FUNC:
            t.linkage = vlen
        elif kind == VAR:
            t.linkage = w[i]
        elif kind == DATASEC:
            for j in range(i, i + 3 * vlen, 3):
                t.sec_vars.append(SecVar(w[j], w[j + 1], w[j + 2]))
        elif kind == DECL_TAG:
            cidx = w[i]
            t.component_idx = cidx - (1 << 32) if cidx >= 1 << 31 else cidx
        return t

    def types(self):
        """Every type of this blob (not its base), decoded one by one."""
        for type_id in range(self._first_id, self.nr_types):
            yield self.type(type_id)

    # ---- lookups by name -------------------------------------------------------
    def find_ids(self, name: str, kind: int | str | None = None) -> list[int]:
        """Ids of every type called `name` (optionally of one kind), base first."""
        if isinstance(kind, str):
            kind = KIND_BY_NAME[kind.upper()]
        found = self.base.find_ids(name, kind) if self.base is not None else []
        if not name:
            return found
        names = self._name_offsets()
        for off in self._string_offsets(name):
            pos = 0
            while True:
                try:
                    pos = names.index(off, pos)
                except ValueError:
                    break
                type_id = self._first_id + pos
                if kind is None or self.type(type_id).kind == kind:
                    found.append(type_id)
                pos += 1
        return found

    def find(self, name: str, kind: int | str | None = None) -> BtfType | None:
        """The first type called `name` (of `kind`), preferring a complete
        definition over a forward declaration."""
        ids = self.find_ids(name, kind)
        if not ids:
            return None
        types = [self.type(i) for i in ids]
        for t in types:
            if t.kind != FWD:
                return t
        return types[0]

    def find_struct(self, name: str) -> BtfType | None:
        """`struct NAME` (or a union of that name when no struct exists)."""
        return self.find(name, STRUCT) or self.find(name, UNION)

    # ---- type algebra ------------------------------------------------------------
    def resolve(self, type_id: int) -> BtfType:
        """Follow typedefs and qualifiers to the type that gives the layout."""
        t = self.type(type_id)
        seen = 0
        while t.kind in QUALIFIERS or t.kind == TYPEDEF:
            t = self.type(t.ref)
            seen += 1
            if seen > 64:
                raise BTFError(f"typedef loop at type id {type_id}")
        return t

    def strip_qualifiers(self, type_id: int) -> BtfType:
        """Follow const/volatile/restrict/type tags only (keep typedef names)."""
        t = self.type(type_id)
        while t.kind in QUALIFIERS:
            t = self.type(t.ref)
        return t

    def size_of(self, type_id: int) -> int:
        t = self.resolve(type_id)
        if t.kind in (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC):
            return t.size
        if t.kind == PTR:
            return POINTER_SIZE
        if t.kind == ARRAY:
            return t.nelems * self.size_of(t.elem_type)
        if t.kind == VAR:
            return self.size_of(t.ref)
        raise BTFError(f"type {self.type_name(type_id)!r} ({t.kind_name}) has no size")

    def members(self, type_id: int) -> list[Member]:
        t = self.resolve(type_id)
        if t.kind not in (STRUCT, UNION):
            raise BTFError(f"{self.type_name(type_id)!r} is not a struct or union")
        return t.members

    def find_member(self, type_id: int, name: str) -> Member | None:
        """Member `name` of a struct/union, looking through anonymous struct and
        union members as C does; the returned offset is from the outer type."""
        for m in self.members(type_id):
            if m.name == name:
                return m
            if not m.name:
                inner = self.resolve(m.type_id)
                if inner.kind in (STRUCT, UNION):
                    found = self.find_member(inner.id, name)
                    if found is not None:
                        return Member(found.name, found.type_id,
                                      m.bit_offset + found.bit_offset, found.bitfield_size)
        return None

    def enum_values(self, type_id: int) -> dict[str, int]:
        t = self.resolve(type_id)
        if t.kind not in (ENUM, ENUM64):
            raise BTFError(f"{self.type_name(type_id)!r} is not an enum")
        return {v.name: v.value for v in t.values}

    def find_enum_value(self, name: str) -> tuple[BtfType, int] | None:
        """The enum that defines enumerator `name`, and its value."""
        for off in self._string_offsets(name):
            for t in self._types_using_string_in_vlen(off):
                for v in t.values:
                    if v.name == name:
                        return t, v.value
        if self.base is not None:
            return self.base.find_enum_value(name)
        return None

    def _types_using_string_in_vlen(self, str_off: int):
        # Enumerator names live inside ENUM records, not in headers; find the
        # word in the type section and map it back to its enclosing record.
        words = self._words
        pos = 0
        while True:
            try:
                pos = words.index(str_off, pos)
            except ValueError:
                return
            rec = bisect_right(self._starts, pos) - 1
            t = self.type(self._first_id + rec)
            if t.kind in (ENUM, ENUM64):
                yield t
            pos += 1

    # ---- functions -----------------------------------------------------------------
    def func_signature(self, name: str) -> FuncSignature | None:
        """Prototype of kernel function `name` (a FUNC record), as fentry sees it."""
        func = self.find(name, FUNC)
        if func is None:
            return None
        return self._signature(name, func.id, func.ref)

    def tracepoint_signature(self, event: str) -> FuncSignature | None:
        """Arguments of a BTF-typed tracepoint (tp_btf / rawtracepoint).

        The kernel declares `typedef void (*btf_trace_EVENT)(void *__data, ...)`
        but that prototype has no parameter names; the names come from the
        `__bpf_trace_EVENT` FUNC when present. The first parameter (`__data`)
        is the tracepoint's private pointer, not an argument users see.
        """
        typedef = self.find("btf_trace_" + event, TYPEDEF)
        if typedef is None:
            return None
        ptr = self.resolve(typedef.id)
        if ptr.kind != PTR or self.resolve(ptr.ref).kind != FUNC_PROTO:
            raise BTFError(f"btf_trace_{event} is not a function pointer")
        sig = self._signature(event, typedef.id, self.resolve(ptr.ref).id)
        named = self.find("__bpf_trace_" + event, FUNC)
        if named is not None:
            proto = self.resolve(named.ref)
            if len(proto.params) == len(sig.params):
                sig = FuncSignature(event, typedef.id, sig.proto_id, sig.ret_type_id,
                                    [Param(p.name, q.type_id)
                                     for p, q in zip(proto.params, sig.params)],
                                    sig.variadic)
        return sig

    def _signature(self, name: str, func_id: int, proto_id: int) -> FuncSignature:
        proto = self.type(proto_id)
        if proto.kind != FUNC_PROTO:
            raise BTFError(f"{name} has no function prototype")
        return FuncSignature(name, func_id, proto_id, proto.ref, list(proto.params),
                             proto.variadic)

    def signature_text(self, sig: FuncSignature) -> str:
        """`ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)`"""
        params = [self.type_name(p.type_id, p.name) for p in sig.params]
        if sig.variadic:
            params.append("...")
        return f"{self.type_name(sig.ret_type_id)} {sig.name}({', '.join(params) or 'void'})"

    # ---- names -------------------------------------------------------------------------
    def type_name(self, type_id: int, declarator: str = "") -> str:
        """C-ish spelling: `struct task_struct *`, `const char *`, `char[16]`,
        `unsigned int`; with a declarator: `char comm[16]`, `int (*fn)(void)`."""
        t = self.type(type_id)
        k = t.kind
        if k == PTR:
            target = self.strip_qualifiers(t.ref)
            inner = "*" + declarator
            if target.kind in (ARRAY, FUNC_PROTO):
                inner = "(" + inner + ")"
            return self.type_name(t.ref, inner)
        if k == ARRAY:
            return self.type_name(t.elem_type, f"{declarator}[{t.nelems}]")
        if k == FUNC_PROTO:
            params = [self.type_name(p.type_id, p.name) for p in t.params]
            if t.variadic:
                params.append("...")
            return self.type_name(t.ref, f"{declarator}({', '.join(params) or 'void'})")
        if k in (CONST, VOLATILE, RESTRICT):
            word = {CONST: "const", VOLATILE: "volatile", RESTRICT: "restrict"}[k]
            if self.strip_qualifiers(t.ref).kind == PTR:
                # A qualified pointer: the qualifier follows the star.
                return self.type_name(t.ref, f" {word} {declarator}".rstrip())
            return word + " " + self.type_name(t.ref, declarator)
        if k == TYPE_TAG:
            return self.type_name(t.ref, declarator)
        if k == FUNC:
            return self.type_name(t.ref, t.name)
        if k == VAR:
            return self.type_name(t.ref, t.name)
        base = self._base_name(t)
        if not declarator:
            return base
        if declarator.startswith("["):
            return base + declarator
        return f"{base} {declarator}"

    def _base_name(self, t: BtfType) -> str:
        k = t.kind
        name = t.name or "(anon)"
        if k in (STRUCT, UNION):
            return ("struct " if k == STRUCT else "union ") + name
        if k in (ENUM, ENUM64):
            return "enum " + name
        if k == FWD:
            return ("union " if t.kind_flag else "struct ") + name
        if k == VOID:
            return "void"
        return name


# ---- on-disk index cache ----------------------------------------------------------------

_CACHE_MIN_BYTES = 256 * 1024  # small (module) blobs scan faster than a cache read
_CACHE_MAGIC = b"PTBTFIX1"


class _IndexCache:
    """Record starts and name offsets of a blob, stored by the blob's hash.

    The cache is an optimisation only: any failure to read or write it falls
    back to scanning. The directory is $PYTRACE_CACHE_DIR, else
    $XDG_CACHE_HOME/pytrace, else ~/.cache/pytrace.
    """

    @staticmethod
    def path_for(blob: bytes) -> str:
        root = os.environ.get("PYTRACE_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pytrace")
        digest = hashlib.sha1(blob, usedforsecurity=False).hexdigest()
        return os.path.join(root, "btf", f"{len(blob)}-{digest}.idx")

    @classmethod
    def load(cls, path: str) -> tuple[array, array] | None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        if raw[:8] != _CACHE_MAGIC or len(raw) < 12:
            return None
        (count,) = struct.unpack_from("<I", raw, 8)
        if len(raw) != 12 + 8 * count:
            return None
        starts, names = array("I"), array("I")
        starts.frombytes(raw[12:12 + 4 * count])
        names.frombytes(raw[12 + 4 * count:])
        return starts, names

    @classmethod
    def store(cls, path: str, starts: array, names: array) -> None:
        # Write then rename, so a concurrent reader never sees half a file
        # (a pid-named temporary avoids importing tempfile on this path).
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(_CACHE_MAGIC + struct.pack("<I", len(starts)))
                f.write(starts.tobytes())
                f.write(names.tobytes())
            os.replace(tmp, path)
        except OSError:
            pass


# ---- loading through a Target --------------------------------------------------------

def load_vmlinux(target) -> BTF:
    """The kernel's BTF, read through `target` (FileNotFoundError if the kernel
    was built without CONFIG_DEBUG_INFO_BTF)."""
    return BTF(target.read_file(VMLINUX_PATH), name="vmlinux")


def modules_with_btf(target) -> list[str]:
    """Names of loaded modules that carry their own (split) BTF."""
    try:
        names = target.list_dir(BTF_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n != "vmlinux")


def load_module(target, module: str, vmlinux: BTF) -> BTF:
    """A module's BTF, split on vmlinux: its type ids continue after vmlinux's."""
    return BTF(target.read_file(f"{BTF_DIR}/{module}"), base=vmlinux, name=module)
