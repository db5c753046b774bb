"""The stream trace output goes to, turning a refused write into one clean error.

A full disk (`-o /dev/full`), a special file that takes no writes, or a closed
terminal makes `write`/`flush` raise OSError deep inside the event loop; the
user must read one line naming the file, not "internal error". A closed pipe
(`| head`) stays a BrokenPipeError, which the CLI ends quietly.
"""

from __future__ import annotations

import io
import os

from pytrace.diagnostics import PytraceError


class OutputStream:
    """A text stream whose write errors are PytraceErrors naming the file."""

    def __init__(self, stream, name: str):
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise self._failed(e) from None

    def close(self) -> None:
        try:
            self._stream.close()
        except OSError:
            pass  # already reported by the write that failed

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _failed(self, e: OSError) -> PytraceError:
        # What is still buffered can never be written: point the descriptor at
        # /dev/null so the interpreter's own flush at exit does not fail again.
        _point_at_devnull(self._stream)
        return PytraceError(f"Could not write to {self._name}: {e.strerror or e}")


class WholeWrites(io.BufferedWriter):
    """A BufferedWriter whose write() writes everything it is given.

    CPython's returns a short count when a signal interrupts the write(2) of
    a chunk larger than its buffer, and TextIOWrapper ignores the count: a
    Ctrl-C while a slow reader held up stdout lost the rest of that chunk."""

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[super().write(view):]
        return total


def whole_write_text_stream(stream):
    """A text stream on `stream`'s file descriptor, with its encoding, errors
    and line buffering, whose writes are never cut short by a signal; the
    stream itself when it has no descriptor (a test's capture)."""
    try:
        fd = stream.fileno()
        encoding, errors = stream.encoding, stream.errors
    except (AttributeError, OSError, ValueError):
        return stream
    stream.flush()
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(WholeWrites(raw), encoding=encoding, errors=errors,
                            line_buffering=getattr(stream, "line_buffering", False))


def discard_pending(stream) -> None:
    """Make a stream whose reader went away (a closed pipe) droppable without
    another BrokenPipeError: what it still holds goes to /dev/null."""
    if _point_at_devnull(stream):
        try:
            stream.flush()
        except (OSError, PytraceError):
            pass


def _point_at_devnull(stream) -> bool:
    """Point the stream's file descriptor at /dev/null; False if it has none."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        return False
    return True
