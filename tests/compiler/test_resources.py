"""What the compiler hands the runtime: map specs, actions, programs, probe names, and
the types the checker settles on (as bpftrace types them)."""

from __future__ import annotations

import os

from pytrace.resources import EVENTS_MAP, LOST_MAP
from pytrace.types import (INT64, UINT64, AvgType, CountType, HistType, IntType, LhistType,
                           MaxType, SpecialType, StatsType, StringType, SumType, TupleType)
from tests.compiler.harness import compile_text


def maps_of(prog, params=()):
    return {m.name: m for m in compile_text(prog, params).resources.maps}


def test_builtin_and_literal_types_as_bpftrace():
    m = maps_of('BEGIN { @a = pid; @b = comm; @c = 1 < 2; @d = (int32)-1; @e = nsecs;'
                ' @f = (1, "ab"); @g = -1; @h = cpu; @i = probe; @j = "x"; @j = "longer"; }')
    assert m["@a"].value_type == UINT64
    assert m["@b"].value_type == StringType(16)
    assert m["@c"].value_type == INT64
    assert m["@d"].value_type == INT64          # integers widen to 64 bits in maps
    assert m["@e"].value_type == UINT64
    assert m["@f"].value_type == TupleType((INT64, StringType(3)))
    assert m["@g"].value_type == INT64
    assert m["@h"].value_type == UINT64
    assert m["@i"].value_type == SpecialType("probe")
    assert m["@j"].value_type == StringType(7)   # every assignment fits
    assert m["@j"].value_size == 7


def test_map_layouts_keys_and_bpf_types():
    m = maps_of('BEGIN { @[comm, pid] = count(); @s[1] = sum(-1); @mx = max(1); @a = avg(2);'
                ' @st = stats(3); @h[comm] = hist(4); @l = lhist(5, 0, 100, 10); @v[2] = 3; }')
    assert (m["@"].bpf_type, m["@"].key_types, m["@"].key_size) == \
        ("percpu_hash", (StringType(16), UINT64), 24)
    assert m["@"].value_type == CountType() and m["@"].value_size == 8
    assert m["@s"].value_type == SumType(signed=True)
    assert m["@mx"].value_type == MaxType(signed=True) and m["@mx"].value_size == 16
    assert m["@mx"].key_types == () and m["@mx"].key_size == 8  # keyless: u64 key 0
    assert m["@a"].value_type == AvgType(signed=True)
    assert m["@st"].value_type == StatsType(signed=True)
    assert m["@h"].value_type == HistType() and m["@h"].has_bucket_key
    assert m["@h"].key_types == (StringType(16),) and m["@h"].key_size == 24
    assert m["@l"].value_type == LhistType(min=0, max=100, step=10)
    assert m["@l"].key_size == 8 and m["@l"].value_type.buckets == 12
    assert m["@v"].bpf_type == "hash" and m["@v"].value_type == INT64
    assert m[EVENTS_MAP].bpf_type == "ringbuf" and m[LOST_MAP].bpf_type == "array"


def test_maps_used_before_assigned_in_a_later_probe_get_their_type():
    m = maps_of('tracepoint:syscalls:sys_exit_read /@start[tid]/ '
                '{ @ns = hist(nsecs - @start[tid]); delete(@start[tid]); } '
                'tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }')
    assert m["@start"].key_types == (UINT64,) and m["@start"].value_type == UINT64


def test_printf_actions_keep_argument_types_and_format():
    res = compile_text('BEGIN { printf("%d %s %x\\n", (int32)-1, comm, pid); exit(); '
                       'time("%H\\n"); print(@x); @x = 1; clear(@x); zero(@x); }').resources
    kinds = [a.kind for a in res.actions]
    assert kinds == ["printf", "exit", "time", "print_map", "clear", "zero"]
    printf = res.actions[0]
    assert printf.fmt == "%d %s %x\n"
    assert printf.args == TupleType((IntType(32, True), StringType(16), UINT64))
    assert res.actions[2].fmt == "%H\n"
    assert res.actions[3].map_name == "@x" and res.actions[3].options == {"top": 0, "div": 0}


def test_same_printf_in_two_probes_shares_one_action():
    res = compile_text('BEGIN { printf("x\\n"); } END { printf("x\\n"); }').resources
    assert [a.kind for a in res.actions] == ["printf"]


def test_wildcard_tracepoints_expand_and_name_probes():
    res = compile_text('tracepoint:syscalls:sys_enter_getp* { @[probe] = count(); }').resources
    events = sorted(e for e in os.listdir("/sys/kernel/tracing/events/syscalls")
                    if e.startswith("sys_enter_getp"))
    assert sorted(res.probe_names) == [f"tracepoint:syscalls:{e}" for e in events]
    # `probe` differs per attach point, so each gets its own program.
    assert len(res.programs) == len(events)
    assert all(len(p.attach) == 1 for p in res.programs)


def test_wildcard_without_probe_builtin_shares_one_program():
    c = compile_text('tracepoint:syscalls:sys_enter_getp* { @ = count(); }')
    (prog,) = c.resources.programs
    assert len(prog.attach) == c.attached_count > 1


def test_timer_and_software_probes_attach_specs():
    from pytrace.target.files import LocalFiles
    ncpu = len(LocalFiles().online_cpus())
    c = compile_text('interval:ms:100 { @i = count(); } profile:hz:99 { @p = count(); } '
                     'software:faults { @f = count(); } software:cs:50 { @c = count(); }')
    progs = c.resources.programs
    assert [p.prog_type for p in progs] == ["perf_event"] * 4
    interval, profile, faults, cs = progs
    assert [a.options["sample_period"] for a in interval.attach] == [100_000_000]
    assert [a.name for a in interval.attach] == ["interval:ms:100"]
    assert len(profile.attach) == ncpu and profile.attach[0].options["sample_freq"] == 99
    assert faults.attach[0].options["sample_period"] == 100
    assert faults.attach[0].options["config"] == 2
    assert cs.attach[0].options == {"config": 3, "sample_period": 50, "cpu": 0}
    assert c.attached_count == 4


def test_tracepoint_args_types_from_format_file():
    c = compile_text('tracepoint:sched:sched_switch { @[args->prev_comm, args.next_pid] = '
                     'count(); } tracepoint:syscalls:sys_enter_openat '
                     '{ @d[args->dfd] = count(); }')
    m = {s.name: s for s in c.resources.maps}
    assert m["@"].key_types == (StringType(16), INT64)
    assert m["@d"].key_types == (INT64,)  # `int dfd` is signed though stored in 8 bytes


def test_elapsed_gets_a_start_time_map_and_begin_program():
    res = compile_text('interval:s:1 { @ = elapsed; }').resources
    assert ".start" in [m.name for m in res.maps]
    assert [p.prog_type for p in res.programs] == ["begin", "perf_event"]


def test_cpid_and_positionals_are_constants_in_the_code():
    c = compile_text('BEGIN { @c = cpid; @n = $#; @p = $1; }', params=["12345"], cpid=4242)
    assert "4242" in c.ir and "12345" in c.ir


def test_object_is_bpf_elf_with_one_section_per_program():
    from io import BytesIO

    from elftools.elf.elffile import ELFFile
    c = compile_text('BEGIN { exit(); } END { printf("e\\n"); } '
                     'tracepoint:syscalls:sys_enter_getppid { @ = count(); }')
    elf = ELFFile(BytesIO(c.object))
    assert elf["e_machine"] == "EM_BPF"
    for prog in c.resources.programs:
        assert elf.get_section_by_name(prog.section).data_size > 0
    assert "call" in c.asm() and "define" in c.ir
