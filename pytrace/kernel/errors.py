"""Kernel failures as plain user-facing messages.

Owns the error classes every kernel action raises and the wording that turns an
errno into something a user can act on: which capability is missing, that the
kernel was built without kprobes, which tracepoints exist near a misspelt one.
The functions here take facts as arguments (capability sets, lists of names) so
they stay pure and testable; the callers in pytrace.kernel read the machine.

`PytraceError`, the root of every user-facing error, lives here (and
pytrace.diagnostics re-exports it) because this module runs inside the remote
agent too, which imports nothing of pytrace outside its own modules.
"""

from __future__ import annotations

import errno
import os


class PytraceError(Exception):
    """A user-facing error; `span` points into the program when it has a place."""

    severity = "ERROR"
    # Whether what the machine lacks may be the cause (a tool's `Needs:` note
    # is added then); a lost connection to a target is not such an error.
    may_be_what_the_machine_lacks = True

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.message = message
        self.span = span

    def render(self, source=None) -> str:
        return render_diagnostic(self.severity, self.message, self.span, source)


def render_diagnostic(severity: str, message: str, span, source) -> str:
    """bpftrace's shape: `FILE:L:C1-C2: ERROR: msg`, the line, then `~` under the span.

    Tabs in the echoed line are expanded to 4 spaces, as bpftrace does, and the
    marker is shifted to match. A span over several lines prints only
    `FILE:L1-L2: ERROR: msg`.
    """
    if span is None or source is None:
        return f"{severity}: {message}"
    if span.end_line != span.line:
        return f"{source.name}:{span.line}-{span.end_line}: {severity}: {message}"
    raw = source.line_text(span.line)
    end_col = max(span.end_col, span.col)
    header = f"{source.name}:{span.line}:{span.col}-{end_col}: {severity}: {message}"
    shown = raw.replace("\t", "    ")
    # Recompute columns after tab expansion so the marker sits under the span.
    prefix = raw[: span.col - 1].replace("\t", "    ")
    body = raw[span.col - 1: end_col - 1].replace("\t", "    ")
    marker = " " * len(prefix) + "~" * len(body)
    return f"{header}\n{shown}\n{marker}"


# Linux-internal code that bpf(2) lets escape for "operation not supported".
ENOTSUPP = 524

CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
CAP_NAMES = {CAP_SYS_ADMIN: "CAP_SYS_ADMIN", CAP_PERFMON: "CAP_PERFMON", CAP_BPF: "CAP_BPF"}


class KernelError(PytraceError):
    """A kernel action failed; `errno` is the raw code (0 when not from a syscall)."""

    def __init__(self, message: str, err: int = 0):
        super().__init__(message)
        self.errno = err


class MapError(KernelError):
    pass


class ProgLoadError(KernelError):
    """The kernel refused a program; `log` is the verifier's text (may be empty)."""

    def __init__(self, message: str, err: int = 0, log: str = ""):
        super().__init__(message, err)
        self.log = log


class AttachError(KernelError):
    pass


class LoadStepError(KernelError):
    """Target.load_all failed at one step: `kind` ("map" or "prog"), its `index`
    in the request, and the `cause` (a KernelError) the kernel gave."""

    def __init__(self, kind: str, index: int, cause: KernelError):
        super().__init__(cause.message, cause.errno)
        self.kind = kind
        self.index = index
        self.cause = cause


class KernelPermissionError(KernelError):
    """EPERM/EACCES: a capability is missing or the kernel forbids the action."""


class ProgPermissionError(ProgLoadError, KernelPermissionError):
    """A program refused for privilege reasons (never a verifier verdict)."""


def errno_text(err: int) -> str:
    if err == ENOTSUPP:
        return "operation not supported by this kernel"
    return os.strerror(err).lower() if err else "unknown error"


def effective_capabilities(status_text: str) -> int:
    """The CapEff bitmask from the text of /proc/self/status."""
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def own_capabilities() -> int:
    try:
        with open("/proc/self/status") as f:
            return effective_capabilities(f.read())
    except OSError:
        return 0


