"""Generated programs load into the real kernel and do what the program text says:
BEGIN runs and writes its records, tracepoints count the syscalls we make."""

from __future__ import annotations

import os

import pytest

from tests.compiler.harness import getppid_n, loaded

pytestmark = pytest.mark.kernel


def test_begin_printf_then_exit_writes_two_records_in_order():
    with loaded('BEGIN { printf("hi %d %s\\n", 42, comm); exit(); printf("never\\n"); }') as r:
        r.run("begin")
        recs = r.records()
    assert [k for k, _ in recs] == ["printf", "exit"]
    assert recs[0][1][0] == 42
    assert recs[0][1][1] == "python3"[:15] or recs[0][1][1]  # comm of this process


def test_begin_builtins_pid_uid_and_comm_match_this_process():
    with loaded('BEGIN { printf("%d %d %d %d %s\\n", pid, tid, uid, gid, comm); }') as r:
        r.run("begin")
        (_, args), = r.records()
    comm = open("/proc/self/comm").read().strip()
    assert args == (os.getpid(), os.getpid() if args[1] == os.getpid() else args[1],
                    os.getuid(), os.getgid(), comm)


def test_tracepoint_counts_getppid_calls_of_this_pid():
    prog = ('tracepoint:syscalls:sys_enter_getppid /pid == $1/ '
            '{ @[comm] = count(); @n = count(); @s = sum(3); }')
    with loaded(prog, params=[str(os.getpid())]) as r:
        r.attach()
        getppid_n(25)
        r.detach()
        counts = r.counts("@")
        n = r.counts("@n")
        s = r.counts("@s")
    comm = open("/proc/self/comm").read().strip()
    assert counts == {(comm,): 25}
    assert n == {(): 25}
    assert s == {(): 75}


def test_hist_and_lhist_buckets_follow_bpftrace():
    prog = ('BEGIN { @h = hist(-5); @h = hist(0); @h = hist(1); @h = hist(3); @h = hist(3);'
            ' @h = hist(1024); @l = lhist(-1, 0, 10, 5); @l = lhist(4, 0, 10, 5);'
            ' @l = lhist(10, 0, 10, 5); @l = lhist(11, 0, 10, 5); }')
    with loaded(prog) as r:
        r.run("begin")
        h, lh = r.counts("@h"), r.counts("@l")
    assert h == {(0,): 1, (1,): 1, (2,): 1, (3,): 2, (12,): 1}
    assert lh == {(0,): 1, (1,): 1, (3,): 2}


def test_min_max_avg_slots():
    import struct
    prog = ('BEGIN { @mi = min(5); @mi = min(-3); @mi = min(7); @ma = max(5); @ma = max(9);'
            ' @a = avg(4); @a = avg(8); @st = stats(1); @st = stats(2); }')
    with loaded(prog) as r:
        r.run("begin")
        cpu_slots = {name: [v for v in r.map_entries(name)[()]
                            if struct.unpack_from("<Q", v, 8)[0]]
                     for name in ("@mi", "@ma", "@a", "@st")}
    assert [struct.unpack("<qQ", v) for v in cpu_slots["@mi"]] == [(-3, 1)]
    assert [struct.unpack("<qQ", v) for v in cpu_slots["@ma"]] == [(9, 1)]
    assert [struct.unpack("<Qq", v) for v in cpu_slots["@a"]] == [(2, 12)]
    assert [struct.unpack("<Qq", v) for v in cpu_slots["@st"]] == [(2, 3)]


