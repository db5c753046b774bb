"""Kernel symbols from this machine's /proc/kallsyms: name <-> address as
ksym()/kstack and kprobe wildcards need them."""

from __future__ import annotations

import os

import pytest

from pytrace.kernel.kallsyms import Kallsyms, KallsymsError
from pytrace.target.files import LocalFiles

TARGET = LocalFiles()


@pytest.fixture(scope="module")
def kallsyms():
    ks = Kallsyms.load(TARGET)
    if ks.addresses_hidden():
        pytest.skip("kallsyms addresses hidden (not root / kptr_restrict)")
    return ks


def raw_lines():
    with open("/proc/kallsyms") as f:
        return [line.split() for line in f]


def test_schedule_resolves_to_itself(kallsyms):
    # Independent reading of the same file: the line for `schedule`.
    lines = raw_lines()
    idx = next(i for i, parts in enumerate(lines) if parts[2] == "schedule" and parts[1] in "tT")
    address = int(lines[idx][0], 16)
    assert kallsyms.address_of("schedule") == address
    assert kallsyms.symbolize(address) == "schedule+0"
    assert kallsyms.symbolize(address, with_offset=False) == "schedule"
    # An address inside schedule (before the next symbol) keeps the name.
    following = min(int(p[0], 16) for p in lines if int(p[0], 16) > address)
    inside = address + (following - address) // 2
    r = kallsyms.resolve(inside)
    assert (r.symbol.name, r.offset) == ("schedule", inside - address)
    assert str(r) == f"schedule+{inside - address}"


def test_unknown_names_and_addresses(kallsyms):
    assert kallsyms.address_of("no_such_kernel_symbol_xyz") is None
    assert kallsyms.lookup("no_such_kernel_symbol_xyz") == []
    assert kallsyms.resolve(1) is None
    assert kallsyms.symbolize(1) == "0x1"


def test_function_wildcards(kallsyms):
    funcs = kallsyms.functions("vfs_*")
    names = [f.name for f in funcs]
    assert "vfs_read" in names and "vfs_write" in names
    assert all(n.startswith("vfs_") for n in names)
    assert len(names) == len(set(names))
    assert all(f.is_function for f in funcs)
    expected = {p[2] for p in raw_lines() if p[2].startswith("vfs_") and p[1] in "tTwW"}
    assert set(names) == expected


def test_symbol_table_is_sorted_and_complete(kallsyms):
    # Symbols of BPF programs come and go as other work loads and frees
    # programs between the two reads: compare the kernel's own symbols only.
    syms = kallsyms.symbols()
    steady = [s for s in syms if s.module != "bpf"]
    assert len(steady) == sum(1 for p in raw_lines() if p[3:] != ["[bpf]"])
    addrs = [s.address for s in syms]
    assert addrs == sorted(addrs)


def test_modules_aliases_and_unsorted_text():
    text = (b"ffffffffc0002000 t mod_helper\t[demo]\n"
            b"ffffffff81000000 T _stext\n"
            b"ffffffff81000000 t alias_local\n"
            b"ffffffff81000000 T _text\n"
            b"ffffffff81000100 T do_thing\n"
            b"ffffffffc0001000 T mod_init\t[demo]\n"
            b"ffffffff81000100 t do_thing\n")
    ks = Kallsyms(text)
    r = ks.resolve(0xFFFFFFFFC0002010)
    assert (r.symbol.name, r.symbol.module, r.offset) == ("mod_helper", "demo", 0x10)
    assert ks.symbolize(0xFFFFFFFFC0001004) == "mod_init+4"
    # Aliases at one address: a global text symbol wins over a local one.
    assert ks.resolve(0xFFFFFFFF81000004).symbol.type == "T"
    assert [s.module for s in ks.lookup("mod_init")] == ["demo"]
    assert ks.address_of("mod_init", module="demo") == 0xFFFFFFFFC0001000
    assert ks.address_of("mod_init", module="other") is None
    # A static name defined twice: both listed, one entry in function lists.
    assert len(ks.lookup("do_thing")) == 2
    assert [f.name for f in ks.functions("do_*")] == ["do_thing"]
    assert [f.name for f in ks.functions("*", module="demo")] == ["mod_helper", "mod_init"]


def test_hidden_addresses_are_a_clear_error():
    ks = Kallsyms(b"0000000000000000 T schedule\n0000000000000000 T vfs_read\n")
    assert ks.addresses_hidden()
    with pytest.raises(KallsymsError, match="kptr_restrict"):
        ks.resolve(0xFFFFFFFF81000000)


def test_per_cpu_symbols_at_zero_do_not_read_as_hidden_addresses():
    # Debian's 6.1 lists per-CPU symbols (type A, at 0) before the kernel's text.
    ks = Kallsyms(b"0000000000000000 A fixed_percpu_data\n"
                  b"0000000000001000 A cpu_debug_store\n"
                  b"ffffffff81000000 T _stext\n"
                  b"ffffffff81000100 T vfs_open\n")
    assert not ks.addresses_hidden()
    assert ks.symbolize(0xFFFFFFFF81000101, with_offset=False) == "vfs_open"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to see addresses")
def test_running_as_root_sees_addresses(kallsyms):
    assert not kallsyms.addresses_hidden()


def test_a_leading_wildcard_skips_the_padding_stubs_before_functions(kallsyms):
    # 6.x kernels put __pfx_NAME (and with CFI __cfi_NAME) before each function:
    # text symbols, but no function a kprobe can be put on.
    stubs = {p[2] for p in raw_lines() if p[2] == "__pfx_vfs_read"}
    if not stubs:
        pytest.skip("this kernel has no __pfx_ padding symbols")
    assert [f.name for f in kallsyms.functions("*vfs_read")] == ["vfs_read"]
