"""Find and end the processes a test helper started, and only those.

Servers such as sshd move each session into its own session (setsid), so
killing the server's process group misses them; walking /proc by parent pid
finds every descendant however it detached.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def parent_pids() -> dict[int, int]:
    """pid -> parent pid for every process visible now."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """All living descendants of pid (children first-found order, pid itself excluded)."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_pids().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def kill_tree(pid: int, grace_s: float = 5.0) -> None:
    """SIGTERM pid and its descendants, then SIGKILL what is still there after grace_s."""
    victims = descendants(pid) + [pid]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for victim in victims:
            try:
                os.kill(victim, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + grace_s
        while time.monotonic() < end and any(alive(v) for v in victims):
            time.sleep(0.05)
        if not any(alive(v) for v in victims):
            return


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the process that started it dies.

    So a qemu or sshd never outlives a pytest run that was itself killed."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
