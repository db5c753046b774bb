"""Which privileges the one-line refusal names, for every kind of kernel: the
capability sets a test machine cannot take on by itself."""

from pytrace.kernel.errors import CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, \
    tracing_privileges_missing

MODERN, OLD = 40, 37   # /proc/sys/kernel/cap_last_cap on 6.x, and before 5.8


def caps(*numbers: int) -> int:
    return sum(1 << n for n in numbers)


def test_root_or_sys_admin_may_trace_on_any_kernel():
    for last in (MODERN, OLD):
        assert tracing_privileges_missing(caps(CAP_SYS_ADMIN), last) is None


def test_bpf_with_perfmon_is_enough_where_the_kernel_has_them():
    assert tracing_privileges_missing(caps(CAP_BPF, CAP_PERFMON), MODERN) is None
    assert "CAP_BPF and CAP_PERFMON" in tracing_privileges_missing(caps(CAP_BPF), MODERN)
    assert "CAP_BPF and CAP_PERFMON" in tracing_privileges_missing(0, MODERN)


def test_kernels_before_cap_bpf_are_told_sys_admin():
    message = tracing_privileges_missing(caps(CAP_BPF, CAP_PERFMON), OLD)
    assert message == ("pytrace needs root privileges (CAP_SYS_ADMIN); "
                       "run it as root (e.g. with sudo)")
