"""cat, system, signal and override, and --unsafe: what the user sees.

Exact output of the runs that print the same every time is in
oneliners_unsafe.json (recorded from bpftrace 0.17). Here: the error messages and
their locations (bpftrace 0.17's wording, as it printed them on this machine), a
signal caught by a handler in the traced process, override through the verifier,
JSON messages, and the -o file.
"""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from pytrace.cli import main
from pytrace.diagnostics import PytraceError
from pytrace.runtime.loader import load
from pytrace.session import Session
from pytrace.target.local import LocalTarget
from tests.helpers.cbuild import build_c

GETPPID = "tracepoint:syscalls:sys_enter_getppid"


def run(argv: list[str], capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


# (extra flags, program, bpftrace 0.17's first error line[, positional parameter])
ERRORS = [
    ([], 'BEGIN { system("echo hi"); exit(); }',
     "stdin:1:9-26: ERROR: system() is an unsafe function being used in safe mode"),
    ([], f'{GETPPID} {{ signal("SIGKILL"); }}',
     "stdin:1:41-58: ERROR: signal() is an unsafe function being used in safe mode"),
    ([], 'kprobe:vfs_read { override(1); exit(); }',
     "stdin:1:19-30: ERROR: override() is an unsafe function being used in safe mode"),
    # cat is safe: only its arguments are checked.
    ([], 'BEGIN { cat(); exit(); }',
     "stdin:1:9-14: ERROR: cat() requires at least one argument (0 provided)"),
    ([], 'BEGIN { cat(1); exit(); }',
     "stdin:1:9-15: ERROR: cat() expects a string literal (integer provided)"),
    ([], 'BEGIN { cat("%d"); exit(); }',
     "stdin:1:9-18: ERROR: cat: Not enough arguments for format string (0 supplied, "
     "1 expected)"),
    ([], 'BEGIN { cat("%d", "a"); exit(); }',
     "stdin:1:9-23: ERROR: cat: %d specifier expects a value of type integer "
     "(string supplied)"),
    ([], 'BEGIN { cat("x", 1); exit(); }',
     "stdin:1:9-20: ERROR: cat: Too many arguments for format string (1 supplied, "
     "0 expected)"),
    (["--unsafe"], 'BEGIN { system(); exit(); }',
     "stdin:1:9-17: ERROR: system() requires at least one argument (0 provided)"),
    (["--unsafe"], 'BEGIN { system(1); exit(); }',
     "stdin:1:9-18: ERROR: system() expects a string literal (integer provided)"),
    (["--unsafe"], 'BEGIN { system("%s"); exit(); }',
     "stdin:1:9-21: ERROR: system: Not enough arguments for format string (0 supplied, "
     "1 expected)"),
    (["--unsafe"], f'{GETPPID} {{ signal(); }}',
     "stdin:1:41-49: ERROR: signal() requires at least one argument (0 provided)"),
    (["--unsafe"], f'{GETPPID} {{ signal(1,2); }}',
     "stdin:1:41-52: ERROR: signal() takes up to one argument (2 provided)"),
    (["--unsafe"], f'{GETPPID} {{ signal("SIGFOO"); }}',
     "stdin:1:41-57: ERROR: SIGFOO is not a valid signal"),
    (["--unsafe"], f'{GETPPID} {{ signal("SIGRTMIN"); }}',
     "stdin:1:41-59: ERROR: SIGRTMIN is not a valid signal"),
    (["--unsafe"], f'{GETPPID} {{ signal(100); }}',
     "stdin:1:41-52: ERROR: 100 is not a valid signal, allowed range: [1,64]"),
    (["--unsafe"], f'{GETPPID} {{ signal(0); }}',
     "stdin:1:41-50: ERROR: 0 is not a valid signal, allowed range: [1,64]"),
    (["--unsafe"], f'{GETPPID} {{ signal(-1); }}',
     "stdin:1:41-51: ERROR: -1 is not a valid signal, allowed range: [1,64]"),
    # Positional parameters count as literals, checked with their values.
    (["--unsafe"], f'{GETPPID} {{ signal($1); }}',
     "stdin:1:41-51: ERROR: 100 is not a valid signal, allowed range: [1,64]", "100"),
    (["--unsafe"], f'{GETPPID} {{ signal(str($1)); }}',
     "stdin:1:41-56: ERROR: 9 is not a valid signal", "9"),
    (["--unsafe"], f'{GETPPID} {{ signal(comm); }}',
     "stdin:1:41-53: ERROR: signal only accepts string literals or integers"),
    (["--unsafe"], 'BEGIN { signal("SIGKILL"); exit(); }',
     'stdin:1:9-26: ERROR: signal can not be used with "BEGIN" probes'),
    (["--unsafe"], 'END { signal(9); }',
     'stdin:1:7-16: ERROR: signal can not be used with "END" probes'),
    (["--unsafe"], 'i:s:1 { signal(9); }',
     'stdin:1:9-18: ERROR: signal can not be used with "interval" probes'),
    (["--unsafe"], 'software:cpu-clock:1000000 { signal(9); }',
     'stdin:1:30-39: ERROR: signal can not be used with "software" probes'),
    (["--unsafe"], 'BEGIN { override(1); exit(); }',
     "stdin:1:9-20: ERROR: override can only be used with kprobes."),
    (["--unsafe"], 'kretprobe:vfs_read { override(1); }',
     "stdin:1:22-33: ERROR: override can only be used with kprobes."),
    (["--unsafe"], f'{GETPPID} {{ override(1); }}',
     "stdin:1:41-52: ERROR: override can only be used with kprobes."),
    (["--unsafe"], 'kprobe:vfs_read { override(); }',
     "stdin:1:19-29: ERROR: override() requires at least one argument (0 provided)"),
    (["--unsafe"], 'kprobe:vfs_read { override(1,2); }',
     "stdin:1:19-32: ERROR: override() takes up to one argument (2 provided)"),
    (["--unsafe"], 'kprobe:vfs_read { override("a"); }',
     "stdin:1:19-32: ERROR: override() only supports integer arguments (string provided)"),
]


ERROR_CASES = [(flags, program, line, rest) for flags, program, line, *rest in ERRORS]


@pytest.mark.parametrize("flags, program, first_line, params", ERROR_CASES,
                         ids=[f"{' '.join(e[0])} {e[1]} {' '.join(e[3])}" for e in ERROR_CASES])
def test_refused_programs_say_what_bpftrace_says_where_it_says_it(flags, program,
                                                                   first_line, params, capfd):
    code, out, err = run([*flags, "-e", program, *params], capfd)
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == first_line
    assert lines[1] == program
    start, end = map(int, first_line.split(":")[2].split("-"))
    assert lines[2] == " " * (start - 1) + "~" * (end - start)


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["SIGUSR1", "USR1", "usr1", "SigUsr1", "10"])
def test_signal_reaches_the_traced_process_and_its_handler(name, tmp_path, capfd):
    """The child catches the signal raised at its getppid and writes down which."""
    child = build_c(r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static volatile sig_atomic_t got;
static void on_signal(int sig) { got = sig; }
int main(int argc, char **argv)
{
    signal(SIGUSR1, on_signal);
    syscall(SYS_getppid);  /* the signal is taken on the way back to user mode */
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "caught %d\n", (int)got);
    fclose(f);
    return 0;
}
""", tmp_path, "catcher", flags=("-O1",))
    report = tmp_path / "report.txt"
    arg = name if name.isdigit() else f'"{name}"'
    program = f'{GETPPID} /pid == cpid/ {{ signal({arg}); printf("sent\\n"); }}'
    code, out, err = run(["--unsafe", "-e", program, "-c", f"{child} {report}"], capfd)
    assert code == 0, err
    assert out == "Attaching 1 probe...\nsent\n\n\n"
    assert report.read_text() == "caught 10\n"


@pytest.mark.kernel
def test_signal_kill_ends_the_child_before_its_next_system_call(tmp_path, capfd):
    """Without the signal the child would create the file; killed, it never does."""
    marker = tmp_path / "made"
    child = build_c(r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv)
{
    syscall(SYS_getppid);
    fclose(fopen(argv[1], "w"));
    return 0;
}
""", tmp_path, "victim", flags=("-O1",))
    subprocess.run([str(child), str(marker)], check=True)   # the control: it does
    assert marker.exists()
    marker.unlink()
    program = f'{GETPPID} /pid == cpid/ {{ signal("KILL"); }}'
    code, out, err = run(["--unsafe", "-e", program, "-c", f"{child} {marker}"], capfd)
    assert code == 0, err
    assert out == "Attaching 1 probe...\n\n\n"
    assert not marker.exists()


