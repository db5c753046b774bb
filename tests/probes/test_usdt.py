"""USDT probes of a real sys/sdt.h program: exact counts, arguments decoded from
registers, stack memory, %rip-relative globals and constants, semaphores."""

from __future__ import annotations

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.kernel.usdt import load_probes
from pytrace.target.local import LocalTarget
from tests.compiler.harness import compile_text
from tests.probes import workloads
from tests.probes.harness import run_with_workload

pytestmark = pytest.mark.kernel

N = 6
ARGS_PROGRAM = ("usdt:{p}:app:plain {{ @a0 = sum(arg0); @a1 = sum(arg1); @a2 = sum(arg2); "
                "@n = count(); }} usdt:{p}:app:memory {{ @m = max(arg0); }}")
EXPECTED_ARGS = (f"@a0: {sum(range(N))}\n@a1: {-sum(range(N))}\n@a2: {5 * N}\n"
                 f"@m: {1000 + 3 * N}\n@n: {N}\n")


@pytest.fixture(scope="module", params=["-O2", "-O0"])
def prog(request, tmp_path_factory) -> str:
    return workloads.usdt(tmp_path_factory.mktemp("usdt"), flags=(request.param, "-g"),
                          name="usdt" + request.param[1:].lower())


def test_arguments_are_decoded_from_every_kind_of_spec(prog):
    kinds = {a.kind + ("+symbol" if a.symbol else "")
             for p in load_probes(LocalTarget(), prog) for a in p.args}
    # -O2 puts arguments in registers and a %rip-relative global, -O0 on the stack.
    assert {"reg", "const"} <= kinds and kinds & {"mem", "mem+symbol"}
    out = run_with_workload(ARGS_PROGRAM.format(p=prog), [prog, str(N)])
    assert out == "Attaching 2 probes...\n\n\n" + EXPECTED_ARGS


def test_path_and_name_without_provider(prog):
    out = run_with_workload(f"usdt:{prog}:global {{ @ = sum(arg0); }}", [prog, str(N)])
    assert out.endswith(f"@: {sum(100 + i for i in range(1, N + 1))}\n")


def test_semaphore_guarded_probe_fires_while_attached(prog):
    # The program only reaches the guarded probe when its semaphore is non-zero:
    # the kernel raises it because the uprobe carries ref_ctr_offset.
    out = run_with_workload(f"usdt:{prog}:app:guarded {{ @n = count(); @s = sum(arg0); }}",
                            [prog, str(N)])
    assert out.endswith(f"@n: {N}\n@s: {10 * sum(range(N))}\n")


def test_wildcard_names_each_site(prog):
    out = run_with_workload(f"usdt:{prog}:app:* {{ @[probe] = count(); }}", [prog, str(N)])
    lines = sorted(out.split("\n\n\n")[1].splitlines())
    assert lines == sorted(f"@[usdt:{prog}:app:{name}]: {N}"
                           for name in ("plain", "global", "memory", "guarded"))


def test_sites_with_the_same_argument_layout_share_a_program(prog):
    compiled = compile_text(f"usdt:{prog}:app:* {{ @ = sum(arg0); }}", target=LocalTarget())
    layouts = {tuple(p.args) for p in load_probes(LocalTarget(), prog)}
    # At -O0 `global` and `memory` both pass `-8@%rax`: 3 layouts for 4 sites.
    assert len(compiled.resources.programs) == len(layouts)
    assert sum(len(p.attach) for p in compiled.resources.programs) == 4
    # A probe that reads no argument needs no split at all.
    plain = compile_text(f"usdt:{prog}:app:* {{ @ = count(); }}", target=LocalTarget())
    assert [len(p.attach) for p in plain.resources.programs] == [4]


def test_pid_restriction(prog):
    out = run_with_workload(f"usdt:{prog}:app:plain {{ @ = count(); }}", [prog, str(N)],
                            pid_filter=True)
    assert out.endswith(f"@: {N}\n")


def test_wildcard_binary_with_pid_finds_the_process_probes(prog):
    out = run_with_workload("usdt:*:app:plain { @[probe] = count(); }", [prog, str(N)],
                            pid_filter=True)
    assert out == f"Attaching 1 probe...\n\n\n@[usdt:{prog}:app:plain]: {N}\n"


def test_wildcard_binary_without_pid_is_an_error(prog):
    with pytest.raises(PytraceError, match="a wildcard or empty binary needs -p PID"):
        compile_text("usdt:*:app:plain { @ = count(); }", target=LocalTarget())


def test_one_block_for_a_usdt_probe_and_a_uprobe(prog):
    # Different providers under one block: one program each, one shared body.
    text = f"usdt:{prog}:app:plain, uprobe:{prog}:guarded_site {{ @[probe] = count(); }}"
    assert len(compile_text(text, target=LocalTarget()).resources.programs) == 2
    out = run_with_workload(text, [prog, str(N)])
    head, maps = out.split("\n\n\n")
    assert head == "Attaching 2 probes..."
    assert sorted(maps.splitlines()) == sorted([f"@[usdt:{prog}:app:plain]: {N}",
                                                f"@[uprobe:{prog}:guarded_site]: {N}"])


def test_argument_past_the_last_is_an_error(prog):
    with pytest.raises(PytraceError, match="arg3: .*app:plain has 3 arguments"):
        compile_text(f"usdt:{prog}:app:plain {{ @ = arg3; }}", target=LocalTarget())


def test_unknown_probe_is_an_error(prog):
    with pytest.raises(PytraceError, match="no USDT probe in .* matches app:nope"):
        compile_text(f"usdt:{prog}:app:nope {{ @ = count(); }}", target=LocalTarget())
