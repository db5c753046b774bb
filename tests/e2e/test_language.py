"""The preprocessor, C types and the builtins of the language: what a user sees.

Exact-output cases recorded from bpftrace 0.17 live in oneliners_language.json.
Here: the errors (bpftrace's words where 0.17 has the feature), the command
line's -I/--include, and what pytrace has beyond 0.17 (offsetof, jiffies),
checked against an independent source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytrace.cli import main


def run(argv: list[str], capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def body(out: str) -> list[str]:
    return out.split("probe...\n", 1)[1].split("\n\n\n", 1)[0].splitlines()


ERRORS = [  # program, first line of the error (bpftrace 0.17's words where it has them)
    ('BEGIN { $k = kaddr("no_such_symbol_here"); exit(); }',
     "ERROR: Failed to compile: Failed to resolve kernel symbol: no_such_symbol_here"),
    ('BEGIN { $k = kaddr(1); exit(); }',
     "stdin:1:14-22: ERROR: kaddr() expects a string literal (integer provided)"),
    ('BEGIN { printf("%d\\n", uaddr("counter")); exit(); }',
     'stdin:1:24-40: ERROR: uaddr can not be used with "BEGIN" probes'),
    ('uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc { printf("%d", *uaddr("no_such_x")); }',
     "stdin:1:63-81: ERROR: Could not resolve symbol: "
     "/lib/x86_64-linux-gnu/libc.so.6:no_such_x"),
    ('BEGIN { printf("%d\\n", reg("ip")); exit(); }',
     'stdin:1:24-33: ERROR: reg can not be used with "BEGIN" probes'),
    ('tracepoint:syscalls:sys_enter_getppid { printf("%d", ctx != 0); }',
     "stdin:1:54-57: ERROR: Use args instead of ctx in tracepoint"),
    ('BEGIN { print(pton("1.2.3")); exit(); }',
     "stdin:1:15-28: ERROR: pton() expects a valid IPv4/IPv6 address, got 1.2.3"),
    ('BEGIN { printf("%d\\n", strcontains(comm, 1)); exit(); }',
     "stdin:1:24-44: ERROR: strcontains() only supports string arguments (integer provided)"),
    ('BEGIN { $p = (int32*)40; $q = (int32*)32; printf("%d\\n", $p - $q); exit(); }',
     "stdin:1:58-65: ERROR: The - operator can not be used on expressions of types "
     "int32 *, int32 *"),
    ('#define ADD(a, b) ((a) + (b))\nBEGIN { printf("%d\\n", ADD(1, 2)); exit(); }',
     "stdin:2:24-27: ERROR: Unknown function: ADD"),
    ('#if 1\nBEGIN { exit(); }\n', "stdin:3:1-1: ERROR: unterminated #if: missing #endif"),
    ('#endif\nBEGIN { exit(); }', "stdin:1:1-7: ERROR: #endif without #if"),
    ('#frobnicate\nBEGIN { exit(); }',
     "stdin:1:1-12: ERROR: unknown preprocessor directive #frobnicate"),
    ('#include "no_such_local_header.h"\nBEGIN { exit(); }',
     "stdin:1:1-34: ERROR: include file not found: 'no_such_local_header.h'"),
    ('#include <net/sock.h>\nBEGIN { $x = (struct no_such_struct_x *)0; exit(); }',
     "stdin:2:14-41: ERROR: Unknown struct/union: 'struct no_such_struct_x': not in the kernel's "
     "BTF nor defined in the script (pytrace reads types from BTF, not from included "
     "headers)"),
    ('BEGIN { @p = (struct foo *)1; exit(); }',
     "stdin:1:14-28: ERROR: Unknown struct/union: 'struct foo'"),
    ('struct a { int q; struct b x; };\nstruct b { struct a y; };\n'
     'BEGIN { printf("%d\\n", sizeof(struct a)); exit(); }',
     "stdin:1:1-33: ERROR: struct a contains itself"),
    ('typedef foo_t foo_t;\nBEGIN { printf("%d\\n", sizeof(foo_t)); exit(); }',
     "stdin:1:1-21: ERROR: typedef foo_t refers to itself"),
    ('BEGIN { printf("%d\\n", curtask->no_such_field); exit(); }',
     "stdin:1:24-46: ERROR: Struct/union of type 'struct task_struct' does not contain "
     "a field named 'no_such_field'"),
]


@pytest.mark.parametrize("program, message", ERRORS, ids=[m for _, m in ERRORS])
def test_errors_are_one_located_line(program, message, capfd):
    code, out, err = run(["-e", program], capfd)
    assert code == 1
    assert out == ""
    assert err.splitlines()[0] == message
    assert "Traceback" not in err


def test_dash_I_finds_a_header_with_constants_and_struct_definitions(tmp_path, capfd):
    (tmp_path / "mine.h").write_text(
        "#ifndef MINE_H\n#define MINE_H\n#define ANSWER 42\n"
        "struct point { int x; long y; char tag[3]; };\n#endif\n")
    code, out, err = run(["-I", str(tmp_path), "-e",
                          '#include <mine.h>\n#include "mine.h"\n'
                          'BEGIN { printf("%d %d\\n", ANSWER, sizeof(struct point)); exit(); }'],
                         capfd)
    assert code == 0, err
    assert body(out) == ["42 24"]


def test_typedefs_of_struct_bodies_and_of_integers(capfd):
    """bpftrace 0.17 refuses `typedef struct { ... } name;` (a syntax error)."""
    code, out, err = run(["-e", "typedef struct { int a; long b; } pair_t;\n"
                          "typedef unsigned short u16x;\n"
                          "typedef struct tagged { char c; } tagged_t;\n"
                          'BEGIN { printf("%d %d %d %d\\n", sizeof(pair_t), sizeof(u16x), '
                          "sizeof(tagged_t), sizeof(struct tagged)); exit(); }"], capfd)
    assert code == 0, err
    assert body(out) == ["16 2 1 1"]


def test_dash_dash_include_adds_a_header_before_the_program(capfd):
    code, out, err = run(["--include", "sys/socket.h", "-e",
                          'BEGIN { printf("%d %d\\n", AF_INET, AF_UNIX); exit(); }'], capfd)
    assert code == 0, err
    assert body(out) == ["2 1"]


def test_a_script_includes_a_header_beside_it(tmp_path, capfd):
    (tmp_path / "consts.h").write_text("#define LIMIT 7\n")
    script = tmp_path / "tool.bt"
    script.write_text('#include "consts.h"\nBEGIN { printf("%d\\n", LIMIT); exit(); }\n')
    code, out, err = run([str(script)], capfd)
    assert code == 0, err
    assert body(out) == ["7"]


@pytest.mark.kernel
def test_offsetof_matches_the_kernels_btf(capfd):
    """offsetof is not in 0.17: checked against the offsets BTF gives."""
    from pytrace.kernel.btf import STRUCT
    from pytrace.probes.btf_args import vmlinux
    from pytrace.target.local import LocalTarget
    btf = vmlinux(LocalTarget())
    task = btf.find("task_struct", STRUCT)
    sock = btf.find("sock", STRUCT)
    common = btf.find_member(sock.id, "__sk_common")
    dport = btf.find_member(common.type_id, "skc_dport")
    code, out, err = run(["-e", 'struct s { int a; struct { char b; long c; } in; };\n'
                          'BEGIN { printf("%d %d %d\\n", offsetof(struct s, in.c), '
                          'offsetof(struct task_struct, pid), '
                          'offsetof(struct sock, __sk_common.skc_dport)); exit(); }'], capfd)
    assert code == 0, err
    expected = [16, btf.find_member(task.id, "pid").offset, common.offset + dport.offset]
    assert body(out) == [" ".join(map(str, expected))]


@pytest.mark.kernel
def test_jiffies_counts_with_the_kernel_clock(capfd):
    """jiffies is not in 0.17: two reads 200 ms apart differ by about CONFIG_HZ / 5."""
    code, out, err = run(["-e", 'interval:ms:200 { @j[@n++] = jiffies; if (@n == 2) '
                          '{ printf("%d\\n", @j[1] - @j[0]); exit(); } }'], capfd)
    assert code == 0, err
    delta = int(body(out)[0])
    hz = _kernel_hz()
    assert hz / 5 * 0.5 <= delta <= hz / 5 * 1.5


def _kernel_hz() -> int:
    for path in (Path("/proc/config.gz"), Path(f"/boot/config-{Path('/proc/sys/kernel/osrelease').read_text().strip()}")):
        if path.exists():
            import gzip
            text = (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)).read()
            m = re.search(r"^CONFIG_HZ=(\d+)", text, re.M)
            if m:
                return int(m.group(1))
    pytest.skip("kernel config not readable: CONFIG_HZ unknown")


SHORT_LIVED = """
int counter = 7;
int work(int x) { counter += x; return counter; }
int main(void) { for (int i = 0; i < 3; i++) work(i); return 0; }
"""


@pytest.mark.kernel
def test_func_names_a_function_of_a_process_gone_before_printing(tmp_path, capfd):
    """The -c command exits at once: its maps are gone when the events are
    printed, so `func` is found in the probed (position-dependent) executable."""
    from tests.helpers.cbuild import build_c
    prog = build_c(SHORT_LIVED, tmp_path, flags=("-O0", "-no-pie"))
    code, out, err = run(["-e", f'uprobe:{prog}:work {{ printf("%s %d\\n", func, '
                          f'*uaddr("counter")); @[func] = count(); }}', "-c", str(prog)],
                         capfd)
    assert code == 0, err
    assert body(out) == ["work 7", "work 7", "work 8"]
    assert out.endswith("@[work]: 3\n")


WRITES_SLOWLY = """
#include <unistd.h>
int counter = 7;
int main(void) { for (int i = 0; i < 4; i++) { counter += i; usleep(200000); } return 0; }
"""


@pytest.mark.kernel
@pytest.mark.parametrize("unwatched, hits", [("ADDR", 1), ("0x1234", 4)])
def test_unwatch_detaches_the_watchpoint_on_its_address(tmp_path, capfd, unwatched, hits):
    """Four writes 200 ms apart (bpftrace 0.17 prints the same): unwatch() of the
    watched address stops it after the first; of another address changes nothing."""
    from pytrace.kernel.elf_symbols import ElfSymbols
    from pytrace.target.local import LocalTarget
    from tests.helpers.cbuild import build_c
    prog = build_c(WRITES_SLOWLY, tmp_path, flags=("-O0", "-no-pie"))
    addr = hex(ElfSymbols.load(LocalTarget(), str(prog)).lookup("counter").address)
    code, out, err = run(["-e", f'watchpoint:{addr}:4:w {{ printf("hit\\n"); '
                          f'unwatch({unwatched.replace("ADDR", addr)}); }}', "-c", str(prog)],
                         capfd)
    assert code == 0, err
    assert out == "Attaching 1 probe...\n" + "hit\n" * hits + "\n\n"
