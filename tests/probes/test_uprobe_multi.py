"""Wildcard uprobes through uprobe_multi links: one link per binary, exact counts per
function (`probe` from the attach cookie), uretprobes, -p, the per-function
perf-event fallback, and a detach that no longer waits once per function."""

from __future__ import annotations

import errno
import os
import re
import time

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.kernel import bpf
from pytrace.kernel.bpf import ATTACH_TRACE_UPROBE_MULTI
from pytrace.kernel.elf_symbols import resolve_binary
from pytrace.kernel.errors import ProgLoadError
from pytrace.runtime.attach import Attachments
from pytrace.runtime.loader import load
from pytrace.target.local import LocalTarget
from tests.compiler.harness import compile_text
from tests.helpers.cbuild import build_c
from tests.probes import workloads
from tests.probes.harness import another_copy_running, run_with_workload

pytestmark = pytest.mark.kernel

FUNCS = 60
ROUNDS = 3


def calls_of(k: int) -> int:
    """How often the workload calls fn_k: ROUNDS rounds of (k % 3 + 1) calls."""
    return ROUNDS * (k % 3 + 1)


# fn_00..fn_59 each return their number; main calls fn_k (k % 3 + 1) times a round
# (through a table, so none is inlined), then getppid() once, and pauses between rounds
# and before exiting so printf events print while the process still exists.
MANY = workloads.WAIT + "".join(
    f"__attribute__((noinline)) int fn_{k:02d}(int a) {{ sink += a; return {k}; }}\n"
    for k in range(FUNCS)) + r"""
/* Uprobes refuse lock-prefixed instructions: this function starts with one. */
__asm__(".text\n.globl locked_op\n.type locked_op, @function\nlocked_op:\n"
        "lock incl sink(%rip)\nret\n.size locked_op, .-locked_op\n");
static int (*const table[])(int) = {""" + ", ".join(f"fn_{k:02d}" for k in range(FUNCS)) + r"""};
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]), pause_us = argc > 2 ? atoi(argv[2]) : 0;
    for (int r = 0; r < n; r++) {
        for (int k = 0; k < (int)(sizeof table / sizeof table[0]); k++)
            for (int j = 0; j <= k % 3; j++) table[k](r);
        getppid();
        if (pause_us) usleep(pause_us);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def prog(tmp_path_factory) -> str:
    return str(build_c(MANY, tmp_path_factory.mktemp("many"), "many", flags=("-O1",)))


def kernel_version() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int(re.match(r"\d+", minor).group())


@pytest.fixture
def multi():
    """Tests of the uprobe_multi path need a kernel with it (6.10+ for the pid fix);
    from 6.10 on, the probe must find it."""
    target = LocalTarget()
    try:
        found = target.supports("uprobe_multi")
    finally:
        target.close_all()
    if kernel_version() >= (6, 10):
        assert found
    elif not found:
        pytest.skip("this kernel has no usable uprobe_multi links")


class PerfEventsOnly(LocalTarget):
    """A target whose kernel answers as one without uprobe_multi (before 6.6)."""

    def supports(self, feature):
        return feature != "uprobe_multi" and super().supports(feature)


def counts(out: str) -> dict[str, int]:
    head, maps = out.split("\n\n\n")
    return {line.rsplit(": ", 1)[0]: int(line.rsplit(": ", 1)[1])
            for line in maps.splitlines() if line}


def expected(prog: str, ks, value=calls_of, kind="uprobe") -> dict[str, int]:
    return {f"@[{kind}:{prog}:fn_{k:02d}]": value(k) for k in ks}


def attach_in(target, program: str, options=None):
    """Compile, load and attach; returns (compiled, loaded, attachments)."""
    compiled = compile_text(program, target=target)
    loaded = load(target, compiled.object, compiled.resources)
    attachments = Attachments(target)
    attachments.attach_all(loaded, options or {})
    return compiled, loaded, attachments


def test_a_wildcard_is_one_program_loaded_for_uprobe_multi(prog, multi):
    target = LocalTarget()
    try:
        compiled = compile_text(f"uprobe:{prog}:fn_* {{ @[probe] = count(); }}", target=target)
        (program,) = compiled.resources.programs   # `probe` no longer splits it
        assert program.expected_attach_type == ATTACH_TRACE_UPROBE_MULTI
        assert len(program.attach) == FUNCS
    finally:
        target.close_all()


def test_wildcard_counts_every_call_of_every_function(prog):
    out = run_with_workload(f"uprobe:{prog}:fn_* {{ @[probe] = count(); }}",
                            [prog, str(ROUNDS)])
    assert out.startswith(f"Attaching {FUNCS} probes...\n")
    assert counts(out) == expected(prog, range(FUNCS))


def test_uretprobe_multi_reads_each_functions_retval(prog):
    out = run_with_workload(f"uretprobe:{prog}:fn_* {{ @[probe] = sum(retval); }}",
                            [prog, str(ROUNDS)])
    assert counts(out) == expected(prog, range(FUNCS), lambda k: k * calls_of(k),
                                   kind="uretprobe")


def test_func_names_the_function_that_fired(prog):
    out = run_with_workload(f'uprobe:{prog}:fn_0* {{ printf("%s %s\\n", probe, func); }}',
                            [prog, "1", "300000"])
    lines = out.split("\n", 1)[1].strip().splitlines()
    assert lines == [f"uprobe:{prog}:fn_0{k} fn_0{k}"
                     for k in range(10) for _ in range(k % 3 + 1)]


def test_one_program_over_two_binaries_is_one_link_each(prog, multi):
    libc = resolve_binary(LocalTarget(), "libc")
    target = LocalTarget()
    try:
        _, _, attachments = attach_in(
            target, f"uprobe:{prog}:fn_1*, uprobe:libc:getppid {{ @[probe] = count(); }}")
        assert len(attachments.handles) == 2
        attachments.detach_all()
    finally:
        target.close_all()
    out = run_with_workload(f"uprobe:{prog}:fn_1*, uprobe:libc:getppid /pid == cpid/ "
                            "{ @[probe] = count(); }", [prog, str(ROUNDS)])
    assert counts(out) == {**expected(prog, range(10, 20)),
                           f"@[uprobe:{libc}:getppid]": ROUNDS}


def _count_while_another_copy_runs(prog, pid_filter: bool) -> dict[str, int]:
    with another_copy_running([prog, "100000", "200"]):
        # 20 ms pauses keep the trace open long enough for the other copy to run.
        return counts(run_with_workload(f"uprobe:{prog}:fn_2* {{ @[probe] = count(); }}",
                                        [prog, str(ROUNDS), "20000"], pid_filter=pid_filter))


def test_pid_restricts_every_function_of_the_link_to_that_process(prog):
    assert _count_while_another_copy_runs(prog, pid_filter=True) == \
        expected(prog, range(20, 30))
    # Without -p the same link sees the other copy too.
    unfiltered = _count_while_another_copy_runs(prog, pid_filter=False)
    assert sum(unfiltered.values()) > sum(expected(prog, range(20, 30)).values())


def test_without_uprobe_multi_each_function_gets_its_own_program_and_perf_event(prog):
    program = f"uprobe:{prog}:fn_*9 {{ @[probe] = count(); }}"
    target = PerfEventsOnly()
    try:
        compiled = compile_text(program, target=target)
        programs = compiled.resources.programs
        assert len(programs) == 6   # `probe` splits it, as before uprobe_multi
        assert {p.expected_attach_type for p in programs} == {0}
    finally:
        target.close_all()
    out = run_with_workload(program, [prog, str(ROUNDS)], target=PerfEventsOnly())
    assert counts(out) == expected(prog, range(9, FUNCS, 10))


def test_without_uprobe_multi_a_shared_program_attaches_once_per_function(prog):
    out = run_with_workload(f"uretprobe:{prog}:fn_*9 {{ @ = sum(retval); }}",
                            [prog, str(ROUNDS)], target=PerfEventsOnly())
    assert out.endswith(f"@: {sum(k * calls_of(k) for k in range(9, FUNCS, 10))}\n")


def test_detaching_sixty_uprobes_is_one_wait_not_sixty(prog, multi):
    target = LocalTarget()
    try:
        _, _, attachments = attach_in(target, f"uprobe:{prog}:fn_* {{ @[probe] = count(); }}")
        assert len(attachments.handles) == 1
        start = time.monotonic()
        attachments.detach_all()
        elapsed = time.monotonic() - start
    finally:
        target.close_all()
    # Sixty perf-event uprobes take ~90 ms each to close (about 5.5 s).
    assert elapsed < 0.5, f"detaching took {elapsed:.2f} s"


@pytest.mark.parametrize("target_class", [LocalTarget, PerfEventsOnly],
                         ids=["uprobe_multi", "perf_events"])
def test_a_function_the_kernel_cannot_probe_is_named(prog, target_class):
    # In one link with others: the refused one is found and named, nothing stays.
    with pytest.raises(PytraceError) as e:
        run_with_workload(f"uprobe:{prog}:fn_1*, uprobe:{prog}:locked_op, uprobe:{prog}:fn_2* "
                          "{ @ = count(); }", [prog, "1"], target=target_class())
    assert str(e.value) == (f"Error attaching probe: uprobe:{prog}:locked_op: "
                            "the kernel cannot probe the instruction there")


# ---- usdt sites share the links too ------------------------------------------------------

USDT_NAMES = ("plain", "global", "memory", "guarded")


@pytest.fixture(scope="module")
def usdt_prog(tmp_path_factory) -> str:
    return workloads.usdt(tmp_path_factory.mktemp("usdt"))


@pytest.mark.parametrize("target_class", [LocalTarget, PerfEventsOnly],
                         ids=["uprobe_multi", "perf_events"])
def test_usdt_wildcard_counts_every_site_semaphore_included(usdt_prog, target_class):
    # The guarded site only fires while the kernel holds its semaphore up.
    out = run_with_workload(f"usdt:{usdt_prog}:app:* {{ @[probe] = count(); }}",
                            [usdt_prog, str(ROUNDS)], target=target_class())
    assert counts(out) == {f"@[usdt:{usdt_prog}:app:{name}]": ROUNDS for name in USDT_NAMES}


@pytest.mark.parametrize("target_class", [LocalTarget, PerfEventsOnly],
                         ids=["uprobe_multi", "perf_events"])
def test_usdt_arguments_and_probe_names_agree_site_by_site(usdt_prog, target_class):
    # Programs split by argument layout, each attached to its sites (probe by cookie).
    out = run_with_workload(f"usdt:{usdt_prog}:app:* {{ @[probe] = sum(arg0); }}",
                            [usdt_prog, str(ROUNDS)], target=target_class())
    r = range(ROUNDS)
    assert counts(out) == {f"@[usdt:{usdt_prog}:app:plain]": sum(r),
                           f"@[usdt:{usdt_prog}:app:global]": sum(101 + i for i in r),
                           f"@[usdt:{usdt_prog}:app:memory]": sum(1003 + 3 * i for i in r),
                           f"@[usdt:{usdt_prog}:app:guarded]": sum(10 * i for i in r)}


def test_usdt_sites_share_one_program_and_link_unless_arguments_differ(usdt_prog, multi):
    target = LocalTarget()
    try:
        compiled, _, attachments = attach_in(
            target, f"usdt:{usdt_prog}:app:* {{ @[probe] = count(); }}")
        (program,) = compiled.resources.programs
        assert program.expected_attach_type == ATTACH_TRACE_UPROBE_MULTI
        assert len(program.attach) == len(USDT_NAMES) and len(attachments.handles) == 1
        attachments.detach_all()
        # Reading arguments splits by where each site keeps them: a link per program.
        compiled, _, attachments = attach_in(
            target, f"usdt:{usdt_prog}:app:* {{ @[probe] = sum(arg0); }}")
        programs = compiled.resources.programs
        assert len(programs) > 1 and len(attachments.handles) == len(programs)
        attachments.detach_all()
    finally:
        target.close_all()


# ---- the kernel probe --------------------------------------------------------------------

def test_the_kernel_is_probed_once_per_target(monkeypatch):
    calls = []
    real = bpf.uprobe_multi_supported
    monkeypatch.setattr(bpf, "uprobe_multi_supported",
                        lambda: calls.append(1) or real())
    from pytrace.kernel import actions
    monkeypatch.setitem(actions._FEATURE_PROBES, "uprobe_multi", bpf.uprobe_multi_supported)
    target = LocalTarget()
    try:
        answers = {target.supports("uprobe_multi") for _ in range(3)}
        assert answers == {real()}
        assert len(calls) == 1
        assert target.supports("no_such_feature") is False
    finally:
        target.close_all()


def test_a_kernel_refusing_the_link_means_no_uprobe_multi(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(errno.EINVAL, "Invalid argument")
    monkeypatch.setattr(bpf, "link_create_uprobe_multi", refuse)
    assert bpf.uprobe_multi_supported() is False


def test_a_kernel_refusing_the_attach_type_means_no_uprobe_multi(monkeypatch):
    def refuse(*args, **kwargs):
        raise ProgLoadError("cannot load program: Invalid argument", errno.EINVAL)
    monkeypatch.setattr(bpf, "prog_load", refuse)
    assert bpf.uprobe_multi_supported() is False


def test_a_kernel_with_the_per_thread_pid_filter_gets_perf_events(monkeypatch):
    # 6.6-era uprobe_multi checks the path before the pid, so pid -1 still says EBADF.
    def path_first(*args, **kwargs):
        raise OSError(errno.EBADF, "Bad file descriptor")
    monkeypatch.setattr(bpf, "link_create_uprobe_multi", path_first)
    assert bpf.uprobe_multi_supported() is False
