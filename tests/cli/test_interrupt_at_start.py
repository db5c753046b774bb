"""Ctrl-C in the first milliseconds, while the command line's modules are still
importing, ends pytrace as Ctrl-C does later: exit 130, nothing on stderr."""

import subprocess
import sys

# Stands in for a SIGINT that lands while `pytrace.cli` is importing: the
# interpreter raises KeyboardInterrupt right there.
INTERRUPTED_IMPORT = """
import sys
class InterruptCliImport:
    def find_spec(self, name, path=None, target=None):
        if name == "pytrace.cli":
            raise KeyboardInterrupt
sys.meta_path.insert(0, InterruptCliImport())
from pytrace.__main__ import run
raise SystemExit(run())
"""


def test_ctrl_c_while_importing_exits_130_without_a_traceback():
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, "-e", "BEGIN { exit(); }"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert done.stderr == ""
    assert done.stdout == ""