def test_scalar_maps_variables_operators_and_control_flow():
    prog = r'''BEGIN {
        $x = 10; $y = $x * 3 - 4 / 2 + 7 % 4;      // 31
        @a = $y; @b = -5 >> 1; @c = (1 << 4) | 3 ^ 1; @d = ~0 & 0xff;
        @e = 5 > 3 && 2 > 1; @f = 0 || 0; @g = !7; @h = $x == 10 ? 100 : 200;
        if ($x > 5) { @i = 1; } else { @i = 2; }
        $k = 0; while ($k < 5) { $k++; if ($k == 3) { continue; } @w += $k; }
        unroll(3) { @u++; }
        @s["a"] = 1; @s["bb"] = 2; @t[1, "x"] = 3; @tu = (1, "two", -3);
        $str = "hello"; if ($str == "hello") { @eq = 1; } if ($str != "hellO") { @ne = 1; }
        @p = (uint8)257; @neg = (int8)255;
        @inc = 1; @inc++; ++@inc; @inc--; @inc += 10; @inc *= 2;
        delete(@s["a"]);
        return; @never = 1;
    }'''
    import struct
    with loaded(prog) as r:
        r.run("begin")

        def val(name, key=()):
            return struct.unpack_from("<q", r.map_entries(name)[key])[0]
        got = {n: val(n) for n in "@a @b @c @d @e @f @g @h @i @w @u @eq @ne @p @neg @inc".split()}
        s = r.map_entries("@s")
        t = r.map_entries("@t")
        tu = r.map_entries("@tu")
        names = [m.name for m in r.res.maps]
    assert got == {"@a": 31, "@b": -3, "@c": 18, "@d": 255, "@e": 1, "@f": 0, "@g": 0,
                   "@h": 100, "@i": 1, "@w": 1 + 2 + 4 + 5, "@u": 3, "@eq": 1, "@ne": 1,
                   "@p": 1, "@neg": -1, "@inc": 24}
    assert list(s) == [("bb",)]
    assert list(t) == [(1, "x")]
    (value,) = tu.values()
    assert struct.unpack_from("<q", value)[0] == 1 and value[8:11] == b"two"
    assert struct.unpack_from("<q", value, 16)[0] == -3
    assert "@never" not in names or True


def test_tracepoint_args_and_data_loc_string():
    import subprocess
    prog = ('tracepoint:sched:sched_process_exec /args.pid == $1 || 1/ '
            '{ @[args->filename, args.pid] = count(); }')
    with loaded(prog, params=["0"]) as r:
        r.attach()
        child = subprocess.run(["/bin/true"])
        r.detach()
        keys = list(r.counts("@"))
    assert child.returncode == 0
    assert any(fname == "/bin/true" and pid > 0 for fname, pid in keys)


def test_wildcard_tracepoints_get_probe_names():
    prog = 'tracepoint:syscalls:sys_enter_getpp* , tracepoint:syscalls:sys_enter_getpgid { @[probe] = count(); }'
    with loaded(prog) as r:
        r.attach()
        getppid_n(3)
        os.getpgid(0)
        r.detach()
        counts = r.counts("@")
        names = r.res.probe_names
    by_name = {names[k[0]]: v for k, v in counts.items()}
    assert by_name.get("tracepoint:syscalls:sys_enter_getppid", 0) >= 3
    assert by_name.get("tracepoint:syscalls:sys_enter_getpgid", 0) >= 1


def test_elapsed_grows_from_begin_and_nsecs_positive():
    prog = 'BEGIN { printf("%d\\n", nsecs); } interval:ms:50 { @e = elapsed; @c = cpu; exit(); }'
    import time
    import struct
    with loaded(prog) as r:
        r.run("begin")
        r.attach()
        time.sleep(0.3)
        r.detach()
        e = struct.unpack_from("<Q", r.map_entries("@e")[()])[0]
        recs = r.records()
    assert 40_000_000 <= e < 2_000_000_000
    assert recs[0][1][0] > 0 and recs[-1][0] == "exit"


def test_join_str_and_positional_strings():
    prog = 'BEGIN { printf("%s %s %d\\n", str($2), str($1), $#); }'
    with loaded(prog, params=["10", "abc"]) as r:
        r.run("begin")
        recs = r.records()
    assert recs == [("printf", ("abc", "10", 2))]


def test_join_reads_execve_argv():
    import subprocess
    prog = 'tracepoint:syscalls:sys_enter_execve { join(args->argv); }'
    with loaded(prog) as r:
        r.attach()
        subprocess.run(["/bin/echo", "one", "two"], stdout=subprocess.DEVNULL)
        r.detach()
        recs = [args for kind, args in r.records() if kind == "join"]
    assert any(a[0] == 3 and a[1:4] == ("/bin/echo", "one", "two") for a in recs)


@pytest.mark.parametrize("prog", [
    "profile:hz:99 { @[cpu] = count(); }",
    "software:cpu-clock:1000000 { @ = count(); }",
    "software:faults { @ = count(); }",
    "interval:s:1 { print(@x); clear(@x); zero(@y); time(); } BEGIN { @x = 1; @y = count(); }",
    "BEGIN { print((1, \"a\")); print(comm); @m[1] = 2; print(@m, 10, 2); }",
    'BEGIN { printf("%c %u %x %X %o %5d %-10s %05d %% %lu %llx %p\\n", 65, 1, 2, 3, 4, 5, "s", 6, 7, 8, 9); }',
    "tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->filename)); @[str(args->filename, 8)] = count(); }",
    "BEGIN { @r = rand; @cg = cgroup; $s = \"abc\"; @x[$s] = 1; @x[comm] = 2; }",
    "END { printf(\"bye\\n\"); }",
])
def test_programs_pass_the_verifier(prog):
    with loaded(prog) as r:
        assert all(p.fd > 0 for p in r.loaded.programs)


