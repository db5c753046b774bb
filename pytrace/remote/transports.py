"""Transports: a child process whose stdin/stdout reach a python3 on the target.

    exec:COMMAND             COMMAND followed by the agent's argv (python3 -c BOOTSTRAP):
                             `exec:kubectl exec -i POD --`, `exec:docker exec -i CTR`,
                             `exec:nsenter -t 1 -m -p --`; `exec:` alone runs the agent
                             as a child of pytrace on this machine (the loopback).
    ssh://[user@]host[:port] the system ssh client (keys, agents, ~/.ssh/config,
                             jump hosts); extra options in $PYTRACE_SSH_OPTS;
                             BatchMode=yes unless those say otherwise.
    adb[:serial]             `adb [-s serial] shell`, through `su -c` when the
                             shell is not root.

$PYTRACE_REMOTE_PYTHON names the target's interpreter (default python3);
$PYTRACE_REMOTE_TIMEOUT bounds the wait for the agent's HELLO (and adb's probe).
The transport runs in its own session, so the terminal's Ctrl-C reaches only
pytrace, which then ends the trace in order (maps printed) before closing the
transport. Closing its stdin ends the agent.
"""

from __future__ import annotations

import collections
import os
import select
import shlex
import signal
import subprocess
import sys
import threading
import time

from pytrace.kernel.errors import PytraceError  # the layer beneath diagnostics


STOP_TIMEOUT_S = 5.0    # how long a transport may take to end once its stdin closed
DEFAULT_HANDSHAKE_TIMEOUT_S = 30.0


def handshake_timeout() -> float:
    """Seconds to wait for the agent's HELLO: $PYTRACE_REMOTE_TIMEOUT, default 30."""
    text = os.environ.get("PYTRACE_REMOTE_TIMEOUT")
    if text is None or not text.strip():
        return DEFAULT_HANDSHAKE_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise PytraceError(f"PYTRACE_REMOTE_TIMEOUT: expected a number of seconds above "
                           f"0, got {text!r}")
    return value


class Transport:
    """Starts and stops the transport process; remembers what it said on stderr."""

    def __init__(self, name: str, argv: list[str], shell_command: bool):
        self.name = name
        self.argv = argv
        self.shell_command = shell_command   # the agent's argv goes as one shell string
        self.proc: subprocess.Popen | None = None
        self.stderr_tail: collections.deque = collections.deque(maxlen=20)
        self.forward_stderr = False
        self._stderr_thread = None

    def agent_argv(self, bootstrap: str) -> list[str]:
        python = os.environ.get("PYTRACE_REMOTE_PYTHON", "python3")
        # -S: no site-packages (the agent needs the stdlib only): ~50 ms less
        # start-up on a Python with many packages, and nothing of them runs.
        if self.shell_command:
            return [f"{shlex.quote(python)} -S -c {shlex.quote(bootstrap)}"]
        return [python, "-S", "-c", bootstrap]

    def command(self, bootstrap: str) -> list[str]:
        return self.argv + self.agent_argv(bootstrap)

    def start(self, bootstrap: str) -> None:
        argv = self.command(bootstrap)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, bufsize=0,
                                         start_new_session=True)
        except OSError as e:
            raise PytraceError(f"--target {self.name}: cannot run {argv[0]}: "
                               f"{e.strerror}") from None
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    def _read_stderr(self) -> None:
        for line in iter(self.proc.stderr.readline, b""):
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.stderr_tail.append(text)
            if self.forward_stderr:
                # What runs on the target (system(), -c) keeps its stderr.
                sys.stderr.write(text + "\n")
                sys.stderr.flush()

    @property
    def stdin_fd(self) -> int:
        return self.proc.stdin.fileno()

    @property
    def stdout_fd(self) -> int:
        return self.proc.stdout.fileno()

    def _last_words(self, wait: float = 1.0) -> str:
        """The transport's exit status and last stderr line, once it has ended."""
        if self.proc is None:
            return ""
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return ""
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)
        lines = [ln for ln in self.stderr_tail if ln.strip()]
        if lines:
            return lines[-1].strip()
        code = self.proc.returncode
        if code is None:
            return ""
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def failure_reason(self) -> str:
        return self._last_words()

    def start_failure(self, early_output: bytes) -> PytraceError:
        """The transport ended before the agent said hello: say why in one line."""
        words = self._last_words(wait=5.0)
        code = self.proc.returncode if self.proc else None
        python = os.environ.get("PYTRACE_REMOTE_PYTHON", "python3")
        names_python = python in words and ("not found" in words or "No such file" in words)
        # 127 is any shell's "command not found": it is python's fault only if
        # nothing else (such as adb's `su`) was named as the missing command.
        if names_python or (code == 127 and not words):
            return PytraceError(f"--target {self.name}: the target has no {python} "
                                f"(the agent needs Python 3.6 or later there): {words}")
        return PytraceError(f"--target {self.name}: the agent did not start: "
                            f"{words or 'no answer'}")

    def stop(self) -> None:
        """Close the agent's stdin (it exits and the kernel frees what it held),
        then make sure the transport is gone."""
        proc = self.proc
        if proc is None:
            return
        self.proc_stdin_close()
        # Read (and drop) what it still sends, so it never blocks writing to us.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        out = proc.stdout
        while out is not None and not out.closed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                break
            try:
                if not os.read(out.fileno(), 1 << 20):
                    break
            except BlockingIOError:
                continue
            except OSError:
                break
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out is not None:
            out.close()

    def kill(self) -> None:
        """End the transport at once (it does not answer): nothing of it stays."""
        proc = self.proc
        if proc is None:
            return
        self.proc_stdin_close()
        if proc.poll() is None:
            try:   # its own session (start): its group holds what it started
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        if proc.stdout is not None:
            proc.stdout.close()

    def proc_stdin_close(self) -> None:
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass


