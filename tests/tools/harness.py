"""Run a standard tool as a user does, and collect what it printed.

`ToolRun("opensnoop")` starts `python3 -m pytrace -B line opensnoop` from the
repository root, waits until the tool is tracing (its banner, then BPF links
in the process's file table, their number settled), lets the test run a workload, then sends SIGINT as Ctrl-C would and returns everything printed.

    with ToolRun("opensnoop") as run:
        open(path).close()
    assert path in run.output

Also: `compile_and_load(path)` puts a script through the verifier without
attaching it (what every tool must pass here, kprobe-only tools included).
"""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
START_TIMEOUT = 60.0   # compile + load on a busy 2-core machine
STOP_TIMEOUT = 30.0
SETTLE = 0.5           # seconds without a new BPF link: attaching is done


def tool_path(name: str) -> str:
    return os.path.join(SCRIPTS, name + ".bt")


def tool_names() -> list[str]:
    return sorted(f[:-3] for f in os.listdir(SCRIPTS) if f.endswith(".bt"))


class ToolRun:
    """One run of `pytrace TOOL ARGS`, stopped with SIGINT when the block ends."""

    def __init__(self, tool: str, *args: str, ready: str | None = None,
                 options: tuple[str, ...] = (), env: dict | None = None,
                 link_roots: list[int] | None = None, count_links: bool = True):
        # `ready`: a regex for a line to wait for before the probes' links; by
        # default the "Attaching N probes..." banner. The links are looked for
        # in pytrace's process tree, or under `link_roots` (an sshd whose
        # session runs the agent); `count_links=False` when they are out of
        # sight (a VM): the test then repeats its workload until it is seen.
        self.argv = [sys.executable, "-m", "pytrace", "-B", "line", *options, tool, *args]
        self.ready = re.compile(ready) if ready else None
        self.env = env
        self.link_roots = link_roots
        self.count_links = count_links
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.stdout_lines: list[str] = []
        self.output = ""
        self.stderr = ""
        self.returncode: int | None = None

    # ---- start ----------------------------------------------------------------------
    def start(self) -> "ToolRun":
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=self.env,
                                     errors="replace", start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_ready()
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next_line(self, deadline: float) -> str | None:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self._fail(f"not ready after {START_TIMEOUT:.0f}s")
        if line is None:
            self._fail("exited before it was ready")
        self.stdout_lines.append(line)
        return line

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        probes = 0
        while True:
            line = self._next_line(deadline)
            banner = re.match(r"Attaching (\d+) probe", line)
            if banner:
                probes = int(banner.group(1))
            if self.ready is None and banner or self.ready and self.ready.search(line):
                break
        # BEGIN runs before the other probes are attached (as in bpftrace), and
        # a probe may take one link (a tracepoint), several (profile: one per
        # CPU) or share one (uprobe_multi): wait until the process holds BPF
        # links and their number has settled.
        links, since = 0, time.monotonic()
        while probes and self.count_links and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail("exited before it was ready")
            now, count = time.monotonic(), self._links()
            if count != links:
                links, since = count, now
            elif links and now - since >= SETTLE:
                return
            time.sleep(0.05)

    def _links(self) -> int:
        """BPF links held by pytrace and its children (a `--target exec:` agent
        holds them in a child process)."""
        count = 0
        roots = self.link_roots or [self.proc.pid]
        for pid in (p for root in roots for p in _process_tree(root)):
            fd_dir = f"/proc/{pid}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    count += os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:bpf_link"
                except OSError:
                    pass
        return count

    def _fail(self, why: str):
        self.proc.kill()
        _, err = self.proc.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError(f"{' '.join(self.argv[3:])}: {why}\n"
                             f"stdout: {''.join(self.stdout_lines)}\nstderr: {err}")

    # ---- stop -------------------------------------------------------------------------
    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for a line matching `pattern` (e.g. an interval's output); the line."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        for line in self.stdout_lines:
            if regex.search(line):
                return line
        while time.monotonic() < deadline:
            line = self._take(max(0.0, deadline - time.monotonic()))
            if line is None:
                break
            if regex.search(line):
                return line
        raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.stdout_lines)}")

    def output_so_far(self) -> str:
        """What the tool printed until now (its run goes on)."""
        while self._take(None) is not None:
            pass
        return "".join(self.stdout_lines)

    def _take(self, timeout: float | None) -> str | None:
        """The next stdout line, kept in stdout_lines, waiting up to `timeout`
        (None: not at all); None when none came or the output ended."""
        try:
            line = self.lines.get_nowait() if timeout is None else self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self.lines.put(None)   # the end stays visible to the next reader
            return None
        self.stdout_lines.append(line)
        return line

    def stop(self) -> str:
        """Ctrl-C; wait for the exit; the whole stdout (also in `.output`)."""
        if self.proc.poll() is None:
            time.sleep(0.2)  # let the last events of the workload drain
            self.proc.send_signal(signal.SIGINT)
        try:
            self.returncode = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.argv[3:]} did not stop on SIGINT")
        self._reader.join(timeout=STOP_TIMEOUT)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.stdout_lines.append(line)
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.output = "".join(self.stdout_lines)
        return self.output

    def __enter__(self) -> "ToolRun":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            return
        self.stop()
        assert self.returncode == 0, (f"{self.argv[3:]} exited {self.returncode}\n"
                                      f"stderr: {self.stderr}\nstdout: {self.output}")

    def rows(self, columns: int | None = None) -> list[list[str]]:
        """Output lines split on whitespace (at most `columns` fields each)."""
        maxsplit = -1 if columns is None else columns - 1
        return [line.split(None, maxsplit) for line in self.output.splitlines() if line.strip()]