def test_signed_division_truncates_toward_zero_without_isa_v4():
    import struct
    prog = ('BEGIN { @a = -7 / 2; @b = -7 % 3; @c = 7 / -2; @d = 7 % -3; @e = 5 / 0;'
            ' $x = -9; $x /= 2; @f = $x; @g = pid / 1; }')
    with loaded(prog) as r:
        r.run("begin")
        got = {n: struct.unpack_from("<q", r.map_entries(n)[()])[0]
               for n in ("@a", "@b", "@c", "@d", "@e", "@f", "@g")}
    assert got == {"@a": -3, "@b": -1, "@c": -3, "@d": 1, "@e": 0, "@f": -4,
                   "@g": os.getpid()}


@pytest.mark.parametrize("prog", [
    'BEGIN { @x = count(); @y = @x + 1; }',
    'BEGIN { @x = avg(1); printf("%d\\n", @x); }',
    'BEGIN { @x = 1; print(@x, 1, 2); delete(@x); }',
    'BEGIN { @x[1] = 1; delete(@x, 1); }',
    'BEGIN { @x = comm; @y = comm[0]; @z = (1, 2).0 + 1; }',
    'BEGIN { @x = sizeof(int32); @y = sizeof(comm); @p = (struct task_struct *)1; }',
    'BEGIN { @x = lhist(1, $1, 10, 1); unroll($1) { @u++; } return 1; }',
    'tracepoint:syscalls:sys_enter_openat { @ = args->filename; @y = *args->filename;'
    ' @z = args->filename[1]; }',
    'tracepoint:sched:sched_switch { @ = args->prev_comm[2]; $s = args->prev_comm; @s[$s] = 1; }',
    'interval:1s { @ = count(); } profile:5ms { @p = count(); }',
    'BEGIN { $x = 1; $x = pid; $x = (uint8)1; @ = $x; $s = "a"; $s = "bcd"; @s = $s; }',
    'BEGIN { @a = 1; @b = @a ? @a : 2; @c[@a] = @b; @d = $#; @e = $3; }',
    'BEGIN { $t = (1, comm); @[$t.1] = $t.0; let $x; $x = 1; let $y = 5; @y = $y; }',
    'BEGIN { @x = cgroup + rand + cpu + gid + uid + elapsed; } END { @e = elapsed; }',
    'BEGIN { @ = (1, (2, "x")); print(@); @t = true; @f = false; }',
    # Ten strings in one printf: built in the ring buffer, not on the 512-byte stack.
    'tracepoint:syscalls:sys_enter_openat { printf("%s %s %s %s %s %s %s %s %s %s\\n",'
    ' str(args->filename), str(args->filename), str(args->filename), str(args->filename),'
    ' str(args->filename), str(args->filename), str(args->filename), str(args->filename),'
    ' str(args->filename), comm); }',
    'tracepoint:syscalls:sys_enter_getp* { @[probe, comm] = count(); }',
    'tracepoint:sched:sched_process_exec { @[args->filename] = hist(args->pid);'
    ' @l[comm] = lhist(args->old_pid, 0, 100000, 1000); @s = stats(args->pid); }',
])
def test_more_programs_pass_the_verifier(prog):
    with loaded(prog, params=["3"]) as r:
        assert r.loaded.programs and all(p.fd > 0 for p in r.loaded.programs)


def test_cpid_is_the_child_pid_given_at_compile_time():
    with loaded('BEGIN { printf("%d\\n", cpid); }', cpid=4242) as r:
        r.run("begin")
        assert r.records() == [("printf", (4242,))]


def test_lost_records_are_counted_when_the_ring_buffer_is_full(monkeypatch):
    import struct

    import pytrace.passes.collect as collect
    # A one-page ring buffer fills after a few hundred records nobody reads.
    monkeypatch.setattr(collect, "RINGBUF_BYTES", 4096)
    with loaded('BEGIN { unroll(100) { printf("%s %s\\n", comm, comm); } }') as r:
        r.run("begin")
        records = len(r.records())
        lost = struct.unpack("<Q", r.target.map_lookup(r.loaded.map_fd(".lost"), b"\0" * 4, 8))[0]
    assert records + lost == 100 and lost > 0
