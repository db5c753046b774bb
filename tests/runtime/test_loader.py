"""Loading: program bytes out of the ELF object, map indexes patched to fds, errors located."""

import struct

import pytest

from pytrace.diagnostics import Source, Span
from pytrace.kernel import insn
from pytrace.resources import ProgramSpec, Resources
from pytrace.runtime import loader
from tests.runtime.handmade import build_object, counter_body, counter_resources


def test_map_indexes_become_fds_and_other_ld_imm64_stay():
    prog = insn.program(
        insn.ld_imm64(insn.R1, 1, src=insn.PSEUDO_MAP_FD),
        insn.ld_imm64(insn.R2, 0x1234, src=0),
        insn.ld_imm64(insn.R3, 0, src=insn.PSEUDO_MAP_FD),
        insn.mov_imm(insn.R0, 0), insn.exit_())
    patched = loader.patch_map_fds(prog, [100, 200])
    imms = [struct.unpack_from("<i", patched, off + 4)[0] for off in (0, 16, 32)]
    assert imms == [200, 0x1234, 100]
    assert patched[48:] == prog[48:]


def test_a_map_index_out_of_range_is_an_error_not_a_bad_fd():
    prog = insn.program(insn.ld_imm64(insn.R1, 5, src=insn.PSEUDO_MAP_FD), insn.exit_())
    with pytest.raises(loader.LoadError, match="map index 5"):
        loader.patch_map_fds(prog, [3])


def test_program_bytes_come_from_the_named_section_and_function():
    obj = build_object(counter_body(1, 0))
    code = loader.program_bytes(obj, ProgramSpec("begin_prog", "s_begin", "begin"))
    assert len(code) % 8 == 0 and code[-8] == 0x95  # ends with exit
    assert loader.ObjectReader(obj).relocations.get("s_begin", []) == []


def test_kernel_names_are_what_bpf_accepts():
    assert loader.kernel_name("@counts_by_comm_long") == "AT_counts_by_co"
    assert loader.kernel_name(".events") == ".events"


def test_verifier_summary_keeps_the_reason_not_the_statistics():
    log = ("0: R1=ctx() R10=fp0\n0: (61) r0 = *(u32 *)(r1 +0)\n"
           "invalid bpf_context access off=0 size=4\n"
           "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0\n")
    assert loader.verifier_summary(log)[-2:] == [
        "0: (61) r0 = *(u32 *)(r1 +0)", "invalid bpf_context access off=0 size=4"]


@pytest.mark.kernel
def test_a_rejected_program_is_reported_at_its_probe():
    from pytrace.target.local import LocalTarget
    target = LocalTarget()
    # r0 = *(u64 *)(r10 + 8): reading above the stack frame.
    bad = insn.program(insn.raw(insn.LDX | insn.MEM | insn.DW, insn.R0, insn.R10, off=8),
                       insn.exit_())
    span = Span(1, 1, 1, 6)
    spec = ProgramSpec("bad", "s", "begin", span=span)
    try:
        with pytest.raises(loader.LoadError) as info:
            loader.load_program(target, spec, bad, Resources(probe_names=["BEGIN"]))
    finally:
        target.close_all()
    err = info.value
    assert err.span == span
    text = err.render(Source("BEGIN { }"))
    assert text.startswith("stdin:1:1-6: ERROR: The BPF verifier rejected the program for BEGIN")
    assert "BEGIN { }\n~~~~~" in text
    assert len(text.splitlines()) <= 8


@pytest.mark.kernel
def test_load_creates_maps_and_runs_begin():
    from pytrace.target.local import LocalTarget
    target = LocalTarget()
    resources = counter_resources()
    loaded = loader.load(target, build_object(counter_body(1, 0)), resources)
    try:
        begin = loaded.program("begin")
        assert begin.insn_count > 5
        target.prog_test_run(begin.fd)
        target.prog_test_run(begin.fd)
        raw = target.map_lookup(loaded.map_fd("@n"), bytes(4), 8)
        assert sum(v for (v,) in struct.iter_unpack("<Q", raw)) == 2
    finally:
        loaded.close(target)
        target.close_all()
