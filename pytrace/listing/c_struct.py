"""A BTF type printed as a C definition, the way `bpftrace -lv "struct NAME"` shows it.

bpftrace prints types with libbpf's BTF dumper; this module reproduces that
layout: tab indentation, anonymous structs/unions/enums written inline,
bitfields as `TYPE NAME: BITS;`, gaps the compiler would not add itself made
explicit as anonymous bitfields (`long: 64;`), function pointer parameters
without names, and `__attribute__((packed))` when the offsets show packing.
BTF keeps no `__aligned()` attributes, so tail padding of cache-aligned
structs comes out as `long: 64;` lines, as in bpftrace.
"""

from __future__ import annotations

from pytrace.kernel import btf as B

POINTER_BITS = B.POINTER_SIZE * 8
# Anonymous-bitfield padding types, widest first.
_PAD_TYPES = (("long", POINTER_BITS), ("int", 32), ("short", 16), ("char", 8))


def format_type_definition(b, type_id: int) -> str:
    """`struct NAME {...};` followed by an empty line (bpftrace's spacing)."""
    return _definition(b, b.type(type_id), 0) + ";\n"


def _roundup(value: int, step: int) -> int:
    return (value + step - 1) // step * step


def align_of(b, type_id: int) -> int:
    """Alignment in bytes as the C compiler would choose it (1 for packed)."""
    t = b.type(type_id)
    k = t.kind
    if k in (B.INT, B.ENUM, B.ENUM64, B.FLOAT):
        return max(1, min(B.POINTER_SIZE, t.size))
    if k == B.PTR:
        return B.POINTER_SIZE
    if k in (B.TYPEDEF, B.VOLATILE, B.CONST, B.RESTRICT, B.TYPE_TAG):
        return align_of(b, t.ref)
    if k == B.ARRAY:
        return align_of(b, t.elem_type)
    if k in (B.STRUCT, B.UNION):
        best = 1
        for m in t.members:
            a = align_of(b, m.type_id)
            if a <= 0:
                return 0
            if not m.bitfield_size and m.bit_offset % (8 * a):
                return 1  # a member off its natural alignment: packed
            best = max(best, a)
        return 1 if t.size % best else best
    return 0


def _is_packed(b, t) -> bool:
    align = align_of(b, t.id)
    if align and t.size % align:
        return True
    for m in t.members:
        a = align_of(b, m.type_id)
        if a and not m.bitfield_size and m.bit_offset % (8 * a):
            return True
    return False


def _padding(cur: int, nxt: int, next_align: int, in_bitfield: bool) -> list[str]:
    """Anonymous bitfields filling bits [cur, nxt) that the compiler's own
    alignment would not fill (libbpf's choice of `long`/`int`/... markers)."""
    if cur >= nxt:
        return []
    out = []
    for pad_name, pad_bits in _PAD_TYPES:
        aligned = _roundup(cur, pad_bits)
        if aligned <= nxt:
            break
    if cur < aligned <= nxt:
        # An explicit marker is needed when the next member would not land
        # on `aligned` by itself, or when a sized marker would vanish into
        # the hole; inside a run of bitfields the count is always explicit.
        if in_bitfield or \
                (aligned == nxt and _roundup(cur, next_align * 8) != aligned) or \
                (aligned != nxt and nxt - aligned <= aligned - cur):
            out.append(f"{pad_name}: {aligned - cur if in_bitfield else 0};")
        cur = aligned
    while cur != nxt:
        left = nxt - cur
        if left >= pad_bits:
            out.append(f"{pad_name}: {pad_bits};")
            cur += pad_bits
            continue
        # The remainder: the narrowest type that holds it.
        for small_name, small_bits in reversed(_PAD_TYPES):
            if small_bits >= left:
                out.append(f"{small_name}: {left};")
                cur += left
                break
    return out


