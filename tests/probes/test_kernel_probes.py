"""Kernel-side probe types on this machine: rawtracepoint (tp_btf typed and plain)
attached and counting; kprobe/kretprobe loaded through the verifier with a clear
attach error where the kernel has no kprobes; fentry/fexit built against BTF up to
the load, with a clear refusal where the kernel forbids tracing programs; hardware
events with a clear no-PMU error; watchpoints on a process's variable."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from pytrace.cli import main
from pytrace.diagnostics import PytraceError
from pytrace.kernel import btf as B
from pytrace.kernel import perf
from pytrace.runtime.loader import load
from pytrace.target.local import LocalTarget
from pytrace.types import IntType, PointerType
from tests.compiler.harness import compile_text
from tests.probes import workloads
from tests.probes.harness import run_with_workload

pytestmark = pytest.mark.kernel

N = 9
GETPPID = {"x86_64": 110, "aarch64": 173}.get(os.uname().machine)


class NoBtfTarget(LocalTarget):
    """This machine as a kernel without BTF would show it."""

    def read_file(self, path, max_bytes=None):
        if path.startswith("/sys/kernel/btf/"):
            raise FileNotFoundError(path)
        return super().read_file(path, max_bytes)


@pytest.fixture(scope="module")
def syscalls(tmp_path_factory) -> str:
    if GETPPID is None:
        pytest.skip("getppid's syscall number is only known here for x86_64 and aarch64")
    return workloads.syscalls(tmp_path_factory.mktemp("sys"))


def _pytrace(argv, capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


# ---- rawtracepoint --------------------------------------------------------------------

def test_rawtracepoint_is_btf_typed_where_the_kernel_declares_it(syscalls):
    text = (f"rawtracepoint:sys_enter /pid == cpid && args.id == {GETPPID}/ "
            "{ @calls = count(); @ids = sum(arg1); }")
    program = compile_text(text, target=LocalTarget(), cpid=1).resources.programs[0]
    typedef = B.load_vmlinux(LocalTarget()).find("btf_trace_sys_enter", B.TYPEDEF)
    assert (program.prog_type, program.expected_attach_type, program.attach_btf_id) == \
        ("tracing", 23, typedef.id)
    out = run_with_workload(text, [syscalls, str(N)])
    assert out == f"Attaching 1 probe...\n\n\n@calls: {N}\n@ids: {GETPPID * N}\n"


def test_rawtracepoint_without_btf_is_a_plain_raw_tracepoint(syscalls):
    text = f"rt:sys_enter /pid == cpid && arg1 == {GETPPID}/ {{ @[probe] = count(); }}"
    program = compile_text(text, target=NoBtfTarget(), cpid=1).resources.programs[0]
    assert program.prog_type == "raw_tracepoint"
    out = run_with_workload(text, [syscalls, str(N)], target=NoBtfTarget())
    assert out == f"Attaching 1 probe...\n\n\n@[rawtracepoint:sys_enter]: {N}\n"


def test_rawtracepoint_args_have_btf_types():
    with pytest.raises(PytraceError, match="does not contain a field named 'nope'"):
        compile_text("rawtracepoint:sys_enter { @ = args.nope; }", target=LocalTarget())
    with pytest.raises(PytraceError, match="sys_enter has 2 arguments"):
        compile_text("rawtracepoint:sys_enter { @ = arg2; }", target=LocalTarget())


def test_rawtracepoint_wildcard_expands_over_btf_tracepoints():
    compiled = compile_text("rawtracepoint:sched_switc* { @ = count(); }", target=LocalTarget())
    names = [a.name for p in compiled.resources.programs for a in p.attach]
    assert names == ["rawtracepoint:sched_switch"]


# ---- kprobe ----------------------------------------------------------------------------

KPROBE_TEXT = ("kprobe:vfs_read { @[func] = count(); @a = sum(arg2); @s = sum(sarg0); } "
               "kretprobe:vfs_read { @r = hist(retval); @f[func] = count(); }")


def test_kprobe_programs_load_and_pass_the_verifier():
    target = LocalTarget()
    compiled = compile_text(KPROBE_TEXT, target=target)
    loaded = load(target, compiled.object, compiled.resources)
    try:
        types = {target.prog_info(p.fd)["type"] for p in loaded.programs}
        assert types == {2}  # BPF_PROG_TYPE_KPROBE, both verified
    finally:
        loaded.close(target)
        target.close_all()


def test_kprobe_attach_fails_clearly_without_kprobes(capfd):
    if perf.kprobes_available():
        pytest.skip("this kernel has kprobes")
    code, out, err = _pytrace(["-e", KPROBE_TEXT], capfd)
    assert code == 1
    assert err.strip().endswith("cannot attach kprobe to vfs_read: this kernel has no "
                                "kprobes (CONFIG_KPROBES is not enabled)")
    assert "Traceback" not in err


def test_kprobe_wildcard_expands_over_kallsyms_functions():
    compiled = compile_text("kprobe:vfs_rea* { @ = count(); }", target=LocalTarget())
    programs = compiled.resources.programs
    assert len(programs) == 1  # one program attached to every match
    with open("/proc/kallsyms") as f:
        expected = sorted({m.group(1) for m in re.finditer(r" [tTwW] (vfs_rea[^\s.]*)\s",
                                                           f.read())})
    assert sorted(a.func for a in programs[0].attach) == expected


def test_kprobe_wildcard_reading_probe_is_one_verified_program():
    # `probe` comes from each perf link's cookie, so the wildcard needs no
    # program per function; it loads here, where only the attach would fail.
    target = LocalTarget()
    compiled = compile_text("kprobe:vfs_rea* { @[probe] = count(); }", target=target)
    (prog,) = compiled.resources.programs
    assert len(prog.attach) > 1
    assert sorted(compiled.resources.probe_names) == sorted(a.name for a in prog.attach)
    loaded = load(target, compiled.object, compiled.resources)
    try:
        assert target.prog_info(loaded.programs[0].fd)["type"] == 2
    finally:
        loaded.close(target)
        target.close_all()


def test_kprobe_offset_names_the_probe():
    spec = compile_text("kprobe:vfs_read+16 { @ = count(); }",
                        target=LocalTarget()).resources.programs[0].attach[0]
    assert (spec.name, spec.func, spec.offset) == ("kprobe:vfs_read+16", "vfs_read", 16)


# ---- fentry / fexit --------------------------------------------------------------------

FENTRY_TEXT = ("kfunc:vfs_read { @bytes = sum(args->count); @f = args.file; } "
               "kretfunc:vfs_read { @ret = sum(retval); }")


def test_fentry_programs_are_built_against_the_btf_prototype():
    target = LocalTarget()
    btf = B.load_vmlinux(target)
    func = btf.find("vfs_read", B.FUNC)
    compiled = compile_text(FENTRY_TEXT, target=target)
    entry, exit_ = compiled.resources.programs
    assert (entry.prog_type, entry.expected_attach_type, entry.attach_btf_id) == \
        ("tracing", 24, func.id)
    assert (exit_.prog_type, exit_.expected_attach_type, exit_.attach_btf_id) == \
        ("tracing", 25, func.id)
    args = entry.attach[0].options["args"]
    assert [f.name for f in args.fields] == ["file", "buf", "count", "pos"]
    assert args.field("count").type == IntType(64, False)  # size_t
    assert isinstance(args.field("file").type, PointerType)
    # fexit's return value is the slot after the 4 parameters, an ssize_t.
    assert exit_.attach[0].options["retval_index"] == 4
    assert exit_.attach[0].options["retval_type"] == IntType(64, True)


def test_fentry_wildcard_is_one_program_per_function():
    compiled = compile_text("fentry:vfs_rea* { @ = count(); }", target=LocalTarget())
    btf = B.load_vmlinux(LocalTarget())
    for program in compiled.resources.programs:
        (spec,) = program.attach
        assert btf.type(program.attach_btf_id).name == spec.func


def test_fentry_refusal_is_a_clear_error(capfd):
    code, out, err = _pytrace(["-e", FENTRY_TEXT], capfd)
    if code == 0:
        pytest.skip("this kernel accepts fentry programs")
    assert code == 1
    assert "Could not load the program for fentry:vfs_read" in err
    assert "this kernel refuses fentry/fexit (tracing) programs" in err
    assert "verifier" not in err


def test_fentry_unknown_function_is_an_error():
    with pytest.raises(PytraceError, match="no BTF for kernel function 'no_such_fn'"):
        compile_text("fentry:no_such_fn { @ = count(); }", target=LocalTarget())


# ---- hardware, watchpoint --------------------------------------------------------------

def test_hardware_without_pmu_is_a_clear_error(capfd):
    if os.path.exists("/sys/bus/event_source/devices/cpu"):
        pytest.skip("this machine has a CPU PMU")
    code, out, err = _pytrace(["-e", "hardware:cycles:100000 { @ = count(); }"], capfd)
    assert code == 1
    assert err.strip() == ("ERROR: Error attaching probe: 'hardware:cycles:100000': cannot "
                           "open hardware event 0: this machine has no hardware performance "
                           "counters (no PMU)")


def test_hardware_event_names_and_default_periods():
    spec = compile_text("h:branch-misses { @ = count(); }",
                        target=LocalTarget()).resources.programs[0].attach[0]
    assert (spec.name, spec.options["config"], spec.options["sample_period"]) == \
        ("hardware:branch-misses:", 5, 100000)


def test_watchpoint_sees_every_write_to_a_variable(tmp_path):
    # The values written are collected rather than the events counted: under a
    # hypervisor a data breakpoint can report one write twice.
    prog = workloads.watched(tmp_path)
    nm = subprocess.run(["nm", prog], capture_output=True, text=True).stdout
    addr = int(re.search(r"^([0-9a-f]+) [bB] watched$", nm, re.M).group(1), 16)
    out = run_with_workload(
        f"watchpoint:{addr:#x}:8:w {{ @last = max(*(int64 *){addr:#x}); "
        f"@seen[*(int64 *){addr:#x}] = 1; @probe[probe] = 1; }}"
        f" END {{ printf(\"%d values\\n\", len(@seen)); clear(@seen); }}",
        [prog, str(N)])
    assert out == (f"Attaching 2 probes...\n{N} values\n\n\n@last: {N - 1}\n"
                   f"@probe[watchpoint:{addr:#x}:8:w]: 1\n\n")


def test_watchpoint_needs_a_process(capfd):
    code, out, err = _pytrace(["-e", "watchpoint:0x1000:8:w { @ = count(); }"], capfd)
    assert code == 1
    assert "watchpoints need a process: use -p PID or -c CMD" in err