def own_cap_last_cap() -> int:
    """The highest capability this kernel knows (CAP_BPF and CAP_PERFMON exist
    from 5.8 on); CAP_BPF when it cannot be read."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return CAP_BPF


def missing_capability(needed: tuple[int, ...], caps: int) -> str | None:
    """Name the capabilities missing from `caps`, or None if all are held.

    CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (pre-5.8 kernels and
    the kernel's own fallback), so holding it satisfies everything.
    """
    if caps & (1 << CAP_SYS_ADMIN):
        return None
    missing = [CAP_NAMES[c] for c in needed if not caps & (1 << c)]
    if not missing:
        return None
    return " and ".join(missing) + " (or CAP_SYS_ADMIN)"


def privileges_error(caps: int, cap_last_cap: int) -> KernelPermissionError | None:
    """The error to raise before tracing without the privileges it needs."""
    missing = tracing_privileges_missing(caps, cap_last_cap)
    return KernelPermissionError(missing, errno.EPERM) if missing else None


def tracing_privileges_missing(caps: int, cap_last_cap: int) -> str | None:
    """What a process holding `caps` lacks to trace, as one line; None if nothing.

    Loading tracing programs and opening perf events needs CAP_SYS_ADMIN, or
    CAP_BPF with CAP_PERFMON on kernels that have them (5.8+, where the highest
    capability number, /proc/sys/kernel/cap_last_cap, reaches CAP_BPF).
    """
    if caps & (1 << CAP_SYS_ADMIN):
        return None
    if cap_last_cap >= CAP_BPF:
        if caps & (1 << CAP_BPF) and caps & (1 << CAP_PERFMON):
            return None
        return ("pytrace needs root privileges, or the capabilities CAP_BPF and "
                "CAP_PERFMON; run it as root (e.g. with sudo)")
    return "pytrace needs root privileges (CAP_SYS_ADMIN); run it as root (e.g. with sudo)"


def permission_error(action: str, needed: tuple[int, ...], err: int,
                     caps: int | None = None, tracing: bool = False) -> KernelError:
    """The error for EPERM/EACCES on `action`, naming what is missing.

    When every capability is held the kernel itself is refusing: for tracing
    programs (fentry/fexit) that is a kernel policy (lockdown, a missing
    BPF trampoline, an LSM), and the message says so instead of blaming the user.
    """
    caps = own_capabilities() if caps is None else caps
    missing = missing_capability(needed, caps)
    if missing:
        return KernelPermissionError(f"{action}: permission denied: {missing} is needed", err)
    if tracing:
        return KernelPermissionError(
            f"{action}: this kernel refuses fentry/fexit (tracing) programs "
            f"even with full privileges ({errno_text(err)})", err)
    return KernelPermissionError(
        f"{action}: the kernel refused it although all capabilities are held "
        f"({errno_text(err)}; kernel lockdown or a security module may forbid it)", err)


def kprobes_unavailable(func: str) -> AttachError:
    return AttachError(
        f"cannot attach kprobe to {func}: this kernel has no kprobes "
        f"(CONFIG_KPROBES is not enabled)", errno.EOPNOTSUPP)


def closest_names(wanted: str, names: list[str], n: int = 3) -> list[str]:
    import difflib  # only for error messages: keep it off the start-up path
    return difflib.get_close_matches(wanted, names, n=n, cutoff=0.6)


def unknown_tracepoint(category: str, event: str, events_in_category: list[str] | None,
                       all_tracepoints: list[str]) -> AttachError:
    """Unknown tracepoint, naming the closest existing ones.

    `events_in_category` is None when the category itself does not exist; then
    the suggestions come from every `category:event` on the machine.
    """
    name = f"{category}:{event}"
    if events_in_category is not None:
        # The category exists: only its events are candidates (against every
        # name, its own `category:` prefix alone made poor guesses look close).
        near = [f"{category}:{e}" for e in closest_names(event, events_in_category)]
    else:
        near = closest_names(name, all_tracepoints)
    message = f"tracepoint not found: {name}"
    if near:
        message += "; did you mean " + ", ".join(near) + "?"
    return AttachError(message, errno.ENOENT)
