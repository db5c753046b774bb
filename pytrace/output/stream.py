"""The stream trace output goes to, turning a refused write into one clean error.

A full disk (`-o /dev/full`), a special file that takes no writes, or a closed
terminal makes `write`/`flush` raise OSError deep inside the event loop; the
user must read one line naming the file, not "internal error". A closed pipe
(`| head`) stays a BrokenPipeError, which the CLI ends quietly.
"""

from __future__ import annotations

import os

from pytrace.diagnostics import PytraceError


class OutputStream:
    """A text stream whose write errors are PytraceErrors naming the file."""

    def __init__(self, stream, name: str):
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise self._failed(e) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
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
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):
            pass
        return PytraceError(f"Could not write to {self._name}: {e.strerror or e}")