def _definition(b, t, lvl: int) -> str:
    """The body of a struct/union/enum, its closing brace at indent `lvl`."""
    if t.kind in (B.ENUM, B.ENUM64):
        return _enum_definition(t, lvl)
    keyword = "struct" if t.kind == B.STRUCT else "union"
    head = f"{keyword} {t.name} {{" if t.name else f"{keyword} {{"
    if not t.members:
        return head + "}"
    inner = "\t" * (lvl + 1)
    packed = _is_packed(b, t)
    lines, off, prev_bitfield = [head], 0, False
    for m in t.members:
        m_align = 1 if packed else align_of(b, m.type_id)
        in_bitfield = prev_bitfield and m.bitfield_size != 0
        lines += [inner + p for p in _padding(off, m.bit_offset, m_align, in_bitfield)]
        decl = _declaration(b, m.type_id, m.name, lvl + 1)
        if m.bitfield_size:
            decl += f": {m.bitfield_size}"
            off, prev_bitfield = m.bit_offset + m.bitfield_size, True
        else:
            try:
                size = b.size_of(m.type_id)
            except B.BTFError:
                size = 0  # flexible array or function: no size
            off, prev_bitfield = m.bit_offset + size * 8, False
        lines.append(f"{inner}{decl};")
    if t.kind == B.STRUCT:
        lines += [inner + p for p in _padding(off, t.size * 8, align_of(b, t.id), False)]
    tail = "\t" * lvl + "}"
    if packed:
        tail += " __attribute__((packed))"
    return "\n".join(lines + [tail])


def _enum_definition(t, lvl: int) -> str:
    head = f"enum {t.name} {{" if t.name else "enum {"
    if not t.values:
        return head + "}"
    inner = "\t" * (lvl + 1)
    return "\n".join([head, *(f"{inner}{v.name} = {v.value}," for v in t.values),
                      "\t" * lvl + "}"])


def _declaration(b, type_id: int, declarator: str, lvl: int) -> str:
    """C declaration of `declarator` with type `type_id`: `char comm[16]`,
    `void (*fn)(struct sk_buff *)`, an inline `struct {...} name`."""
    t = b.type(type_id)
    k = t.kind
    if k == B.PTR:
        target = b.strip_qualifiers(t.ref)
        inner = "*" + declarator
        if target.kind in (B.ARRAY, B.FUNC_PROTO):
            inner = f"({inner})"
        return _declaration(b, t.ref, inner, lvl)
    if k == B.ARRAY:
        return _declaration(b, t.elem_type, f"{declarator}[{t.nelems}]", lvl)
    if k == B.FUNC_PROTO:
        params = [_declaration(b, p.type_id, "", lvl) for p in t.params]
        if t.variadic:
            params.append("...")
        return _declaration(b, t.ref, f"{declarator}({', '.join(params) or 'void'})", lvl)
    if k in (B.CONST, B.VOLATILE, B.RESTRICT):
        word = {B.CONST: "const", B.VOLATILE: "volatile", B.RESTRICT: "restrict"}[k]
        if b.strip_qualifiers(t.ref).kind == B.PTR:
            return _declaration(b, t.ref, f" {word} {declarator}".rstrip(), lvl)
        return f"{word} {_declaration(b, t.ref, declarator, lvl)}"
    if k == B.TYPE_TAG:
        return _declaration(b, t.ref, declarator, lvl)
    if k in (B.STRUCT, B.UNION, B.ENUM, B.ENUM64) and not t.name:
        base = _definition(b, t, lvl)
    elif k in (B.STRUCT, B.UNION):
        base = ("struct " if k == B.STRUCT else "union ") + t.name
    elif k in (B.ENUM, B.ENUM64):
        base = "enum " + t.name
    elif k == B.FWD:
        base = ("union " if t.kind_flag else "struct ") + t.name
    elif k == B.VOID:
        base = "void"
    else:
        base = t.name
    return f"{base} {declarator}" if declarator else base
