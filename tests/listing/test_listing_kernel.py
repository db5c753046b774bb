"""`pytrace -l` / `-lv` against this machine's real tracefs, kallsyms and BTF.

Expected names are computed here independently (os.listdir, the format file,
/proc/kallsyms) and compared with what the command prints.
"""

import fnmatch
import os
import re
import shutil
import subprocess

import pytest

from pytrace.cli import main

EVENTS = "/sys/kernel/tracing/events"


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def test_tracepoint_glob_lists_exactly_the_matching_events(capsys):
    rc, lines, _ = run(capsys, "-l", "tracepoint:syscalls:sys_enter_open*")
    expected = sorted(f"tracepoint:syscalls:{e}"
                      for e in fnmatch.filter(os.listdir(f"{EVENTS}/syscalls"),
                                              "sys_enter_open*"))
    assert rc == 0
    assert expected and lines == expected


def test_short_alias_lists_the_same(capsys):
    _, long_form, _ = run(capsys, "-l", "tracepoint:syscalls:sys_enter_open*")
    _, short_form, _ = run(capsys, "-l", "t:syscalls:sys_enter_open*")
    assert short_form == long_form


def test_search_without_provider_matches_whole_names(capsys):
    rc, lines, _ = run(capsys, "-l", "*sched_switch*")
    assert rc == 0
    assert "tracepoint:sched:sched_switch" in lines
    assert "rawtracepoint:sched_switch" in lines
    assert all("sched_switch" in line for line in lines)


def test_lv_tracepoint_shows_its_format_fields_without_the_common_header(capsys):
    with open(f"{EVENTS}/sched/sched_switch/format") as f:
        decls = [m.group(1).strip() for m in re.finditer(r"field:([^;]*);", f.read())]
    expected = ["    " + " ".join(d.split()) for d in decls
                if not d.split()[-1].startswith("common_")]
    rc, lines, _ = run(capsys, "-lv", "tracepoint:sched:sched_switch")
    assert rc == 0
    assert lines == ["tracepoint:sched:sched_switch", *expected]
    assert "    char prev_comm[16]" in lines


def test_lv_struct_prints_the_btf_definition(capsys):
    rc, lines, _ = run(capsys, "-lv", "struct task_struct")
    assert rc == 0
    assert lines[0] == "struct task_struct {"
    assert "\tpid_t pid;" in lines
    assert "\tstruct task_struct *real_parent;" in lines
    assert lines[-2:] == ["};", ""]


def test_unknown_struct_prints_nothing(capsys):
    rc, lines, _ = run(capsys, "-lv", "struct no_such_struct_pytrace")
    assert (rc, lines) == (0, [])


@pytest.mark.skipif(shutil.which("bpftrace") is None, reason="bpftrace not installed")
@pytest.mark.parametrize("type_name", ["struct task_struct", "struct sk_buff",
                                       "union bpf_attr", "struct bpf_insn",
                                       "enum bpf_map_type", "struct file_operations"])
def test_struct_layout_matches_bpftrace(capsys, type_name):
    """Padding markers, bitfields, inline anonymous members, function pointers."""
    oracle = subprocess.run(["bpftrace", "-lv", type_name], capture_output=True,
                            text=True, timeout=60).stdout
    if not oracle:
        pytest.skip(f"bpftrace prints nothing for {type_name}")
    main(["-lv", type_name])
    assert capsys.readouterr().out == oracle


def test_lv_kfunc_shows_btf_arguments_and_retval(capsys):
    rc, lines, _ = run(capsys, "-lv", "kfunc:vfs_read")
    assert rc == 0
    assert lines == ["kfunc:vfs_read", "    struct file * file", "    char * buf",
                     "    size_t count", "    loff_t * pos", "    ssize_t retval"]


def test_lv_rawtracepoint_shows_btf_arguments_without_private_data(capsys):
    rc, lines, _ = run(capsys, "-lv", "rawtracepoint:sched_switch")
    assert rc == 0
    assert lines[0] == "rawtracepoint:sched_switch"
    assert "    struct task_struct * prev" in lines
    assert not any("__data" in line for line in lines)


def kallsyms_text_symbols():
    names = set()
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if parts[1] in "tTwW":
                names.add(parts[2])
    return names


def test_kprobe_list_comes_from_kallsyms_without_unprobeable_stubs(capsys):
    rc, lines, _ = run(capsys, "-l", "kprobe:vfs_*")
    funcs = [line.partition(":")[2] for line in lines]
    text = kallsyms_text_symbols()
    assert rc == 0
    assert "vfs_read" in funcs
    assert set(funcs) <= text
    assert sorted(funcs) == funcs and len(set(funcs)) == len(funcs)
    expected = {n for n in text if fnmatch.fnmatchcase(n, "vfs_*") and ".cold" not in n}
    assert set(funcs) == expected
    _, pfx, _ = run(capsys, "-l", "kprobe:__pfx_vfs_read")
    assert pfx == []


def test_kretprobe_lists_the_same_functions(capsys):
    _, entry, _ = run(capsys, "-l", "kprobe:vfs_read*")
    _, ret, _ = run(capsys, "-l", "kretprobe:vfs_read*")
    assert [r.replace("kretprobe:", "kprobe:", 1) for r in ret] == entry


def test_software_events_and_aliases(capsys):
    rc, lines, _ = run(capsys, "-l", "software:*")
    assert rc == 0
    assert {"software:cpu-clock:", "software:page-faults:",
            "software:context-switches:"} <= set(lines)
    _, cs, _ = run(capsys, "-l", "s:cs")
    assert cs == ["software:context-switches:"]
    _, hw, _ = run(capsys, "-l", "hardware:cache-*")
    assert hw == ["hardware:cache-misses:", "hardware:cache-references:"]


def test_full_listing_is_sorted_unique_and_covers_every_kernel_provider(capsys):
    rc, lines, _ = run(capsys, "-l")
    assert rc == 0
    assert lines == sorted(set(lines))
    providers = {line.split(":", 1)[0] for line in lines}
    assert {"tracepoint", "rawtracepoint", "kprobe", "kfunc", "software",
            "hardware"} <= providers
    n_events = sum(1 for line in lines if line.startswith("tracepoint:"))
    with open("/sys/kernel/tracing/available_events") as f:
        assert n_events == len(set(f.read().split()))


@pytest.mark.parametrize("search, message", [
    ("foo:*", "ERROR: Invalid probe type: foo"),
    ("uprobe:/no/such/binary:*", "ERROR: uprobe target file '/no/such/binary' does not exist"),
])
def test_bad_search_is_one_error_line_and_exit_1(capsys, search, message):
    rc, lines, err = run(capsys, "-l", search)
    assert rc == 1 and lines == []
    assert err.count("\n") == 1 and err.startswith(message)


@pytest.mark.parametrize("event", ["sched_switch", "sys_enter", "sched_process_exec"])
def test_lv_rawtracepoint_agrees_with_the_btf_signature(capsys, event):
    from pytrace.kernel import btf
    from pytrace.target.local import LocalTarget
    vmlinux = btf.load_vmlinux(LocalTarget())
    sig = vmlinux.tracepoint_signature(event)
    expected = [f"    {vmlinux.type_name(p.type_id)} {p.name}" for p in sig.params[1:]]
    _, lines, _ = run(capsys, "-lv", f"rawtracepoint:{event}")
    assert lines == [f"rawtracepoint:{event}", *expected]
