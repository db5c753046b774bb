"""Attach point expansion and its errors, without loading anything: module-qualified
kprobes over a kallsyms text, hardware/watchpoint/usdt/rawtracepoint spellings."""

from __future__ import annotations

import pytest

from pytrace.diagnostics import PytraceError
from tests.compiler.harness import FactsTarget, compile_text

KALLSYMS = b"""\
ffffffff81000000 T _stext
ffffffff81001000 T vfs_read
ffffffff81002000 t vfs_read.cold
ffffffffc0001000 t nf_hook_a\t[nf_mod]
ffffffffc0002000 T nf_hook_b\t[nf_mod]
ffffffffc0003000 d nf_data\t[nf_mod]
ffffffffc0004000 t nf_hook_c\t[other_mod]
"""


class FakeKernel(FactsTarget):
    def read_file(self, path, max_bytes=None):
        if path == "/proc/kallsyms":
            return KALLSYMS
        return super().read_file(path, max_bytes)


def specs(text: str, target=None):
    compiled = compile_text(text, target=target or FakeKernel())
    return [(a.name, a.func, a.offset) for p in compiled.resources.programs for a in p.attach]


def test_kprobe_module_wildcard_takes_that_modules_functions():
    assert specs("kprobe:nf_mod:nf_* { @ = count(); }") == [
        ("kprobe:nf_mod:nf_hook_a", "nf_hook_a", 0), ("kprobe:nf_mod:nf_hook_b", "nf_hook_b", 0)]


def test_kprobe_wildcard_skips_compiler_clones():
    assert specs("kretprobe:vfs_rea* { @ = count(); }") == [
        ("kretprobe:vfs_read", "vfs_read", 0)]


@pytest.mark.parametrize("text, message", [
    ("kprobe:nothing_like_this* { @ = count(); }", "No kernel functions matched"),
    ("kretprobe:vfs_read+4 { @ = count(); }", "a kretprobe can not have an offset"),
    ("kprobe:vfs_read { @ = retval; }", "The retval builtin can only be used with"),
    ("kretprobe:vfs_read { @ = arg0; }", "The arg0 builtin can not be used with 'kretprobe'"),
    ("hardware:nope { @ = count(); }", "Unknown hardware event: nope"),
    ("hardware:cycles:x { @ = count(); }", "Invalid count for hardware probe: x"),
    ("watchpoint:0x1000:3:w { @ = count(); }", "Invalid watchpoint length: 3"),
    ("watchpoint:0x1000:8:q { @ = count(); }", "Invalid watchpoint mode: q"),
    ("watchpoint:zz:8:w { @ = count(); }", "Invalid watchpoint address: zz"),
    ("usdt:/no/such/bin:p:n { @ = count(); }", "no such file"),
    ("uprobe:/no/such/bin:f { @ = count(); }", "no such file"),
    ("interval:s:1 { @ = arg0; }", "The arg0 builtin can only be used with 'kprobes', "
                                   "'uprobes' and 'usdt' probes"),
    ("interval:s:1 { @ = func; }", "The func builtin can not be used with 'interval' probes"),
    ("interval:s:1 { @ = sarg0; }", "The sarg0 builtin can only be used with"),
])
def test_errors(text, message):
    with pytest.raises(PytraceError, match=message.replace("(", r"\(").replace("+", r"\+")):
        compile_text(text, target=FakeKernel())


def test_watchpoint_mode_letters_in_any_order():
    assert specs("w:0x1000:4:wr { @ = count(); }")[0][0] == "watchpoint:0x1000:4:rw"


def test_hardware_probe_is_per_cpu_with_a_given_period():
    target = FakeKernel()
    got = compile_text("hardware:cache-misses:5000 { @ = count(); }", target=target)
    attach = got.resources.programs[0].attach
    assert [a.options["cpu"] for a in attach] == target.online_cpus()
    assert {(a.name, a.options["sample_period"], a.options["config"]) for a in attach} == \
        {("hardware:cache-misses:5000", 5000, 3)}
    assert got.attached_count == 1
