"""Names of the kernel's probes, one source per provider, for `-l`.

Each source returns the part after `provider:`, sorted (bpftrace prints a
sorted set), and reads only what it needs: tracefs's one-file event list
(not each event's format), /proc/kallsyms scanned as raw bytes, BTF record
headers without decoding records. `KernelFacts` reads each of these once per
listing, so `pytrace -l` with no search reads each file exactly once.
"""

from __future__ import annotations

import re
import sys
import threading

from pytrace.kernel import btf as btf_mod
from pytrace.kernel import tracefs
from pytrace.kernel.kallsyms import KALLSYMS_PATH
from pytrace.target.files import LocalFiles

# The iterators bpftrace 0.17 can run, each present when BTF has bpf_iter_NAME.
ITERATORS = ("task", "task_file")

# kallsyms text symbols (t/T, weak w/W); the type letter sits between spaces,
# which no name contains, so an unanchored scan is safe and fast. Skipped as
# no probe sites: the padding/CFI stubs before each function (__pfx_, __cfi_),
# static-call trampolines (__SCT__), assembler-local labels (.E_copy), and
# JIT-ed BPF programs and trampolines (pseudo-modules [bpf], [__builtin__*]).
_TEXT_SYMBOL = re.compile(rb" [tTwW] (?!__pfx_|__cfi_|__SCT__|\.)([^\s]++)"
                          rb"(?!\t\[(?:bpf|__builtin))")
_COLD_PART = re.compile(rb"^[^\n]*\.cold(?:\.\d+)?$\n?", re.M)


class KernelFacts:
    """What one listing learns from the kernel, each read at most once."""

    def __init__(self, target):
        self.target = target
        self._btf = None
        self._btf_missing = False
        self.per_listing: dict = {}  # caches of other sources (DWARF per binary...)
        self.warn = lambda message: print(message, file=sys.stderr)
        self._kallsyms: bytes | BaseException | None = None
        self._kallsyms_reader: threading.Thread | None = None

    def prefetch_kallsyms(self) -> None:
        """Start reading /proc/kallsyms in a thread. The kernel spends ~0.1 s
        formatting it inside read(), with the GIL released, so this overlaps
        with parsing BTF. Local files only: a remote agent's channel is not
        meant for concurrent calls."""
        if self._kallsyms_reader is not None or not isinstance(self.target, LocalFiles):
            return

        def read():
            try:
                self._kallsyms = self.target.read_file(KALLSYMS_PATH)
            except OSError as e:
                self._kallsyms = e

        self._kallsyms_reader = threading.Thread(target=read, daemon=True)
        self._kallsyms_reader.start()

    def kallsyms(self) -> bytes:
        """The raw text of /proc/kallsyms (OSError when unreadable)."""
        if self._kallsyms_reader is not None:
            self._kallsyms_reader.join()
        if self._kallsyms is None:
            self._kallsyms = self.target.read_file(KALLSYMS_PATH)
        if isinstance(self._kallsyms, BaseException):
            raise self._kallsyms
        return self._kallsyms

    @property
    def btf(self):
        """vmlinux BTF, or None when the kernel has none."""
        if self._btf is None and not self._btf_missing:
            try:
                self._btf = btf_mod.load_vmlinux(self.target)
            except (FileNotFoundError, PermissionError, btf_mod.BTFError):
                self._btf_missing = True
        return self._btf


def _split_lines(text: bytes) -> list[str]:
    # One decode and split: ~3x cheaper than decoding 60k names one by one.
    return text.decode(errors="replace").split("\n") if text else []


def tracepoint_names(facts: KernelFacts) -> list[str]:
    """`CATEGORY:EVENT` of every tracepoint."""
    try:
        pairs = tracefs.list_tracepoints(facts.target)
    except (tracefs.TracefsError, PermissionError):
        return []
    # Sort the joined names: `i2c-x:` sorts before `i2c:` as bytes, unlike the pairs.
    return sorted(f"{c}:{e}" for c, e in pairs)


def rawtracepoint_names(facts: KernelFacts) -> list[str]:
    """Tracepoints the kernel declares a BTF prototype for (`btf_trace_EVENT`),
    i.e. those rawtracepoint/tp_btf programs can attach to with typed args.
    Without BTF every tracefs event name is the best guess."""
    b = facts.btf
    if b is None:
        return sorted({name.partition(":")[2] for name in tracepoint_names(facts)})
    # Not the tracefs list: syscalls:sys_enter_* are no raw tracepoints, and
    # bare ones such as sched_update_nr_running_tp have no tracefs event.
    return sorted(set(btf_names_with_prefix(b, "btf_trace_")))