def _process_tree(root: int) -> list[int]:
    pids, i = [root], 0
    while i < len(pids):
        try:
            for task in os.listdir(f"/proc/{pids[i]}/task"):
                with open(f"/proc/{pids[i]}/task/{task}/children") as f:
                    pids.extend(int(p) for p in f.read().split())
        except OSError:
            pass
        i += 1
    return pids


CLEAR_SCREEN = "\x1b[H\x1b[2J"   # what filetop and biotop print before each interval


def top_intervals(output: str) -> list[str]:
    """A top-style tool's output cut into its intervals, each from the line with
    the time and load averages to the line before the next such line."""
    starts = [m.start() for m in re.finditer(r"^.*\d\d:\d\d:\d\d loadavg: ", output, re.M)]
    return [output[a:b] for a, b in zip(starts, starts[1:] + [len(output)])]


def rows_in_order(interval: str, *patterns: str) -> list[int] | None:
    """Where the first line matching each pattern is in one interval (line
    numbers), or None when one of them is not there."""
    lines = interval.splitlines()
    found = []
    for pattern in patterns:
        at = [i for i, line in enumerate(lines) if re.search(pattern, line)]
        if not at:
            return None
        found.append(at[0])
    return found


def run_tool(tool: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run a tool to its end (one that exits by itself, or fails)."""
    return subprocess.run([sys.executable, "-m", "pytrace", tool, *args], cwd=ROOT,
                          capture_output=True, text=True, errors="replace", timeout=timeout)


def compile_and_load(path: str, *params: str) -> int:
    """Compile a script and load every program through the verifier, attaching
    nothing; the number of programs loaded. Raises PytraceError on failure."""
    from pytrace.diagnostics import Source
    from pytrace.runtime.loader import load
    from pytrace.session import Session
    from pytrace.target.local import LocalTarget

    with open(path, encoding="utf-8") as f:
        source = Source(f.read(), path)
    target = LocalTarget()
    loaded = None
    try:
        session = Session(source, params=list(params), target=target,
                          warning_stream=io.StringIO())
        compiled = session.compile()
        loaded = load(target, compiled.object, compiled.resources)
        return len(loaded.programs)
    finally:
        if loaded is not None:
            loaded.close(target)
        target.close_all()
