"""bpftrace 0.17's own tools, read where Debian's bpftrace package installs them.

Every tool parses; every tool compiles and its programs pass the kernel's
verifier (loaded, never attached: this kernel has no kprobes); and every tool
that needs no kprobe runs until SIGINT, printing the header bpftrace 0.17
printed here. The tools are read in place, never copied; without the package
these tests skip.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pytrace.diagnostics import PytraceError, Source
from pytrace.parser import parse
from pytrace.preprocessor import PreprocessOptions
from pytrace.session import Session
from tests.helpers.procio import first_line

TOOLS_DIR = Path("/usr/sbin")
TOOLS = sorted(p.stem for p in TOOLS_DIR.glob("*.bt"))
REPO = Path(__file__).resolve().parents[2]
needs_tools = pytest.mark.skipif(len(TOOLS) < 38, reason="bpftrace's tools are not installed")

# What bpftrace 0.17 printed first for each tool without kprobes, on this machine
# (runqlat and tcpdrop: bpftrace cannot compile them without kernel headers, so
# their BEGIN banner and probe count, read from the tool).
HEADERS = {
    "bashreadline": ["Attaching 2 probes...", "Tracing bash commands... Hit Ctrl-C to end.",
                     "TIME      PID    COMMAND"],
    "bitesize": ["Attaching 3 probes...", "Tracing block device I/O... Hit Ctrl-C to end."],
    "cpuwalk": ["Attaching 2 probes...", "Sampling CPU at 99hz... Hit Ctrl-C to end."],
    "execsnoop": ["Attaching 3 probes...", "TIME(ms)   PID   ARGS"],
    "gethostlatency": ["Attaching 7 probes...",
                       "Tracing getaddr/gethost calls... Hit Ctrl-C to end.",
                       "TIME      PID    COMM              LATms HOST"],
    "killsnoop": ["Attaching 3 probes...", "Tracing kill() signals... Hit Ctrl-C to end.",
                  "TIME      PID    COMM             SIG  TPID   RESULT"],
    "naptime": ["Attaching 2 probes...", "Tracing sleeps. Hit Ctrl-C to end.",
                "TIME     PPID   PCOMM            PID    COMM             SECONDS"],
    "opensnoop": ["Attaching 6 probes...", "Tracing open syscalls... Hit Ctrl-C to end.",
                  "PID    COMM               FD ERR PATH"],
    "pidpersec": ["Attaching 4 probes...", "Tracing new processes... Hit Ctrl-C to end."],
    "runqlat": ["Attaching 5 probes...", "Tracing CPU scheduler... Hit Ctrl-C to end."],
    "setuids": ["Attaching 7 probes...",
                "Tracing setuid(2) family syscalls. Hit Ctrl-C to end.",
                "TIME     PID    COMM             UID    SYSCALL   ARGS (RET)"],
    "ssllatency": ["Attaching 12 probes...", "Tracing SSL/TLS handshake... Hit Ctrl-C to end."],
    "sslsnoop": ["Attaching 11 probes...", "Tracing SSL/TLS handshake... Hit Ctrl-C to end.",
                 "TIME(us)   TID      COMM     LAT(us)   RET FUNC"],
    "statsnoop": ["Attaching 10 probes...", "Tracing stat syscalls... Hit Ctrl-C to end.",
                  "PID    COMM             ERR PATH"],
    "syncsnoop": ["Attaching 7 probes...", "Tracing sync syscalls... Hit Ctrl-C to end.",
                  "TIME      PID    COMM             EVENT"],
    "syscount": ["Attaching 3 probes...", "Counting syscalls... Hit Ctrl-C to end."],
    "tcpdrop": ["Attaching 3 probes...", "Tracing tcp drops. Hit Ctrl-C to end."],
    "threadsnoop": ["Attaching 1 probe...", "TIME(ms)   PID    COMM             FUNC"],
    "writeback": ["Attaching 4 probes...", "Tracing writeback... Hit Ctrl-C to end.",
                  "TIME      DEVICE   PAGES    REASON           ms"],
}

# Tools bpftrace 0.17 itself refuses on this kernel, with the same first line.
SAME_ERROR = {
    # avenrun is not in this kernel's kallsyms (no CONFIG_KALLSYMS_ALL).
    "loads": "ERROR: Failed to compile: Failed to resolve kernel symbol: avenrun",
    # Linux 6.6 renamed cfs_rq.nr_running (the tool predates it).
    "runqlen": "/usr/sbin/runqlen.bt:37:9-26: ERROR: Struct/union of type 'struct cfs_rq' "
               "does not contain a field named 'nr_running'",
}


def tool_text(name: str) -> str:
    return (TOOLS_DIR / f"{name}.bt").read_text()


def needs_kprobes(name: str) -> bool:
    return re.search(r"^\s*k(ret)?probe:", tool_text(name), re.M) is not None


@needs_tools
@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_parses(name):
    options = PreprocessOptions(defines={"BPFTRACE_HAVE_BTF": "1"},
                                script_dir=str(TOOLS_DIR))
    program = parse(Source(tool_text(name), str(TOOLS_DIR / f"{name}.bt")), options)
    assert program.probes


@needs_tools
@pytest.mark.kernel
@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_compiles_and_passes_the_verifier(name):
    from pytrace.runtime.loader import load
    session = Session(Source(tool_text(name), str(TOOLS_DIR / f"{name}.bt")))
    if name in SAME_ERROR:
        with pytest.raises(PytraceError) as caught:
            session.compile()
        rendered = caught.value.render(session.program).splitlines()[0]
        assert rendered == SAME_ERROR[name]
        return
    compiled = session.compile()
    target = session.get_target()
    loaded = load(target, compiled.object, compiled.resources)
    try:
        assert loaded.programs
    finally:
        loaded.close(target)
        target.close_all()


RUNNABLE = [n for n in TOOLS if not needs_kprobes(n)] if len(TOOLS) >= 38 else []


@needs_tools
@pytest.mark.kernel
@pytest.mark.parametrize("name", RUNNABLE)
def test_tools_without_kprobes_run_until_sigint(name):
    path = str(TOOLS_DIR / f"{name}.bt")
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", path], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        if name in SAME_ERROR:
            stdout, stderr = proc.communicate(timeout=60)
            assert proc.returncode == 1
            assert stderr.splitlines()[0] == SAME_ERROR[name]
            return
        expected = HEADERS[name]
        header = [first_line(proc).rstrip("\n") for _ in expected]
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert header == expected, stderr
    assert proc.returncode == 0, stderr
    assert "ERROR" not in stderr


NANOSLEEP = """
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(void) { struct timespec ts = {1, 100000000}; syscall(SYS_nanosleep, &ts, 0); return 0; }
"""


@needs_tools
@pytest.mark.kernel
def test_naptime_follows_tracepoint_args_and_curtask_into_kernel_structs(tmp_path):
    """naptime reads args->rqtp->tv_sec and curtask->real_parent->comm: the
    -c command's sleep of 1.1 s, under its parent, pytrace itself."""
    from tests.helpers.cbuild import build_c
    prog = build_c(NANOSLEEP, tmp_path, "ns")
    proc = subprocess.Popen([sys.executable, "-m", "pytrace", str(TOOLS_DIR / "naptime.bt"),
                             "-c", str(prog)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = first_line(proc)  # attached: pytrace is running its own program now
    tracer_comm = Path(f"/proc/{proc.pid}/comm").read_text().strip()
    stdout, stderr = proc.communicate(timeout=60)
    stdout = first + stdout
    assert proc.returncode == 0, stderr
    lines = [line for line in stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(lines) == 1, stdout
    fields = lines[0].split()
    assert fields[1:3] == [str(proc.pid), tracer_comm]
    assert fields[4:] == ["ns", "1.100"]
