"""Every command of docs/tutorial.md runs here and prints what its lesson shows.

The commands are read from the page's ```sh blocks, in order, and each is
matched with an expectation below: how it runs (it ends by itself, it runs under
a workload until SIGINT as a user's Ctrl-C, or, for kprobes this kernel cannot
attach, it is loaded through the verifier and never attached) and the shape its
output must have: a map's name with a count above 0, a histogram bar, the printf
line of the workload's process. Never exact numbers.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from pytrace.session import Session
from tests.docs.markdown import DOCS, code_blocks, page

REPO = DOCS.parent

COMMANDS = [block.strip() for block in code_blocks(page("tutorial.md"), "sh")]

# A histogram line with a count above 0: `[4K, 8K)   2 |@@@@@   |`.
BAR = r"^[\[(].*\s[1-9]\d* \|@+ *\|$"


@dataclass
class Expect:
    fragment: str            # the command must contain this: keeps the list in step
    mode: str                # "exits", "sigint" or "verify"
    output: tuple = ()       # regexes stdout must match (multi-line mode)
    seconds: float = 1.0     # with "sigint": how long to trace before Ctrl-C


EXPECTED = [
    Expect("-l 'tracepoint:syscalls:sys_enter_open*'", "exits",
           (r"^tracepoint:syscalls:sys_enter_openat$",)),
    Expect("-lv tracepoint:syscalls:sys_enter_openat", "exits",
           (r"^tracepoint:syscalls:sys_enter_openat\n", r"^    const char \* filename$")),
    Expect('printf("hello world\\n")', "sigint", (r"^Attaching 1 probe\.\.\.$", r"^hello world$"),
           seconds=0.3),
    Expect("sys_enter_openat { printf", "sigint", (r"^cat /etc/hostname$",)),
    Expect("raw_syscalls:sys_enter { @[comm] = count(); }", "sigint", (r"^@\[cat\]: [1-9]\d*$",)),
    Expect("@bytes = hist(args->ret)", "sigint", (r"^@bytes:", BAR)),
    Expect("interval:s:1 { print(@syscalls)", "sigint", (r"^@syscalls: [1-9]\d*$",),
           seconds=1.6),
    Expect("kprobe:vfs_read", "verify"),
    Expect("kretprobe:vfs_read", "verify"),
    Expect("@ns[comm] = hist(nsecs - @start[tid])", "sigint", (r"^@ns\[cat\]:", BAR)),
    Expect("tracepoint:sched:sched*", "exits",
           (r"^@\[tracepoint:sched:sched_switch\]: [1-9]\d*$",
            r"^@\[tracepoint:sched:sched_process_exec\]: [1-9]\d*$")),
    Expect("profile:hz:99", "sigint", (r"^@\[\n(    \S+\n)+\]: [1-9]\d*$",)),
    Expect("sched_switch { @[kstack]", "sigint", (r"^    (__)?schedule\+\d+$",)),
    Expect("block:block_rq_issue", "sigint", (r"^@bytes:", BAR)),
    Expect("uprobe:libc:malloc", "sigint", (r"^@size:", BAR)),
    Expect("kprobe:vfs_open", "verify"),
    Expect("curtask->real_parent->comm", "sigint", (r"^cat started by \S+$",)),
    Expect("-c 'cat /etc/hostname'", "exits", (r"^Attaching 1 probe\.\.\.$", r"^/etc/hostname$")),
]


def test_every_command_of_the_tutorial_has_an_expectation():
    assert len(COMMANDS) == len(EXPECTED), COMMANDS
    for command, expect in zip(COMMANDS, EXPECTED):
        assert expect.fragment in command, (expect.fragment, command)


def argv(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "pytrace", command
    return [sys.executable, "-m", "pytrace", *words[1:]]


class Workload:
    """What the lessons trace, over and over until stopped: `cat` opening and
    reading a file, `ls` (malloc, exec), and direct writes that reach the disk."""

    def __init__(self, tmp_path):
        self.file = tmp_path / "io"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop.is_set():
            subprocess.run(["cat", "/etc/hostname"], stdout=subprocess.DEVNULL)
            subprocess.run(["ls", "/"], stdout=subprocess.DEVNULL)
            subprocess.run(["dd", "if=/dev/zero", f"of={self.file}", "bs=64k", "count=2",
                            "oflag=direct"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


def run_until_sigint(command: str, seconds: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(argv(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        first = proc.stdout.readline()       # `Attaching N probes...`, or EOF on an error
        if first:
            time.sleep(seconds)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, first + stdout, stderr)


def verify_only(command: str) -> None:
    """Compile the -e program and load it through the verifier; attach nothing."""
    from pytrace.runtime.loader import load
    words = shlex.split(command)
    session = Session(words[words.index("-e") + 1])
    compiled = session.compile()
    target = session.get_target()
    loaded = load(target, compiled.object, compiled.resources)
    try:
        assert loaded.programs
    finally:
        loaded.close(target)
        target.close_all()


@pytest.mark.kernel
@pytest.mark.parametrize("index", range(len(EXPECTED)),
                         ids=[f"{i + 1}:{e.fragment[:30]}" for i, e in enumerate(EXPECTED)])
def test_each_command_runs_and_shows_what_its_lesson_shows(index, tmp_path):
    command, expect = COMMANDS[index], EXPECTED[index]
    assert expect.fragment in command
    if expect.mode == "verify":
        verify_only(command)
        return
    with Workload(tmp_path):
        if expect.mode == "sigint":
            result = run_until_sigint(command, expect.seconds)
        else:
            result = subprocess.run(argv(command), capture_output=True, text=True, timeout=60,
                                    cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    for pattern in expect.output:
        assert re.search(pattern, result.stdout, re.M), (pattern, result.stdout[-3000:])
