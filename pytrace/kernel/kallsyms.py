"""Kernel symbols from /proc/kallsyms: address <-> name, and function lists.

Owns parsing kallsyms text (read through a Target) into a sorted address table
for `ksym()`/`kstack` symbolization (bisect), name -> address lookups for
attach points, and the list of function names (types t/T/w/W) that kprobe
wildcards expand over. Module symbols carry their module name from the
`[module]` suffix.

The file is ~120k lines; a single name lookup scans the raw bytes with a regex
instead of building the table, which is built only on the first address lookup.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from pytrace.kernel import wildcard

KALLSYMS_PATH = "/proc/kallsyms"
FUNCTION_TYPES = frozenset("tTwW")

# address, type letter, name, optional "\t[module]"; unanchored (no re.M) for speed.
_LINE = re.compile(rb"([0-9a-fA-F]+) (\w) ([^\t\n ]+)(?:\t\[([^\]\n]+)\])?[ \t]*(?:\n|$)")


class KallsymsError(Exception):
    """kallsyms cannot answer (e.g. addresses hidden by kptr_restrict)."""


@dataclass(frozen=True)
class KernelSymbol:
    """One line of /proc/kallsyms."""

    address: int
    type: str  # nm-style letter: T/t text, D/d data, W/w weak, R/r read-only...
    name: str
    module: str = ""  # "" for the kernel image

    @property
    def is_function(self) -> bool:
        return self.type in FUNCTION_TYPES


@dataclass(frozen=True)
class Resolved:
    """An address resolved to the symbol that contains it."""

    symbol: KernelSymbol
    offset: int

    def __str__(self) -> str:
        return f"{self.symbol.name}+{self.offset}"


class Kallsyms:
    """Parsed /proc/kallsyms text."""

    def __init__(self, text: bytes):
        self._text = text
        # Parallel, address-sorted columns; KernelSymbol objects are made only
        # for answers (creating 120k of them would dominate the cost).
        self._rows: list[tuple[bytes, bytes, bytes, bytes]] | None = None
        self._addresses: list[int] = []

    @classmethod
    def load(cls, target) -> "Kallsyms":
        return cls(target.read_file(KALLSYMS_PATH))

    # ---- full table (built on demand) ---------------------------------------
    def _table(self) -> list[tuple[bytes, bytes, bytes, bytes]]:
        if self._rows is None:
            rows = _LINE.findall(self._text)
            addresses = [int(r[0], 16) for r in rows]
            # The kernel image is listed in address order; module symbols may
            # not be, so sort only when needed (stable: aliases keep file order).
            if any(addresses[i] > addresses[i + 1] for i in range(len(addresses) - 1)):
                order = sorted(range(len(rows)), key=addresses.__getitem__)
                rows = [rows[i] for i in order]
                addresses = [addresses[i] for i in order]
            self._rows, self._addresses = rows, addresses
        return self._rows

    @staticmethod
    def _symbol(address: int, row) -> KernelSymbol:
        return KernelSymbol(address, row[1].decode(), row[2].decode(), row[3].decode())

    def symbols(self) -> list[KernelSymbol]:
        """Every symbol, sorted by address."""
        rows = self._table()
        return [self._symbol(a, r) for a, r in zip(self._addresses, rows)]

    def addresses_hidden(self) -> bool:
        """True when kptr_restrict shows every address as 0 (not root)."""
        m = _LINE.search(self._text)
        return m is not None and int(m.group(1), 16) == 0

    def resolve(self, address: int) -> Resolved | None:
        """The symbol containing `address` (the last one at or below it)."""
        rows = self._table()
        if self.addresses_hidden():
            raise KallsymsError("kernel symbol addresses are hidden (kptr_restrict); "
                                "run as root or set /proc/sys/kernel/kptr_restrict to 0")
        i = bisect_right(self._addresses, address) - 1
        if i < 0:
            return None
        # Several names can share one address (aliases such as _stext/_text);
        # prefer a global function, then any function, as stack traces do.
        first = i
        while first > 0 and self._addresses[first - 1] == self._addresses[i]:
            first -= 1
        candidates = rows[first:i + 1]
        best = next((r for r in candidates if r[1] == b"T"), None) or \
            next((r for r in candidates if r[1].decode() in FUNCTION_TYPES), candidates[-1])
        sym = self._symbol(self._addresses[i], best)
        return Resolved(sym, address - sym.address)

    def size_at(self, address: int) -> int | None:
        """Bytes from `address` to the next symbol's: a function's size, as far as
        kallsyms tells (it lists no sizes). None past the last symbol."""
        self._table()
        i = bisect_right(self._addresses, address)
        return self._addresses[i] - address if i < len(self._addresses) else None

    def symbolize(self, address: int, with_offset: bool = True) -> str:
        """`schedule+12` (or `schedule`), or the hex address when unknown."""
        r = self.resolve(address)
        if r is None:
            return f"0x{address:x}"
        return str(r) if with_offset else r.symbol.name

    # ---- by name (scan the raw text) -------------------------------------------
    def lookup(self, name: str, module: str | None = None) -> list[KernelSymbol]:
        """Every symbol called `name` (static functions may repeat), file order."""
        text, found = self._text, []
        raw = name.encode()
        for end_char in (b"\n", b"\t"):
            # bytes.find over the raw text: far cheaper than parsing 120k lines.
            needle = b" " + raw + end_char
            pos = text.find(needle)
            while pos >= 0:
                line_start = text.rfind(b"\n", 0, pos) + 1
                line_end = text.find(b"\n", pos)
                m = _LINE.match(text, line_start, len(text) if line_end < 0 else line_end + 1)
                if m and m.group(3) == raw:
                    found.append((line_start, KernelSymbol(
                        int(m.group(1), 16), m.group(2).decode(), name, (m.group(4) or b"").decode())))
                pos = text.find(needle, pos + 1)
        found.sort(key=lambda pair: pair[0])
        syms = [s for _, s in found]
        if module is not None:
            syms = [s for s in syms if s.module == module]
        return syms

    def address_of(self, name: str, module: str | None = None) -> int | None:
        """Address of the first symbol `name` (functions preferred), or None."""
        found = self.lookup(name, module)
        funcs = [s for s in found if s.is_function] or found
        return funcs[0].address if funcs else None

    def functions(self, pattern: str = "*", module: str | None = None) -> list[KernelSymbol]:
        """Function symbols whose names match a bpftrace wildcard, in file order,
        each name once (the first of duplicated static names)."""
        rx = wildcard.compile_wildcard(pattern).fullmatch
        seen: set[bytes] = set()
        out = []
        for row in _LINE.findall(self._text):
            a, t, n, m = row
            if n in seen or t.decode() not in FUNCTION_TYPES:
                continue
            if module is not None and m.decode() != module:
                continue
            if rx(n.decode()):
                seen.add(n)
                out.append(self._symbol(int(a, 16), row))
        return out
