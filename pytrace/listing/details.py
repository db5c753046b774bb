"""The `-v` part of a listing: what a probe gives a program, four spaces in.

Tracepoints show their format fields as tracefs declares them (the common_
header left out, as bpftrace does); kfunc/fentry show the BTF prototype's
parameters and `retval`; rawtracepoints the BTF arguments of
`btf_trace_EVENT` (without the private `__data` pointer); uprobes their
DWARF parameters when the binary has debug information (a warning
otherwise, as bpftrace). Other probe types have nothing to show.
"""

from __future__ import annotations

from collections.abc import Iterator

from pytrace.diagnostics import PytraceError
from pytrace.kernel import btf as btf_mod
from pytrace.kernel import tracefs
from pytrace.listing.c_struct import format_type_definition

INDENT = "    "


def probe_details(facts, source: str, name: str) -> Iterator[str]:
    """Detail lines for one listed probe (`name` is the full `provider:...`)."""
    rest = name.partition(":")[2]
    if source == "tracepoint":
        yield from _tracepoint_fields(facts, *rest.split(":", 1))
    elif source == "kfunc":
        yield from _function_args(facts, rest)
    elif source == "rawtracepoint":
        yield from _rawtracepoint_args(facts, rest)
    elif source == "uprobe":
        path, _, func = rest.rpartition(":")
        params = _dwarf_parameters(facts, path)
        for param in (params or {}).get(func, []):
            yield INDENT + param


def _dwarf_parameters(facts, path: str) -> dict[str, list[str]] | None:
    """Parameters of every function of one binary, parsed once per listing."""
    cache = facts.per_listing.setdefault("dwarf", {})
    if path not in cache:
        from pytrace.listing.dwarf_args import function_parameters
        try:
            cache[path] = function_parameters(facts.target.read_file(path))
        except OSError:
            cache[path] = None
        if cache[path] is None:
            facts.warn(f'WARNING: No DWARF found for "{path}", cannot show parameter info')
    return cache[path]


def _tracepoint_fields(facts, category: str, event: str) -> Iterator[str]:
    try:
        fmt = tracefs.read_format(facts.target, category, event)
    except (FileNotFoundError, PermissionError, tracefs.TracefsError):
        return
    for field in fmt.args:
        yield INDENT + " ".join(field.decl.split())


def _arg_line(b, type_id: int, name: str) -> str:
    # bpftrace's spelling: the type, a space, the name (`struct file * file`).
    return f"{INDENT}{b.type_name(type_id)} {name}"


def _ids(facts, kind: int) -> dict[str, int]:
    """{name: BTF id} of one kind, built once per listing: `BTF.find` scans
    the whole index per lookup, too slow for `-lv 'kfunc:*'` (56k lookups)."""
    key = f"btf_ids_{kind}"
    if key not in facts.per_listing:
        from pytrace.listing.kernel_names import btf_ids_by_name
        facts.per_listing[key] = btf_ids_by_name(facts.btf, kind)
    return facts.per_listing[key]


def _function_args(facts, func: str) -> Iterator[str]:
    b = facts.btf
    if b is None:
        return
    func_id = _ids(facts, btf_mod.FUNC).get(func.rpartition(":")[2])
    if func_id is None:
        return
    proto = b.type(b.type(func_id).ref)
    for p in proto.params:
        yield _arg_line(b, p.type_id, p.name)
    if proto.ref != 0:  # void functions have no retval
        yield _arg_line(b, proto.ref, "retval")


def _rawtracepoint_args(facts, event: str) -> Iterator[str]:
    # The prototype is `typedef void (*btf_trace_EVENT)(void *__data, ...)`,
    # without parameter names; `__bpf_trace_EVENT` has the same parameters
    # with names (as in BTF.tracepoint_signature, here through the id maps).
    b = facts.btf
    if b is None:
        return
    typedef_id = _ids(facts, btf_mod.TYPEDEF).get("btf_trace_" + event)
    if typedef_id is None:
        return
    ptr = b.resolve(typedef_id)
    if ptr.kind != btf_mod.PTR or b.resolve(ptr.ref).kind != btf_mod.FUNC_PROTO:
        return
    params = b.resolve(ptr.ref).params
    named_id = _ids(facts, btf_mod.FUNC).get("__bpf_trace_" + event)
    names = [p.name for p in params]
    if named_id is not None:
        named = b.resolve(b.type(named_id).ref).params
        if len(named) == len(params):
            names = [p.name for p in named]
    # The first parameter is the tracepoint's private data, not an argument.
    for i, (p, name) in enumerate(zip(params[1:], names[1:])):
        yield _arg_line(b, p.type_id, name or f"arg{i}")


def struct_lines(facts, query: str) -> Iterator[str]:
    """`struct task_struct` (or `union ...`, `enum ...`) as C, from BTF."""
    b = facts.btf
    if b is None:
        raise PytraceError("cannot print types: the kernel has no BTF "
                           f"({btf_mod.VMLINUX_PATH} is missing)")
    keyword, _, name = query.partition(" ")
    name = name.strip()
    kinds = {"struct": (btf_mod.STRUCT,), "union": (btf_mod.UNION,),
             "enum": (btf_mod.ENUM, btf_mod.ENUM64)}[keyword]
    found = None
    for kind in kinds:
        found = b.find(name, kind)
        if found is not None:
            break
    if found is None:
        return  # bpftrace prints nothing for an unknown type
    yield from format_type_definition(b, found.id).split("\n")
