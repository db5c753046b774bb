"""Facts come from the target in bulk and big ones are cached on the host by
content hash: a second session against the same kernel fetches no BTF."""

from __future__ import annotations

import pytest

from pytrace.remote.transports import parse_target
from pytrace.target.local import LocalTarget
from pytrace.target.remote import RemoteTarget

VMLINUX = "/sys/kernel/btf/vmlinux"


def session() -> RemoteTarget:
    return RemoteTarget(parse_target("exec:"))


@pytest.mark.kernel
def test_a_second_session_fetches_no_btf(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path))
    local = LocalTarget().read_file(VMLINUX)
    first = session()
    try:
        assert first.read_file(VMLINUX) == local
        assert first.fetched_bytes == len(local)
    finally:
        first.close_all()
    second = session()
    try:
        assert second.read_file(VMLINUX) == local
        assert second.fetched_bytes == 0
        assert second.round_trips == 2   # the HELLO and the hash check
    finally:
        second.close_all()


@pytest.mark.kernel
def test_a_changed_file_is_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path))
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * 100_000)
    for content in (b"a" * 100_000, b"b" * 100_000):
        big.write_bytes(content)
        target = session()
        try:
            assert target.read_file(str(big)) == content
            assert target.fetched_bytes == len(content)
        finally:
            target.close_all()


@pytest.mark.kernel
def test_tracepoint_facts_of_a_whole_program_come_in_one_request(tmp_path, monkeypatch):
    """Eleven tracepoints: their formats in one request, not eleven."""
    from pytrace.compiler import compile_program
    from pytrace.diagnostics import Source
    from pytrace.parser import parse

    names = ("getpid", "getppid", "read", "write", "openat", "close", "mmap", "munmap",
             "brk", "ioctl", "nanosleep")
    text = "\n".join(f"tracepoint:syscalls:sys_enter_{n} {{ @{n} = count(); }}" for n in names)
    target = session()
    try:
        compile_program(parse(Source(text)), target)
        assert target.round_trips == 2   # the HELLO and the formats
    finally:
        target.close_all()


@pytest.mark.kernel
def test_a_wildcard_walks_tracefs_in_one_request_and_reads_formats_in_one():
    from pytrace.compiler import compile_program
    from pytrace.diagnostics import Source
    from pytrace.parser import parse

    target = session()
    try:
        compiled = compile_program(parse(Source("tracepoint:syscalls:sys_enter_* { @[probe] = count(); }")),
                                   target)
        assert compiled.attached_count > 100
        assert target.round_trips == 3   # the HELLO, the tracefs tree, the formats
    finally:
        target.close_all()
