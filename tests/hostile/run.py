"""Run the pytrace command as a user would, from the repository root."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytrace(*args, timeout=120, env=None, **kwargs) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("PYTRACE_DEBUG", None)
    full_env.update(env or {})
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "pytrace", *args], cwd=ROOT,
                          text=True, timeout=timeout, env=full_env, **kwargs)


def one_error(result, name="stdin") -> str:
    """The error line of a failed run: exit 1, no traceback, no internal error."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, \
        result.stderr
    first = result.stderr.splitlines()[0]
    if name:
        assert first.startswith(name + ":"), result.stderr
    assert "ERROR: " in first, result.stderr
    return first
