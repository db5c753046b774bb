"""Probes bpftrace 0.17 refuses, refused in its words before anything is loaded.

kprobes cannot attach on this machine, but these refusals come from the
compiler: `-d ir` shows them, and nothing reaches the kernel.
"""

from __future__ import annotations

import pytest

from pytrace.cli import main

pytestmark = pytest.mark.kernel


def first_error(argv: list[str], capfd) -> str:
    assert main(argv) == 1
    err = capfd.readouterr().err
    return err.splitlines()[0]


@pytest.mark.parametrize("func", ["_raw_spin_lock", "_raw_spin_lock_irqsave",
                                  "_raw_spin_unlock_irqrestore", "queued_spin_lock_slowpath"])
def test_kretprobes_that_could_lock_up_the_kernel_are_refused(func, capfd):
    point = f"kretprobe:{func}"
    assert first_error(["-d", "ir", "-e", f"{point} {{ @ = count(); }}"], capfd) == \
        f"stdin:1:1-{len(point) + 1}: ERROR: {point} can't be used as it might lock up your system."


def test_a_wildcard_reaching_a_lockup_function_is_refused(capfd):
    assert first_error(["-d", "ir", "-e", "kr:_raw_spin_lock_irq* { }"], capfd).endswith(
        "ERROR: kretprobe:_raw_spin_lock_irqsave can't be used as it might lock up your system.")


def test_a_kprobe_on_the_same_function_is_allowed(capfd):
    assert main(["-d", "ir", "-e", "kprobe:_raw_spin_lock { @ = count(); }"]) == 0


def test_uprobe_offset_past_the_function_end(capfd):
    from pytrace.kernel.elf_symbols import ElfSymbols
    from pytrace.target.local import LocalTarget
    size = ElfSymbols.load(LocalTarget(), "/bin/bash").lookup("readline").size
    assert first_error(["-d", "ir", "-e", f"uprobe:/bin/bash:readline+{size} {{ }}"],
                       capfd).endswith(
        f"ERROR: Offset outside the function bounds ('readline' size is {size})")


@pytest.mark.parametrize("address", ["0x1", "0xffffffffff"])
def test_uprobe_address_in_no_function(address, capfd):
    assert first_error(["-d", "ir", "-e", f"uprobe:/bin/bash:{address} {{ }}"], capfd) == \
        f"stdin:1:1-{len(address) + 18}: ERROR: Could not resolve address: /bin/bash:{address}"


@pytest.mark.parametrize("point, words", [("interval:1", "interval probe type requires 2 arguments"),
                                          ("profile:hz", "profile probe type requires 2 arguments"),
                                          ("i:xyz", "interval probe type requires 2 arguments")])
def test_a_timer_without_unit_and_rate(point, words, capfd):
    assert first_error(["-d", "ir", "-e", f"{point} {{ }}"], capfd) == \
        f"stdin:1:1-{len(point) + 1}: ERROR: {words}"


def test_uprobe_offset_inside_an_instruction_is_refused(capfd):
    """bash's readline: its first instruction's length comes from objdump; an
    offset inside it is refused, the next instruction's start is accepted."""
    import re
    import shutil
    import subprocess

    from pytrace.kernel.elf_symbols import ElfSymbols
    from pytrace.target.local import LocalTarget
    if not shutil.which("objdump"):
        pytest.skip("needs objdump")
    sym = ElfSymbols.load(LocalTarget(), "/bin/bash").lookup("readline")
    out = subprocess.run(["objdump", "-d", f"--start-address={sym.address}",
                          f"--stop-address={sym.address + 32}", "/bin/bash"],
                         capture_output=True, text=True, check=True).stdout
    starts = [int(m.group(1), 16) - sym.address
              for m in re.finditer(r"^\s*([0-9a-f]+):\s", out, re.M)]
    assert starts[0] == 0 and starts[1] > 1
    assert first_error(["-d", "ir", "-e", "uprobe:/bin/bash:readline+1 { }"], capfd) == \
        "stdin:1:1-28: ERROR: Could not add uprobe into middle of instruction: " \
        "/bin/bash:readline+1"
    address = hex(sym.address + 1)
    assert first_error(["-d", "ir", "-e", f"uprobe:/bin/bash:{address} {{ }}"],
                       capfd).endswith(
        "ERROR: Could not add uprobe into middle of instruction: /bin/bash:readline+1")
    assert main(["-d", "ir", "-e", f"uprobe:/bin/bash:readline+{starts[1]} {{ }}"]) == 0


def test_kprobe_offset_past_the_function_end(capfd):
    """vfs_read's size: the distance to the next symbol in /proc/kallsyms."""
    rows = [line.split() for line in open("/proc/kallsyms")]
    addresses = sorted({int(r[0], 16) for r in rows})
    start = next(int(r[0], 16) for r in rows if r[2] == "vfs_read" and len(r) == 3)
    if start == 0:
        pytest.skip("kernel addresses are hidden")
    size = next(a for a in addresses if a > start) - start
    assert first_error(["-d", "ir", "-e", f"kprobe:vfs_read+{size} {{ }}"], capfd).endswith(
        f"ERROR: Offset outside the function bounds ('vfs_read' size is {size})")
    assert main(["-d", "ir", "-e", f"kprobe:vfs_read+{size - 1} {{ }}"]) == 0
