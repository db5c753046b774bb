"""ntop, buf, strncmp, macaddr, kptr/uptr, cgroupid and strftime: what the user sees.

Exact-text cases recorded from bpftrace 0.17 live in oneliners_strings.json; here
are the cases whose output depends on the machine (cgroup ids, boot time, TCP
addresses), checked against an independent source, and the compile errors
(message and location as bpftrace 0.17 prints them).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pytrace.cli import main

HERE = Path(__file__).parent


def run(argv: list[str], capfd) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def lines_between_banner_and_exit(out: str) -> list[str]:
    body = out.split("Attaching 1 probe...\n", 1)[1]
    return body.split("\n\n\n", 1)[0].splitlines()


# ---- errors (wording and spans as bpftrace 0.17 prints them) ---------------------

ERRORS = [  # program, the part bpftrace underlines, message
    ('BEGIN { printf("%s\\n", str("hello world", 5)); }',
     'str("hello world", 5)',
     'str() expects an integer or a pointer type as first argument (string[12] provided)'),
    ('BEGIN { printf("%s\\n", str(comm)); }',
     'str(comm)',
     'str() expects an integer or a pointer type as first argument (string[16] provided)'),
    ('BEGIN { printf("%s\\n", ntop("abcd")); }',
     'ntop("abcd")',
     'ntop() argument must be 4 or 16 bytes in size'),
    ('BEGIN { printf("%s\\n", ntop()); }',
     'ntop()',
     'ntop() requires at least one argument (0 provided)'),
    ('BEGIN { printf("%s\\n", ntop(1,2,3)); }',
     'ntop(1,2,3)',
     'ntop() takes up to 2 arguments (3 provided)'),
    ('BEGIN { printf("%s\\n", ntop("a", 1)); }',
     'ntop("a", 1)',
     'ntop() only supports integer arguments (string provided)'),
    ('BEGIN { printf("%d\\n", ntop(1)); }',
     'printf("%d\\n", ntop(1))',
     'printf: %d specifier expects a value of type integer (string supplied)'),
    ('BEGIN { printf("%r|\\n", buf(comm)); }',
     'buf(comm)',
     'buf() expects a length argument for non-array type string'),
    ('BEGIN { printf("%r|\\n", buf(1)); }',
     'buf(1)',
     'buf() expects a length argument for non-array type integer'),
    ('BEGIN { printf("%r|\\n", buf()); }',
     'buf()',
     'buf() requires at least one argument (0 provided)'),
    ('BEGIN { printf("%r|\\n", buf(1,2,3)); }',
     'buf(1,2,3)',
     'buf() takes up to 2 arguments (3 provided)'),
    ('BEGIN { printf("%r|\\n", buf(comm, "a")); }',
     'buf(comm, "a")',
     'buf() only supports integer arguments (string provided)'),
    ('BEGIN { printf("%s|\\n", buf(comm, 1)); }',
     'printf("%s|\\n", buf(comm, 1))',
     'printf: %s specifier expects a value of type string (buffer supplied)'),
    ('BEGIN { printf("%r|\\n", comm); }',
     'printf("%r|\\n", comm)',
     'printf: %r specifier expects a value of type buffer (string supplied)'),
    ('BEGIN { printf("%rx|\\n", 5); }',
     'printf("%rx|\\n", 5)',
     'printf: %rx specifier expects a value of type buffer (integer supplied)'),
    ('BEGIN { printf("%d\\n", strncmp("a", 1, 3)); }',
     'strncmp("a", 1, 3)',
     'strncmp() only supports string arguments (integer provided)'),
    ('BEGIN { printf("%d\\n", strncmp("a", "b")); }',
     'strncmp("a", "b")',
     'strncmp() requires 3 arguments (2 provided)'),
    ('BEGIN { $n = 2; printf("%d\\n", strncmp("a", "b", $n)); }',
     'strncmp("a", "b", $n)',
     'strncmp() expects a integer literal (integer provided)'),
    ('BEGIN { printf("%d\\n", strncmp("a", "b", -1)); }',
     'strncmp("a", "b", -1)',
     'Builtin strncmp requires a non-negative size'),
    ('BEGIN { printf("%s\\n", macaddr("abcdef")); }',
     'macaddr("abcdef")',
     'macaddr() argument must be 6 bytes in size'),
    ('BEGIN { printf("%s\\n", macaddr(comm)); }',
     'macaddr(comm)',
     'macaddr() argument must be 6 bytes in size'),
    ('BEGIN { printf("%s\\n", macaddr("abcde")); }',
     'macaddr("abcde")',
     'macaddr() does not support literal string arguments'),
    ('BEGIN { printf("%s\\n", macaddr()); }',
     'macaddr()',
     'macaddr() requires one argument (0 provided)'),
    ('BEGIN { printf("%s\\n", kptr("a")); }',
     'kptr("a")',
     'kptr() only supports integer or pointer arguments (string provided)'),
    ('BEGIN { printf("%d\\n", uptr(1,2)); }',
     'uptr(1,2)',
     'uptr() requires one argument (2 provided)'),
    ('BEGIN { printf("%llu\\n", cgroupid(1)); }',
     'cgroupid(1)',
     'cgroupid() expects a string literal (integer provided)'),
    ('BEGIN { printf("%d\\n", cgroupid()); }',
     'cgroupid()',
     'cgroupid() requires one argument (0 provided)'),
    ('BEGIN { printf("%llu\\n", cgroupid("/nonexistent/cg")); }',
     'cgroupid("/nonexistent/cg")',
     # 0.17 prints this one unlocated, after "Failed to compile: ".
     'Failed to get `cgroupid` for path: "/nonexistent/cg": No such file or directory'),
    ('BEGIN { printf("%s\\n", strftime("%Y")); }',
     'strftime("%Y")',
     'strftime() requires at least 2 arguments (1 provided)'),
    ('BEGIN { printf("%s\\n", strftime("%Y", 1, 2)); }',
     'strftime("%Y", 1, 2)',
     'strftime() takes up to 2 arguments (3 provided)'),
    ('BEGIN { printf("%s\\n", strftime(1, 2)); }',
     'strftime(1, 2)',
     'strftime() expects a string literal (integer provided)'),
    ('BEGIN { printf("%s\\n", strftime("%Y", "a")); }',
     'strftime("%Y", "a")',
     'strftime() only supports integer arguments (string provided)'),
    ('BEGIN { printf("%d\\n", strftime("%Y", 1)); }',
     'printf("%d\\n", strftime("%Y", 1))',
     'printf: %d specifier expects a value of type integer (string supplied)'),
]


@pytest.mark.parametrize("prog,underlined,message", ERRORS, ids=[e[2][:48] for e in ERRORS])
def test_misuse_is_a_located_error(prog, underlined, message, capfd):
    start = prog.index(underlined)
    end = start + len(underlined)
    code, out, err = run(["-e", prog], capfd)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"stdin:1:{start + 1}-{end + 1}: ERROR: {message}",
        prog,
        " " * start + "~" * (end - start),
    ]


def test_a_buf_longer_than_strlen_is_shortened_with_a_warning(capfd):
    prog = 'BEGIN { printf("%r|\\n", buf(0, 300)); exit(); }'
    code, out, err = run(["-e", prog], capfd)
    assert code == 0, err
    assert err.splitlines()[0] == ("stdin:1:25-36: WARNING: buf() length is too long and "
                                   "will be shortened to 64 bytes (see BPFTRACE_STRLEN)")
    # Address 0 cannot be read: the 64 bytes stay zero.
    assert lines_between_banner_and_exit(out) == ["\\x00" * 64 + "|"]


# ---- cgroupid: the file handle of a cgroup2 directory ------------------------------

def _own_cgroup2_dir() -> str | None:
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    roots = [m[1] for m in mounts if m[2] == "cgroup2"]
    entry = [line for line in Path("/proc/self/cgroup").read_text().splitlines()
             if line.startswith("0::")]
    if not roots or not entry:
        return None
    return roots[0].rstrip("/") + entry[0][3:].rstrip("/")


@pytest.mark.kernel
def test_cgroupid_of_our_own_cgroup_is_what_the_cgroup_builtin_reads(capfd):
    path = _own_cgroup2_dir()
    if path is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    prog = f'BEGIN {{ printf("%llu %d\\n", cgroupid("{path}"), cgroupid("{path}") == cgroup); exit(); }}'
    code, out, err = run(["-e", prog], capfd)
    assert code == 0, err
    [line] = lines_between_banner_and_exit(out)
    value, same = line.split()
    # kernfs gives a cgroup directory its id as inode number.
    assert int(value) == os.stat(path).st_ino
    assert same == "1"


def test_cgroupid_of_a_file_system_with_long_handles_fails_at_compile_time(capfd):
    # /proc file handles do not fit 8 bytes (or cannot be made at all).
    code, out, err = run(["-e", 'BEGIN { printf("%llu\\n", cgroupid("/proc/self")); }'], capfd)
    assert code == 1 and out == ""
    assert 'ERROR: Failed to get `cgroupid` for path: "/proc/self": ' in err.splitlines()[0]


# ---- strftime: nsecs since boot, as wall-clock time --------------------------------

def _btime() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise AssertionError("no btime in /proc/stat")


@pytest.mark.kernel
def test_strftime_adds_the_boot_time_to_nsecs(capfd):
    prog = ('BEGIN { printf("%s|%s|%s|%s\\n", strftime("%s", 0), strftime("%s %f", 1000), '
            'strftime("%s %f", 2000), strftime("%s", nsecs)); exit(); }')
    before = time.time()
    code, out, err = run(["-e", prog], capfd)
    after = time.time()
    assert code == 0, err
    [line] = lines_between_banner_and_exit(out)
    boot, first, second, now = line.split("|")
    # /proc/stat's btime is the kernel's own (whole-second) boot wall time.
    assert abs(int(boot) - _btime()) <= 1
    assert int(before) - 1 <= int(now) <= int(after) + 1
    (s1, us1), (s2, us2) = (map(int, first.split()), map(int, second.split()))
    assert (s2 * 1_000_000 + us2) - (s1 * 1_000_000 + us1) == 1  # 1 µs apart
    assert len(first.split()[1]) == 6


# ---- ntop and buf over a real 4-byte address array ---------------------------------

CONNECT = """
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
c = socket.create_connection(s.getsockname()); c.close(); s.close()
"""


@pytest.mark.kernel
def test_ntop_and_buf_of_the_address_arrays_of_a_tcp_connect(tmp_path, capfd):
    script = tmp_path / "connect.py"
    script.write_text(CONNECT)
    # newstate 2 = TCP_SYN_SENT: in the connecting process, so pid == cpid holds.
    prog = ('tracepoint:sock:inet_sock_set_state /pid == cpid && args->newstate == 2/ '
            '{ printf("%s %s %s %r\\n", ntop(args->saddr), ntop(args->daddr), '
            'ntop(args->daddr_v6), buf(args->daddr)); }')
    code, out, err = run(["-e", prog, "-c", f"{sys.executable} {script}"], capfd)
    assert code == 0, err
    # 4-byte arrays are IPv4, 16-byte arrays IPv6 (the kernel stores v4 sockets'
    # addresses there v4-mapped).
    assert lines_between_banner_and_exit(out) == [
        "127.0.0.1 127.0.0.1 ::ffff:127.0.0.1 \\x7f\\x00\\x00\\x01"]
