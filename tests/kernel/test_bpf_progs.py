"""Programs through LocalTarget on the real kernel: every program type pytrace
needs loads, rejections carry the verifier log, refusals say why."""

from __future__ import annotations

import os

import pytest

from pytrace.kernel import bpf, btf, perf
from pytrace.kernel import insn as I
from pytrace.kernel.errors import KernelPermissionError, ProgLoadError, permission_error
from pytrace.target.local import LocalTarget

pytestmark = pytest.mark.kernel

RETURN_ZERO = I.program(I.mov_imm(I.R0, 0), I.exit_())


@pytest.fixture(scope="module")
def target():
    t = LocalTarget()
    yield t
    t.close_all()


@pytest.fixture(scope="module")
def vmlinux(target):
    return btf.load_vmlinux(target)


@pytest.mark.parametrize("prog_type", [bpf.PROG_KPROBE, bpf.PROG_TRACEPOINT,
                                       bpf.PROG_RAW_TRACEPOINT, bpf.PROG_PERF_EVENT],
                         ids=["kprobe", "tracepoint", "raw_tracepoint", "perf_event"])
def test_minimal_program_of_each_type_loads(target, prog_type):
    fd, log = target.prog_load(prog_type, RETURN_ZERO, name="minimal")
    info = target.prog_info(fd)
    assert info["type"] == prog_type
    assert info["name"] == "minimal"
    assert info["xlated_insns"] == 2 and info["verified_insns"] == 2
    assert info["id"] > 0
    assert log == ""   # no log asked for, none kept on success
    target.close(fd)


def test_tp_btf_tracing_program_loads_and_attaches(target, vmlinux):
    (btf_id,) = vmlinux.find_ids("btf_trace_sched_switch", "TYPEDEF")
    fd, _ = target.prog_load(bpf.PROG_TRACING, RETURN_ZERO, name="tpbtf",
                             expected_attach_type=bpf.ATTACH_TRACE_RAW_TP,
                             attach_btf_id=btf_id)
    assert target.prog_info(fd)["attach_btf_id"] == btf_id
    handle = target.attach_tracing(fd)
    target.detach(handle)
    # Kernels before tracing links attach through raw_tracepoint_open(NULL).
    link = perf.attach_tracing(fd, None)
    os.close(link)
    target.close(fd)


@pytest.mark.parametrize("attach_type", [bpf.ATTACH_TRACE_FENTRY, bpf.ATTACH_TRACE_FEXIT],
                         ids=["fentry", "fexit"])
def test_fentry_fexit_refusal_names_the_cause(target, vmlinux, attach_type):
    (btf_id,) = vmlinux.find_ids("vfs_read", "FUNC")
    with pytest.raises(KernelPermissionError) as exc:
        target.prog_load(bpf.PROG_TRACING, RETURN_ZERO, name="vfs_read",
                         expected_attach_type=attach_type, attach_btf_id=btf_id)
    assert str(exc.value) == ("cannot load program vfs_read: this kernel refuses fentry/fexit "
                              "(tracing) programs even with full privileges "
                              "(operation not permitted)")
    assert isinstance(exc.value, ProgLoadError)


def test_verifier_rejection_carries_the_log_and_its_reason(target):
    with pytest.raises(ProgLoadError) as exc:
        target.prog_load(bpf.PROG_TRACEPOINT, I.exit_(), name="bad")   # r0 never set
    assert "R0 !read_ok" in exc.value.log
    assert str(exc.value) == "cannot load program bad: the BPF verifier rejected it: R0 !read_ok"


def test_log_level_keeps_the_log_of_an_accepted_program(target):
    fd, log = target.prog_load(bpf.PROG_TRACEPOINT, RETURN_ZERO, name="logged", log_level=2)
    assert "processed 2 insns" in log
    target.close(fd)


def test_log_buffer_grows_when_the_kernel_says_it_is_truncated(target, monkeypatch):
    monkeypatch.setattr(bpf, "LOG_START", 64)   # far too small for a level-2 log
    long_prog = I.program(*[I.mov_imm(I.R1, k) for k in range(200)], RETURN_ZERO)
    fd, log = target.prog_load(bpf.PROG_TRACEPOINT, long_prog, name="long", log_level=2)
    assert "processed 202 insns" in log
    target.close(fd)


def test_wrong_helper_argument_is_reported_with_the_verifier_reason(target):
    # bpf_get_stackid needs the context pointer in r1; an integer is refused.
    prog = I.program(I.mov_imm(I.R1, 0), I.mov_imm(I.R2, 0), I.mov_imm(I.R3, 0),
                     I.call(27), RETURN_ZERO)
    with pytest.raises(ProgLoadError, match="rejected it: R1 type=scalar expected=ctx"):
        target.prog_load(bpf.PROG_TRACEPOINT, prog, name="stk")


def test_raw_tracepoint_program_runs_on_demand(target):
    fd, _ = target.prog_load(bpf.PROG_RAW_TRACEPOINT,
                             I.program(I.mov_imm(I.R0, 42), I.exit_()), name="begin")
    assert target.prog_test_run(fd) == 42
    target.close(fd)


def test_permission_messages_name_the_missing_capability():
    no_caps = 0
    err = permission_error("cannot create map", (bpf.CAP_BPF,), 1, caps=no_caps)
    assert str(err) == ("cannot create map: permission denied: CAP_BPF (or CAP_SYS_ADMIN) "
                        "is needed")
    err = permission_error("cannot load program p", (bpf.CAP_BPF, bpf.CAP_PERFMON), 1,
                           caps=1 << bpf.CAP_BPF)
    assert str(err) == ("cannot load program p: permission denied: CAP_PERFMON "
                        "(or CAP_SYS_ADMIN) is needed")
    assert permission_error("x", (bpf.CAP_BPF,), 1, caps=1 << 21).message.startswith(
        "x: the kernel refused it although all capabilities are held")