def _kernel_config(option: str) -> bool | None:
    """Whether the running kernel was built with `option`; None when unknown."""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        return None
    return f"\n{option}=y\n" in "\n" + text


@pytest.mark.kernel
def test_override_in_a_kprobe_reaches_the_verifier_and_is_judged_by_the_kernel():
    """Loads where the kernel has bpf_override_return; elsewhere a clear error naming
    the missing kernel option (this machine: CONFIG_BPF_KPROBE_OVERRIDE unset)."""
    supported = _kernel_config("CONFIG_BPF_KPROBE_OVERRIDE")
    if supported is None:
        pytest.skip("no /proc/config.gz to say what this kernel supports")
    session = Session("kprobe:vfs_read { override(-22); }", unsafe=True)
    target = LocalTarget()
    compiled = session.compile()
    try:
        if supported:
            loaded = load(target, compiled.object, compiled.resources)
            assert {target.prog_info(p.fd)["type"] for p in loaded.programs} == {2}
            loaded.close(target)
        else:
            with pytest.raises(PytraceError) as e:
                load(target, compiled.object, compiled.resources)
            assert e.value.message.endswith("cannot use helper bpf_override_return#58 (override() needs a "
                          "kernel built with CONFIG_BPF_KPROBE_OVERRIDE)")
    finally:
        target.close_all()