def parse_target(spec: str) -> Transport:
    """The Transport for a --target value (anything but `local`)."""
    if spec.startswith("exec:"):
        command = spec[len("exec:"):].strip()
        if not command:
            return LoopbackTransport(spec)
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise PytraceError(f"--target {spec}: {e}") from None
        return Transport(spec, argv, shell_command=False)
    if spec.startswith("ssh://"):
        return ssh_transport(spec)
    if spec == "adb" or spec.startswith("adb:"):
        return adb_transport(spec)
    raise PytraceError(f"--target {spec}: unknown target (use local, exec:COMMAND, "
                       "ssh://[user@]host[:port] or adb[:serial])")


class LoopbackTransport(Transport):
    """`exec:` with no command: the agent as a child process of this machine."""

    def __init__(self, name: str):
        super().__init__(name, [], shell_command=False)

    def agent_argv(self, bootstrap: str) -> list[str]:
        python = os.environ.get("PYTRACE_REMOTE_PYTHON") or sys.executable
        return [python, "-S", "-c", bootstrap]


def ssh_transport(spec: str) -> Transport:
    rest = spec[len("ssh://"):].rstrip("/")
    port = None
    host = rest
    if rest.rsplit("@", 1)[-1].count(":") == 1:
        host, port = rest.rsplit(":", 1)
        if not port.isdigit():
            raise PytraceError(f"--target {spec}: the port must be a number")
    if not host or host.endswith("@"):
        raise PytraceError(f"--target {spec}: no host (use ssh://[user@]host[:port])")
    try:
        extra = shlex.split(os.environ.get("PYTRACE_SSH_OPTS", ""))
    except ValueError as e:
        raise PytraceError(f"PYTRACE_SSH_OPTS: {e}") from None
    # BatchMode: a password or host-key prompt fails at once with ssh's own
    # words instead of waiting for a terminal that is not there. ssh keeps the
    # first value it is given, so the user's options come first and win.
    argv = ["ssh", "-T", "-e", "none", *extra, "-o", "BatchMode=yes"]
    if port:
        argv += ["-p", port]
    argv += [host, "--"]
    return Transport(spec, argv, shell_command=True)


def adb_transport(spec: str) -> Transport:
    serial = spec[len("adb:"):] if spec.startswith("adb:") else ""
    base = ["adb"] + (["-s", serial] if serial else [])
    try:
        done = subprocess.run(base + ["shell", "id -u"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=handshake_timeout())
    except FileNotFoundError:
        raise PytraceError(f"--target {spec}: adb is not installed (not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise PytraceError(f"--target {spec}: adb did not answer within "
                           f"{handshake_timeout():g} s") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise PytraceError(f"--target {spec}: adb shell failed: "
                           f"{why[-1] if why else 'exit status %d' % done.returncode}")
    root = done.stdout.decode("utf-8", "replace").strip() == "0"
    return AdbTransport(spec, base + ["shell"], root)


class AdbTransport(Transport):
    """`adb shell` takes one command line; not root: through `su -c`."""

    def __init__(self, name: str, argv: list[str], root: bool):
        super().__init__(name, argv, shell_command=True)
        self.root = root

    def agent_argv(self, bootstrap: str) -> list[str]:
        (line,) = super().agent_argv(bootstrap)
        return [line] if self.root else [f"su -c {shlex.quote(line)}"]
