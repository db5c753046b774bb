"""Reading a child's first line without losing what follows it.

`Popen.communicate()` reads the pipes' file descriptors directly, so text that
`proc.stdout.readline()` had already pulled into the file object's buffer
(the rest of a chunk the child wrote at once) never reaches its result. A test
that reads one line, signals the child and then communicates must take that
line byte by byte from the descriptor instead.
"""

from __future__ import annotations

import os


def first_line(proc) -> str:
    """The child's stdout up to and including the first newline ("" at EOF),
    read straight from the pipe so nothing after it is held back."""
    fd, data = proc.stdout.fileno(), bytearray()
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data.decode("utf-8", errors="surrogateescape")