@pytest.mark.kernel
def test_override_refusal_on_the_command_line_is_one_located_error(capfd):
    if _kernel_config("CONFIG_BPF_KPROBE_OVERRIDE") is not False:
        pytest.skip("this kernel may offer bpf_override_return")
    program = "kprobe:vfs_read { override(-22); }"
    code, out, err = run(["--unsafe", "-e", program], capfd)
    assert code == 1
    assert out == ""
    first = err.splitlines()[0]
    assert first == ("stdin:1:1-35: ERROR: The BPF verifier rejected the program for "
                     "kprobe:vfs_read: program of this type cannot use helper "
                     "bpf_override_return#58 (override() needs a kernel built with "
                     "CONFIG_BPF_KPROBE_OVERRIDE)")
    assert "Traceback" not in err


@pytest.mark.kernel
def test_cat_of_a_missing_file_is_an_error_line_and_the_program_goes_on(capfd):
    code, out, err = run(["-e", 'BEGIN { cat("/nonexistent/%s", "x"); printf("on\\n"); '
                          'exit(); }'], capfd)
    assert code == 0
    assert out == "Attaching 1 probe...\non\n\n\n"
    assert err == "ERROR: failed to open file '/nonexistent/x': No such file or directory\n"


@pytest.mark.kernel
def test_cat_prints_at_most_10240_bytes_or_what_BPFTRACE_CAT_BYTES_MAX_says(
        tmp_path, capfd, monkeypatch):
    big = tmp_path / "big.txt"
    big.write_text("".join(f"line {i:05d}\n" for i in range(3000)))
    program = f'BEGIN {{ cat("{big}"); printf("END\\n"); exit(); }}'
    code, out, err = run(["-e", program], capfd)
    assert code == 0, err
    assert out == "Attaching 1 probe...\n" + big.read_text()[:10240] + "END\n\n\n"
    monkeypatch.setenv("BPFTRACE_CAT_BYTES_MAX", "15")
    code, out, err = run(["-e", program], capfd)
    assert out == "Attaching 1 probe...\nline 00000\nlineEND\n\n\n"


@pytest.mark.kernel
def test_json_messages_for_system_and_cat(capfd):
    """bpftrace 0.17 names system()'s message "syscall", and a cat() that failed
    still sends an empty "cat" message."""
    program = ('BEGIN { printf("a\\n"); system("echo hi %d", 5); '
               'cat("/proc/sys/kernel/ostype"); cat("/nonexistent"); exit(); }')
    code, out, err = run(["--unsafe", "-f", "json", "-e", program], capfd)
    assert code == 0, err
    assert out.splitlines() == [
        '{"type": "attached_probes", "data": {"probes": 1}}',
        '{"type": "printf", "data": "a\\n"}',
        '{"type": "syscall", "data": "hi 5\\n"}',
        '{"type": "cat", "data": "Linux\\n"}',
        '{"type": "cat", "data": ""}',
        "", "",
    ]


@pytest.mark.kernel
def test_system_and_cat_go_to_the_output_file_in_program_order(tmp_path):
    """A separate process writing to a file (full buffering): system()'s output is
    captured and written through the same stream as printf, never around it."""
    out = tmp_path / "trace.txt"
    program = ('BEGIN { printf("1\\n"); system("echo 2; echo 3 >&2"); printf("4\\n"); '
               'cat("/proc/sys/kernel/ostype"); system("printf 5"); printf("6\\n"); exit(); }')
    done = subprocess.run([sys.executable, "-m", "pytrace", "--unsafe", "-o", str(out),
                           "-e", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "Attaching 1 probe...\n1\n2\n4\nLinux\n56\n"
    assert done.stdout == "\n\n"
    assert done.stderr == "3\n"   # the command's own stderr is left alone


def test_help_lists_unsafe(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--unsafe" in out
    assert "system(), signal(), override()" in " ".join(out.split())


def test_unsafe_is_passed_from_the_command_line_to_the_compiler(capfd):
    code, out, err = run(["--unsafe", "-d", "ir", "-e",
                          f'{GETPPID} {{ signal("SIGUSR2"); }}'], capfd)
    assert code == 0, err
    assert "inttoptr i64 109 to" in out   # bpf_send_signal
    assert "(i64 12)" in out               # SIGUSR2
