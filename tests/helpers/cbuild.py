"""Compile small C programs with gcc for tests (uprobe, USDT and symbol targets).

Tests that need a real binary write a few lines of C and call `build_c`; the
result lives in the test's temporary directory, so nothing leaks between runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def require_gcc() -> str:
    """Path of gcc, or skip the calling test when the machine has none."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    return gcc


def require_header(header: str) -> None:
    """Skip unless `#include <header>` compiles (e.g. sys/sdt.h from systemtap-sdt-dev)."""
    gcc = require_gcc()
    probe = subprocess.run([gcc, "-E", "-x", "c", "-"], input=f"#include <{header}>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"<{header}> is not available")


def build_c(source: str, out_dir: Path, name: str = "prog",
            flags: tuple[str, ...] | list[str] = ("-O1", "-g"),
            extra_sources: dict[str, str] | None = None) -> Path:
    """Compile `source` into the executable out_dir/name and return its path.

    `flags` are passed to gcc before the output (add "-no-pie", "-shared
    -fPIC", "-pthread"...). `extra_sources` maps more file names ("b.c") to
    their text, compiled and linked in (e.g. one unit with different #defines).
    A compile error fails the test with gcc's message.
    """
    gcc = require_gcc()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / f"{name}.c"
    src.write_text(source)
    sources = [str(src)]
    for extra_name, extra_text in (extra_sources or {}).items():
        (out_dir / extra_name).write_text(extra_text)
        sources.append(str(out_dir / extra_name))
    exe = out_dir / name
    result = subprocess.run([gcc, *flags, "-o", str(exe), *sources],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"gcc failed for {name}.c:\n{result.stderr}")
    return exe
