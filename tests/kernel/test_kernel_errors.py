"""Kernel errors in plain words: capabilities, missing kprobes, misspelt
tracepoints; and the instruction encoder the kernel tests rely on."""

from __future__ import annotations

import errno

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.kernel import bpf, insn as I, perf
from pytrace.kernel.errors import (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, ENOTSUPP, AttachError,
                                   KernelError, MapError, effective_capabilities, errno_text,
                                   kprobes_unavailable, missing_capability, unknown_tracepoint)

EVENTS = ["sys_enter_read", "sys_exit_read", "sys_enter_openat", "sys_enter_open"]
EVERY = [f"syscalls:{e}" for e in EVENTS] + ["sched:sched_switch", "sched:sched_wakeup"]


def test_kernel_errors_are_user_facing_pytrace_errors():
    err = MapError("cannot create map x: invalid argument", errno.EINVAL)
    assert isinstance(err, KernelError) and isinstance(err, PytraceError)
    assert err.render() == "ERROR: cannot create map x: invalid argument"
    assert err.errno == errno.EINVAL


def test_capabilities_are_read_from_proc_status():
    status = "Name:\tx\nCapPrm:\t0000000000000000\nCapEff:\t000000c000200000\n"
    caps = effective_capabilities(status)
    assert caps == (1 << CAP_BPF) | (1 << CAP_PERFMON) | (1 << CAP_SYS_ADMIN)


def test_missing_capability_names_only_what_is_missing():
    assert missing_capability((CAP_BPF, CAP_PERFMON), 0) == \
        "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"
    assert missing_capability((CAP_BPF, CAP_PERFMON), 1 << CAP_BPF) == \
        "CAP_PERFMON (or CAP_SYS_ADMIN)"
    assert missing_capability((CAP_BPF,), 1 << CAP_SYS_ADMIN) is None


def test_enotsupp_gets_words():
    assert errno_text(ENOTSUPP) == "operation not supported by this kernel"
    assert errno_text(errno.ENOENT) == "no such file or directory"


def test_kprobes_unavailable_names_the_kernel_option():
    assert str(kprobes_unavailable("do_sys_open")) == (
        "cannot attach kprobe to do_sys_open: this kernel has no kprobes "
        "(CONFIG_KPROBES is not enabled)")


def test_misspelt_event_suggests_events_of_the_same_category():
    err = unknown_tracepoint("syscalls", "sys_enter_opnat", EVENTS, EVERY)
    assert str(err) == ("tracepoint not found: syscalls:sys_enter_opnat; did you mean "
                        "syscalls:sys_enter_openat, syscalls:sys_enter_open, "
                        "syscalls:sys_enter_read?")
    assert isinstance(err, AttachError) and err.errno == errno.ENOENT


def test_misspelt_category_suggests_from_every_category():
    err = unknown_tracepoint("schd", "sched_switch", None, EVERY)
    assert str(err).startswith("tracepoint not found: schd:sched_switch; did you mean "
                               "sched:sched_switch")


def test_nothing_close_gets_no_suggestion():
    assert str(unknown_tracepoint("zzz", "qqq", None, EVERY)) == "tracepoint not found: zzz:qqq"


def test_an_unlike_event_of_a_known_category_gets_no_suggestion():
    """Against every `category:event`, the shared `syscalls:` prefix alone made
    `syscalls:nosuch` look close to `syscalls:sys_exit_read`."""
    events = EVENTS + ["sys_exit_chown", "sys_exit_chmod"]
    every = [f"syscalls:{e}" for e in events]
    assert (str(unknown_tracepoint("syscalls", "nosuch", events, every))
            == "tracepoint not found: syscalls:nosuch")


def test_pmu_format_bits_parse():
    assert perf.parse_format_bits("config:0") == (0, 1)
    assert perf.parse_format_bits("config:32-63") == (32, 32)
    assert perf.parse_format_bits("config1:0-63") is None


@pytest.mark.kernel
def test_machine_pmu_format_matches_the_kernel_documentation():
    # Documented since 4.17: retprobe is config bit 0 for both dynamic PMUs.
    assert perf.pmu_format_bit("uprobe", "retprobe") == (0, 1)


@pytest.mark.kernel
def test_bad_map_parameters_are_a_plain_map_error():
    with pytest.raises(MapError, match="^cannot create map bad: invalid argument$"):
        bpf.map_create(bpf.MAP_HASH, 0, 8, 10, name="bad")   # hash keys need a size


# ---- instruction encoding (checked against the kernel's documented byte layout) ---------

def test_simple_instructions_encode_like_the_kernel_expects():
    assert I.mov_imm(I.R0, 0).hex() == "b700000000000000"
    assert I.exit_().hex() == "9500000000000000"
    assert I.call(14).hex() == "850000000e000000"
    assert I.mov_reg(I.R2, I.R10).hex() == "bfa2000000000000"
    assert I.alu_imm(I.ADD, I.R2, -4).hex() == "07020000fcffffff"
    assert I.stx(4, I.R10, -4, I.R0).hex() == "630afcff00000000"
    assert I.ldx(8, I.R6, I.R0, 0).hex() == "7906000000000000"
    assert I.jmp_imm(I.JEQ, I.R0, 0, 3).hex() == "1500030000000000"
    assert I.atomic_add(8, I.R0, 0, I.R1).hex() == "db10000000000000"


def test_map_fd_load_takes_two_slots_with_the_pseudo_source():
    code = I.ld_map_fd(I.R1, 7)
    assert code.hex() == "1811000007000000" + "0000000000000000"
    assert I.count(code) == 2
    assert I.ld_imm64(I.R3, 0x1122334455667788).hex() == \
        "1803000088776655" + "0000000044332211"
