"""uprobe/uretprobe on a real C program: exact call counts, arg0, retval, func, wildcards,
library names, addresses, -p restriction, and one program attached many times."""

from __future__ import annotations

import os
import re

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.kernel.elf_symbols import ElfSymbols, resolve_binary
from pytrace.target.local import LocalTarget
from tests.compiler.harness import compile_text
from tests.probes import workloads
from tests.probes.harness import another_copy_running, run_with_workload

pytestmark = pytest.mark.kernel

N = 7


@pytest.fixture(scope="module")
def prog(tmp_path_factory) -> str:
    return workloads.calls(tmp_path_factory.mktemp("calls"))


def test_uprobe_counts_every_call_and_reads_arg0(prog):
    out = run_with_workload(f"uprobe:{prog}:work {{ @calls = count(); @arg0 = sum(arg0); "
                            "@arg1 = sum(arg1); }", [prog, str(N)])
    # work(i, 7) for i in 0..N-1
    assert out == (f"Attaching 1 probe...\n\n\n@arg0: {sum(range(N))}\n@arg1: {7 * N}\n"
                   f"@calls: {N}\n")


def test_uretprobe_reads_retval(prog):
    out = run_with_workload(f"uretprobe:{prog}:work {{ @ret = sum(retval); "
                            "@big = count(); }", [prog, str(N)])
    assert f"@ret: {sum(2 * i + 7 for i in range(N))}\n" in out
    assert f"@big: {N}\n" in out


def test_uprobe_probe_builtin_names_each_function_of_a_wildcard(prog):
    out = run_with_workload(f"uprobe:{prog}:work* {{ @[probe] = count(); }}", [prog, str(N)])
    head, maps = out.split("\n\n\n")
    # Equal counts: their order is the map printer's business, not the probes'.
    assert head == "Attaching 2 probes..."
    assert sorted(maps.splitlines()) == [f"@[uprobe:{prog}:work]: {N}",
                                         f"@[uprobe:{prog}:work_two]: {N}"]


def test_a_wildcard_is_one_program_attached_to_every_match(prog):
    compiled = compile_text(f"uprobe:{prog}:work* {{ @ = count(); }}", target=LocalTarget())
    programs = compiled.resources.programs
    assert len(programs) == 1
    assert sorted(a.func for a in programs[0].attach) == ["work", "work_two"]
    out = run_with_workload(f"uprobe:{prog}:work* {{ @ = count(); }}", [prog, str(N)])
    assert out.endswith(f"@: {2 * N}\n")


def test_func_is_the_probed_function(prog):
    # The workload pauses between calls, so it is alive while the event prints.
    out = run_with_workload(f'uprobe:{prog}:work_two {{ printf("%s\\n", func); exit(); }}',
                            [prog, "3", "200000"])
    assert out == "Attaching 1 probe...\nwork_two\n\n\n"


def test_uretprobe_func_is_the_caller_as_in_bpftrace(prog):
    # At a uretprobe the ip is the return address: bpftrace 0.17 prints the caller.
    out = run_with_workload(f'uretprobe:{prog}:work_two {{ printf("%s\\n", func); exit(); }}',
                            [prog, "3", "200000"])
    assert out == "Attaching 1 probe...\nmain\n\n\n"


def test_uprobe_by_library_name_on_libc(prog):
    libc = resolve_binary(LocalTarget(), "libc")
    out = run_with_workload("uprobe:libc:getppid /pid == cpid/ { @[probe] = count(); }",
                            [prog, str(N)])
    assert out == f"Attaching 1 probe...\n\n\n@[uprobe:{libc}:getppid]: {N}\n"


def _count_while_another_copy_runs(prog, pid_filter: bool) -> str:
    # A second copy keeps calling work() all through the trace; the traced one
    # pauses 20 ms between calls so the trace lasts long enough for the other to
    # be scheduled on a busy machine.
    with another_copy_running([prog, "100000", "200"]):
        return run_with_workload(f"uprobe:{prog}:work {{ @ = count(); }}",
                                 [prog, str(N), "20000"], pid_filter=pid_filter)


def test_pid_restricts_the_probe_to_that_process(prog):
    assert _count_while_another_copy_runs(prog, pid_filter=True).endswith(f"@: {N}\n")
    # And the same trace without -p does see the other process.
    unfiltered = _count_while_another_copy_runs(prog, pid_filter=False)
    assert int(unfiltered.rsplit("@: ", 1)[1]) > N


def test_with_pid_a_library_name_resolves_through_that_process(prog):
    # The workload's own libc mapping names the library; the probe counts only it.
    out = run_with_workload("uprobe:libc:getppid { @[probe] = count(); }", [prog, str(N)],
                            pid_filter=True)
    head, maps = out.split("\n\n\n")
    m = re.fullmatch(r"@\[uprobe:(/\S+):getppid\]: (\d+)\n", maps)
    assert m and int(m.group(2)) == N, out
    assert os.path.samefile(m.group(1), resolve_binary(LocalTarget(), "libc"))


def test_uprobe_at_an_address(prog):
    addr = ElfSymbols.load(LocalTarget(), prog).lookup("work").address
    out = run_with_workload(f"uprobe:{prog}:{addr:#x} {{ @ = count(); }}", [prog, str(N)])
    assert out.endswith(f"@: {N}\n")


def test_multiple_probes_share_one_block(prog):
    text = f"uprobe:{prog}:work, uprobe:{prog}:work_two {{ @ = count(); }}"
    assert len(compile_text(text, target=LocalTarget()).resources.programs) == 1
    out = run_with_workload(text, [prog, str(N)])
    assert out == f"Attaching 2 probes...\n\n\n@: {2 * N}\n"


def test_unknown_function_is_a_clear_error(prog):
    with pytest.raises(PytraceError, match="no symbol 'nope'"):
        compile_text(f"uprobe:{prog}:nope {{ @ = count(); }}", target=LocalTarget())


def test_args_need_a_register_for_each(prog):
    with pytest.raises(PytraceError, match="arg6: only 6 register arguments"):
        compile_text(f"uprobe:{prog}:work {{ @ = arg6; }}", target=LocalTarget())


def test_retval_is_only_for_return_probes(prog):
    with pytest.raises(PytraceError, match="The retval builtin can only be used with"):
        compile_text(f"uprobe:{prog}:work {{ @ = retval; }}", target=LocalTarget())
