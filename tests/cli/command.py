"""Running `python3 -m pytrace` as a user would, from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pytrace(*args: str, stdin: str | None = None, timeout: float = 60,
            **kwargs) -> subprocess.CompletedProcess:
    """The finished command; a hang fails the test through the timeout."""
    kwargs.setdefault("cwd", REPO)
    return subprocess.run([sys.executable, "-m", "pytrace", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, **kwargs)
