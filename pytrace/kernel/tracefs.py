"""Tracepoint facts from tracefs: which tracepoints exist and their record layout.

Owns finding the tracefs mount, listing categories and events (with bpftrace
wildcards) and parsing `events/CAT/EVENT/format` into typed fields: name, C
type, offset, size, signedness, fixed arrays and `__data_loc`/`__rel_loc`
dynamic fields. Everything is read through a Target.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from pytrace.kernel import wildcard
from pytrace.kernel.errors import KernelPermissionError

TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class TracefsError(Exception):
    """tracefs is missing or a format file cannot be understood."""


@dataclass(frozen=True)
class TracepointField:
    """One field of a tracepoint record.

    `c_type` is the declared type without the name or array suffix ("const char *",
    "char", "pid_t"); `array_len` is None for scalars, the element count for
    `char comm[16]`, and 0 for a flexible `char buf[]`. A `__data_loc` field is
    a u32 holding (length << 16 | offset-from-record-start) of a dynamic array
    of `c_type` elements; `__rel_loc` is the same with the offset counted from
    the end of the field itself.
    """

    name: str
    c_type: str
    offset: int
    size: int
    signed: bool
    array_len: int | None = None
    data_loc: bool = False
    rel_loc: bool = False
    decl: str = ""

    @property
    def is_common(self) -> bool:
        return self.name.startswith("common_")

    @property
    def is_dynamic(self) -> bool:
        return self.data_loc or self.rel_loc

    @property
    def is_string(self) -> bool:
        """A char array (fixed or dynamic): bpftrace reads it as a string."""
        return (self.array_len is not None or self.is_dynamic) and \
            self.c_type in ("char", "const char", "unsigned char", "signed char")


@dataclass(frozen=True)
class TracepointFormat:
    """A tracepoint's format file: its id and fields."""

    category: str
    event: str
    id: int
    fields: list[TracepointField]  # every field, common_* first
    print_fmt: str = ""

    @property
    def args(self) -> list[TracepointField]:
        """The fields a program sees as `args` (without the common_ header)."""
        return [f for f in self.fields if not f.is_common]

    def field(self, name: str) -> TracepointField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def tracefs_root(target) -> str:
    """The tracefs mount: /sys/kernel/tracing, or the old debugfs location."""
    for root in TRACEFS_ROOTS:
        if target.path_exists(root + "/events"):
            return root
    raise tracefs_unavailable(target)


def tracefs_unavailable(target) -> Exception:
    """Why no tracefs can be used: it is there but this process may not read it
    (tracefs is root's alone, mode 0700), or it is not mounted at all."""
    for root in TRACEFS_ROOTS:
        try:
            target.list_dir(root)
        except PermissionError:
            return KernelPermissionError(
                f"cannot read tracefs ({root}): permission denied; tracepoints need "
                "root privileges: run pytrace as root (e.g. with sudo)", errno.EACCES)
        except OSError:
            continue
    return TracefsError("tracefs is not mounted (tried " + " and ".join(TRACEFS_ROOTS) + ")")


def list_tracepoints(target) -> list[tuple[str, str]]:
    """Every (category, event) the kernel offers, sorted."""
    root = tracefs_root(target)
    try:
        # One file instead of a directory walk: cheap over a remote agent too.
        text = target.read_file(root + "/available_events").decode()
        pairs = {tuple(line.split(":", 1)) for line in text.splitlines() if ":" in line}
    except FileNotFoundError:
        pairs = set()
        for cat in target.list_dir(root + "/events"):
            if not target.path_exists(f"{root}/events/{cat}/enable"):
                continue  # plain files such as header_page, not categories
            for ev in target.list_dir(f"{root}/events/{cat}"):
                if ev not in ("enable", "filter"):
                    pairs.add((cat, ev))
    return sorted(pairs)


def list_categories(target) -> list[str]:
    return sorted({cat for cat, _ in list_tracepoints(target)})


def list_events(target, category: str) -> list[str]:
    return [ev for cat, ev in list_tracepoints(target) if cat == category]


def match_tracepoints(target, category_pattern: str, event_pattern: str) -> list[tuple[str, str]]:
    """(category, event) pairs matching bpftrace wildcards, e.g. ("sched", "sched_*")."""
    cat_rx = wildcard.compile_wildcard(category_pattern).fullmatch
    ev_rx = wildcard.compile_wildcard(event_pattern).fullmatch
    return [(c, e) for c, e in list_tracepoints(target) if cat_rx(c) and ev_rx(e)]


def tracepoint_exists(target, category: str, event: str) -> bool:
    return target.path_exists(f"{tracefs_root(target)}/events/{category}/{event}/format")


def read_format(target, category: str, event: str) -> TracepointFormat:
    """The parsed format of CATEGORY:EVENT (FileNotFoundError if it does not exist)."""
    text = target.read_file(f"{tracefs_root(target)}/events/{category}/{event}/format").decode()
    return parse_format(text, category)


_FIELD_LINE = re.compile(
    r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);"
    r"(?:\s*signed:(?P<signed>-?\d+);)?")
_DECL = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?:\[(?P<len>[^\]]*)\])?\s*$")


def parse_format(text: str, category: str = "") -> TracepointFormat:
    """Parse the text of a tracefs `format` file."""
    name, tp_id, fields, print_fmt = "", -1, [], ""
    for line in text.splitlines():
        if line.startswith("name:"):
            name = line[5:].strip()
        elif line.startswith("ID:"):
            tp_id = int(line[3:].strip())
        elif line.startswith("print fmt:"):
            print_fmt = line[len("print fmt:"):].strip()
        else:
            m = _FIELD_LINE.match(line)
            if m:
                fields.append(_parse_field(m))
    if not name:
        raise TracefsError("tracepoint format has no name line")
    return TracepointFormat(category, name, tp_id, fields, print_fmt)


def _parse_field(m: re.Match) -> TracepointField:
    decl = m.group("decl").strip()
    offset, size = int(m.group("offset")), int(m.group("size"))
    # Very old kernels have no `signed:`; the type's spelling is then the guide.
    signed = m.group("signed") == "1" if m.group("signed") is not None else \
        not decl.startswith(("unsigned", "u8", "u16", "u32", "u64", "__u"))
    data_loc = decl.startswith("__data_loc ")
    rel_loc = decl.startswith("__rel_loc ")
    if data_loc or rel_loc:
        decl_rest = decl.split(" ", 1)[1]
        # `__data_loc char[] filename`: the brackets follow the type, not the name.
        type_part, _, field_name = decl_rest.rpartition(" ")
        c_type = type_part.replace("[]", "").strip()
        return TracepointField(field_name, c_type, offset, size, signed, None,
                               data_loc, rel_loc, decl)
    d = _DECL.match(decl)
    if d is None:
        raise TracefsError(f"cannot parse tracepoint field {decl!r}")
    length = d.group("len")
    array_len = None
    if length is not None:
        array_len = int(length, 0) if length.strip() else 0
    c_type = " ".join(d.group("type").split())
    return TracepointField(d.group("name"), c_type, offset, size, signed, array_len,
                           False, False, decl)


def dynamic_location(field: TracepointField, record: bytes) -> tuple[int, int]:
    """(offset in record, length in bytes) of a `__data_loc`/`__rel_loc` field's data."""
    loc = int.from_bytes(record[field.offset:field.offset + 4], "little")
    offset, length = loc & 0xFFFF, loc >> 16
    if field.rel_loc:
        offset += field.offset + field.size
    return offset, length
