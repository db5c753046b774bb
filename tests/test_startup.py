"""Start-up stays cheap: what a plain run imports, and the registries that make it so."""

import subprocess
import sys

import pytest

from pytrace import probes
from pytrace.attach_points import PROVIDER_ALIASES
from pytrace.diagnostics import PytraceError
from pytrace.types import INT64, UINT64, IntType, LhistType, RecordField, RecordType

# Modules that `BEGIN { exit(); }` must not import: each costs milliseconds and only
# other probe types, listing or output formats need them.
HEAVY = ("pytrace.kernel.btf", "pytrace.kernel.usdt", "pytrace.kernel.elf_symbols",
         "pytrace.kernel.kallsyms", "pytrace.probes.kprobe", "pytrace.probes.uprobe",
         "pytrace.probes.fentry", "pytrace.probes.tracepoint", "lark",
         "elftools.elf.elffile", "elftools.dwarf.dwarfinfo", "difflib")


def test_every_spelling_of_every_provider_leads_to_its_module():
    scanned = {name: type(p).__module__.rsplit(".", 1)[1]
               for p in probes.all_providers() for name in (p.name, *p.aliases)}
    assert {name: probes.module_for(name) for name in scanned} == scanned
    # ... and every spelling the parser accepts gives its canonical provider.
    modules = set(scanned.values())
    for spelling, canonical in PROVIDER_ALIASES.items():
        if probes.module_for(spelling) in modules:
            assert probes.get_provider(spelling).name == canonical


def test_unknown_provider_is_an_error():
    with pytest.raises(PytraceError, match="Invalid probe type: nosuch"):
        probes.get_provider("nosuch")
    # A spelling bpftrace has but pytrace provides nothing for yet.
    with pytest.raises(PytraceError, match="Invalid probe type: iter"):
        probes.get_provider("iter")


def test_aliases_give_the_same_provider():
    assert probes.get_provider("t") is probes.get_provider("tracepoint")
    assert probes.get_provider("ur").name == "uretprobe"


@pytest.mark.kernel
def test_begin_exit_run_imports_no_other_provider():
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stderr.write(' '.join(sorted(sys.modules))))\n"
            "from pytrace.cli import main\n"
            "sys.argv = ['pytrace', '-e', 'BEGIN { exit(); }']\n"
            "sys.exit(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "Attaching 1 probe...\n\n\n"
    loaded = set(done.stderr.split())
    assert "pytrace.probes.special" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_value_types_compare_hash_and_stay_immutable():
    assert IntType() == UINT64 and hash(IntType(64, False)) == hash(UINT64)
    assert IntType(64, True) == INT64 != UINT64
    assert {LhistType(min=0, max=10, step=2): "x"}[LhistType(False, 0, 10, 2)] == "x"
    assert LhistType(min=0, max=10, step=2) != LhistType(min=0, max=10, step=5)
    record = RecordType("struct s", (RecordField("a", UINT64, 0),), 8)
    assert record == RecordType("struct s", (RecordField("a", UINT64, 0),), 8)
    assert repr(UINT64) == "IntType(bits=64, signed=False)"
    with pytest.raises(AttributeError):
        UINT64.bits = 32


@pytest.mark.kernel
def test_library_runs_keep_the_cyclic_gc_as_it_was(monkeypatch):
    # Only the CLI (one run per process) pauses and freezes the GC at start-up.
    # (The freeze count itself can drop when a frozen object is freed, so the
    # calls are what is watched.)
    import gc

    from pytrace.session import trace_output
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "disable", lambda: calls.append("disable"))
    assert trace_output("BEGIN { printf(\"hi\\n\"); exit(); }") == "Attaching 1 probe...\nhi\n\n\n"
    assert gc.isenabled() and calls == []
