"""A small stand-in runner for the tools2 tests until the tool set's harness
(tests/tools/harness.py) lands: run scripts/NAME.bt as a user would, wait until
its probes are attached, let the test run a workload, stop it with SIGINT.

Also the workloads' helpers: a Python child whose pid the test knows, and a C
program built with gcc."""

from __future__ import annotations

import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

from tests.probes.harness import uprobe_events

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # compile and load on a busy 2-core machine
STOP_TIMEOUT = 30.0


class ToolRun:
    """`pytrace scripts/TOOL.bt ARGS`, stopped with SIGINT when the block ends."""

    def __init__(self, tool: str, *args: str):
        self.argv = [sys.executable, "-m", "pytrace", "-B", "line",
                     str(ROOT / "scripts" / f"{tool}.bt"), *args]
        self.lines: queue.Queue = queue.Queue()
        self.stdout_lines: list[str] = []
        self.output = ""
        self.stderr = ""
        self.returncode: int | None = None

    def start(self) -> "ToolRun":
        if os.geteuid() != 0:
            pytest.skip("tracing needs root")
        self.uprobes_before = uprobe_events()
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        probes = None
        while probes is None:
            line = self._next_line(deadline)
            banner = re.match(r"Attaching (\d+) probe", line)
            if banner:
                probes = int(banner.group(1))
        # BEGIN runs before the other probes attach: wait for their BPF links,
        # one per probe (BEGIN and END have none), or fewer when several
        # uprobes share one link: then until the count stops changing.
        seen, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail("exited before it was ready")
            links = self._links()
            if links >= probes - 2:
                break
            if links != seen:
                seen, stable_since = links, time.monotonic()
            elif links and time.monotonic() - stable_since > 0.5:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next_line(self, deadline: float) -> str:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self._fail("not ready in time")
        if line is None:
            self._fail("exited before it was ready")
        self.stdout_lines.append(line)
        return line

    def _links(self) -> int:
        fd_dir = f"/proc/{self.proc.pid}/fd"
        count = 0
        for fd in os.listdir(fd_dir):
            try:
                count += os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:bpf_link"
            except OSError:
                pass
        return count

    def _fail(self, why: str):
        self.proc.kill()
        _, err = self.proc.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError(f"{self.argv[4:]}: {why}\nstdout: {''.join(self.stdout_lines)}"
                             f"\nstderr: {err}")

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        for line in self.stdout_lines:
            if regex.search(line):
                return line
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                break
            self.stdout_lines.append(line)
            if regex.search(line):
                return line
        raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.stdout_lines)}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            time.sleep(0.3)  # let the workload's last events drain
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.argv[4:]} did not stop on SIGINT")
        self.reader.join(timeout=STOP_TIMEOUT)
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.stdout_lines.append(line)
        self.returncode = self.proc.returncode
        self.output = "".join(self.stdout_lines)
        assert self.returncode == 0, (f"{self.argv[4:]} exited {self.returncode}\n"
                                      f"stderr: {self.stderr}\nstdout: {self.output}")
        assert uprobe_events() == self.uprobes_before, "uprobes left attached"
        return self.output

    def __enter__(self) -> "ToolRun":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.proc.kill()
            self.proc.wait()
            return
        self.stop()

    def rows(self, columns: int | None = None) -> list[list[str]]:
        """Output lines split on whitespace (at most `columns` fields each)."""
        maxsplit = -1 if columns is None else columns - 1
        return [line.split(None, maxsplit) for line in self.output.splitlines()
                if line.strip()]


def python_child(code: str) -> int:
    """Run `code` in a new python3 process to its end; its pid."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                             stderr=subprocess.PIPE, text=True)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return child.pid


def gcc_build(directory: pathlib.Path, name: str, source: str, *flags: str) -> str:
    """Compile a C program; its path."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    c_file = directory / f"{name}.c"
    c_file.write_text(textwrap.dedent(source))
    binary = directory / name
    subprocess.run(["gcc", "-g", "-O0", "-o", str(binary), str(c_file), *flags], check=True)
    return str(binary)


@pytest.fixture
def short_dir():
    """A directory with a short path (tools print strings of at most 64 bytes)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="t2", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
