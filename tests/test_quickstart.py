"""The README's quick start, as a newcomer runs it: its first command from a clean
clone in a fresh virtual environment, and .ci/run running exactly its second."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands(root: str = ROOT) -> list[str]:
    """The shell blocks of the README's Quick start section, in order."""
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_has_an_install_and_run_command_and_a_test_command():
    commands = readme_commands()
    assert len(commands) == 2
    assert "pip install" in commands[0] and "pytrace -e" in commands[0]
    assert "pip install" in commands[1] and "pytest" in commands[1]


def test_ci_runs_exactly_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert lines[-1] == readme_commands()[1]


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.skipif(os.geteuid() != 0, reason="the one-liner traces: needs root")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone")
def test_first_command_works_from_a_clean_clone(tmp_path):
    clone = tmp_path / "pytrace"
    subprocess.run(["git", "clone", "-q", ROOT, str(clone)], check=True, timeout=120)
    command = readme_commands(str(clone))[0]
    # Something to count while the one-liner runs, whatever else the machine does.
    opener = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True:\n"
         "    open('/etc/hostname').close(); time.sleep(0.05)"])
    try:
        done = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True,
                              text=True, timeout=600)
    finally:
        opener.kill()
        opener.wait()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Attaching 2 probes..." in done.stdout
    counts = re.findall(r"^@\[(.+)\]: (\d+)$", done.stdout, re.M)
    assert counts and all(int(n) > 0 for _, n in counts)
    # The install went into the clone's own environment, not the system's.
    assert (clone / ".venv" / "bin" / "pytrace").exists()