def kprobe_names(facts: KernelFacts) -> list[str]:
    """Kernel text symbols from /proc/kallsyms, each name once.

    bpftrace reads available_filter_functions (not readable on every kernel,
    and absent without ftrace); kallsyms lists every text symbol, a superset
    that also holds functions kprobes can reach but ftrace cannot.
    """
    try:
        raw = facts.kallsyms()
    except OSError:
        return []
    text = b"\n".join(sorted(set(_TEXT_SYMBOL.findall(raw))))
    # `.cold` parts are split out of a function and have no ftrace entry.
    text = _COLD_PART.sub(b"", text).strip(b"\n")
    return _split_lines(text)


def kfunc_names(facts: KernelFacts) -> list[str]:
    """Functions with a BTF prototype: what fentry/fexit (kfunc) attach to.
    pahole emits FUNC records only for functions ftrace can patch, so this is
    the attachable set."""
    b = facts.btf
    if b is None:
        return []
    return _split_lines(b"\n".join(sorted(set(btf_names_of_kind(b, btf_mod.FUNC)))))


def iter_names(facts: KernelFacts) -> list[str]:
    b = facts.btf
    if b is None:
        return []
    return [name for name in ITERATORS if b.find("bpf_iter_" + name, btf_mod.FUNC)]


def perf_event_names(provider: str) -> tuple[list[str], dict[str, str]]:
    """(event names, {alias: name}) of `software` or `hardware`, from the
    provider's own table (name -> (config, period), aliases sharing a
    config); the first name of each config is the one bpftrace lists."""
    if provider == "software":
        from pytrace.probes import software as module
    else:
        from pytrace.probes import hardware as module
    table = getattr(module, "EVENTS", None) or module._EVENTS
    by_config: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, (config, _period) in table.items():
        if config in by_config:
            aliases[name] = by_config[config]
        else:
            by_config[config] = name
    return sorted(by_config.values()), aliases


def software_names(facts: KernelFacts) -> list[str]:
    return [f"{name}:" for name in perf_event_names("software")[0]]


def hardware_names(facts: KernelFacts) -> list[str]:
    return [f"{name}:" for name in perf_event_names("hardware")[0]]


KERNEL_SOURCES = {
    "tracepoint": tracepoint_names,
    "rawtracepoint": rawtracepoint_names,
    "kprobe": kprobe_names,
    "kfunc": kfunc_names,
    "iter": iter_names,
    "software": software_names,
    "hardware": hardware_names,
}


# ---- BTF scans ------------------------------------------------------------------------
# These walk the record headers directly: decoding 130k records to read a
# kind would take a second. They belong in pytrace.kernel.btf as public
# methods (names_of_kind); they live here until that module can take them.

def btf_names_of_kind(b, kind: int) -> list[bytes]:
    """Names (raw bytes) of every named record of one kind in a BTF blob (not its base)."""
    return [name for name, _ in _btf_records_of_kind(b, kind)]


def btf_ids_by_name(b, kind: int) -> dict[str, int]:
    """{name: type id} of one kind (the first record of each name): one pass,
    where `BTF.find` per name would rescan the index for each of 56k functions."""
    out: dict[str, int] = {}
    for name, type_id in _btf_records_of_kind(b, kind):
        out.setdefault(name.decode(errors="replace"), type_id)
    return out


def _btf_records_of_kind(b, kind: int) -> list[tuple[bytes, int]]:
    words, first_id = b._words, b._first_id
    found = [(words[s], first_id + i) for i, s in enumerate(b._starts)
             if (words[s + 1] >> 24) & 0x1F == kind]
    blob, find, str_start, str_base = b._blob, b._blob.find, b._str_start, b._str_base
    out = []
    for off, type_id in found:
        if off >= str_base:
            start = str_start + off - str_base
            out.append((blob[start:find(b"\0", start)], type_id))
        elif off:  # a split blob naming a string of its base
            out.append((b.string(off).encode(), type_id))
    return out


def btf_names_with_prefix(b, prefix: str) -> list[str]:
    """The rest of every BTF string starting with `prefix` (e.g. `btf_trace_`).
    Such prefixes name only types, so the string table alone answers."""
    blob, start, end = b._blob, b._str_start, b._str_end
    rx = re.compile(rb"\0" + re.escape(prefix.encode()) + rb"([^\0]+)")
    return [m.decode() for m in rx.findall(blob, start, end)]
