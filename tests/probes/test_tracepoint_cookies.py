"""Tracepoint wildcards whose block reads `probe`: one program attached to every
match, each perf-event link carrying the point's probe id as its cookie; a
kernel without link cookies gets one program per point and the same output."""

from __future__ import annotations

import pytest

from pytrace.target.local import LocalTarget
from tests.compiler.harness import compile_text
from tests.probes import workloads
from tests.probes.harness import run_with_workload

pytestmark = pytest.mark.kernel

N = 7
PROGRAM = "tracepoint:syscalls:sys_*_getppid /pid == cpid/ { @[probe] = count(); }"
UNFILTERED = "tracepoint:syscalls:sys_*_getppid { @[probe] = count(); }"


class NoCookieTarget(LocalTarget):
    """This machine as a kernel before 5.15 (no perf-link cookies) would show it."""

    def supports(self, feature):
        return feature != "perf_cookie" and super().supports(feature)


@pytest.fixture(scope="module")
def syscalls(tmp_path_factory) -> str:
    return workloads.syscalls(tmp_path_factory.mktemp("cookies"))


def test_this_kernel_has_perf_link_cookies():
    assert LocalTarget().supports("perf_cookie")


def test_wildcard_reading_probe_compiles_to_one_program():
    res = compile_text(UNFILTERED, target=LocalTarget()).resources
    (prog,) = res.programs
    assert sorted(s.name for s in prog.attach) == [
        "tracepoint:syscalls:sys_enter_getppid", "tracepoint:syscalls:sys_exit_getppid"]


def test_without_cookies_each_point_gets_its_own_program():
    res = compile_text(UNFILTERED, target=NoCookieTarget()).resources
    assert len(res.programs) == 2
    assert all(len(p.attach) == 1 for p in res.programs)


@pytest.mark.parametrize("target_class", [LocalTarget, NoCookieTarget])
def test_probe_names_each_point_of_the_shared_program(syscalls, target_class):
    out = run_with_workload(PROGRAM, [syscalls, str(N)], target=target_class())
    header, maps = out.split("\n\n\n")
    assert header == "Attaching 2 probes..."
    # Equal counts print in the map's own order, as in bpftrace: compare as a set.
    assert set(maps.splitlines()) == {f"@[tracepoint:syscalls:sys_enter_getppid]: {N}",
                                      f"@[tracepoint:syscalls:sys_exit_getppid]: {N}"}
