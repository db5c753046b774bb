"""The small BTF a program with callbacks must carry: one FUNC per function.

The verifier accepts a callback (bpf_for_each_map_elem ...) only when the
program's func_info says that subprogram is a static function. pytrace has no
C source and no debug info, so the loader writes the few BTF records needed:
`long` and `void *`, a prototype for the program (ctx) and one for callbacks
(map, key, value, ctx), and a FUNC for each function.
"""

from __future__ import annotations

import struct

BTF_MAGIC = 0xEB9F
KIND_INT, KIND_PTR, KIND_FUNC, KIND_FUNC_PROTO = 1, 2, 12, 13
LINKAGE_STATIC, LINKAGE_GLOBAL = 0, 1
INT_SIGNED = 1

LONG, VOID_PTR, PROG_PROTO, CALLBACK_PROTO = 1, 2, 3, 4
CALLBACK_PARAMS = ("map", "key", "value", "ctx")


class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text not in self.offsets:
            self.offsets[text] = len(self.data)
            self.data += text.encode() + b"\0"
        return self.offsets[text]


def _info(kind: int, vlen: int = 0) -> int:
    return (kind << 24) | vlen


def build(main: str, callbacks: list[tuple[str, int]]) -> tuple[bytes, bytes]:
    """(BTF blob, func_info records) for `main` at instruction 0 and each
    (callback name, first instruction) after it."""
    strings = _Strings()
    types = bytearray()
    types += struct.pack("<III", strings.add("long"), _info(KIND_INT), 8)
    types += struct.pack("<I", (INT_SIGNED << 24) | 64)
    types += struct.pack("<III", 0, _info(KIND_PTR), 0)
    types += struct.pack("<III", 0, _info(KIND_FUNC_PROTO, 1), LONG)
    types += struct.pack("<II", strings.add("ctx"), VOID_PTR)
    types += struct.pack("<III", 0, _info(KIND_FUNC_PROTO, len(CALLBACK_PARAMS)), LONG)
    for param in CALLBACK_PARAMS:
        types += struct.pack("<II", strings.add(param), VOID_PTR)
    next_id = CALLBACK_PROTO + 1
    func_info = bytearray()
    for name, insn, linkage, proto in ([(main, 0, LINKAGE_GLOBAL, PROG_PROTO)] +
                                       [(n, i, LINKAGE_STATIC, CALLBACK_PROTO)
                                        for n, i in callbacks]):
        types += struct.pack("<III", strings.add(name), _info(KIND_FUNC, linkage), proto)
        func_info += struct.pack("<II", insn, next_id)
        next_id += 1
    header = struct.pack("<HBBIIIII", BTF_MAGIC, 1, 0, 24, 0, len(types), len(types),
                         len(strings.data))
    return header + bytes(types) + bytes(strings.data), bytes(func_info)
