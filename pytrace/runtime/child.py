"""The `-c CMD` child and the `-p PID` process: they live on the target, so the
Target starts and watches them (`Target.start_command`, `Target.watch_process`).
The local classes are in pytrace.kernel.process (the remote agent runs them too)."""

from pytrace.kernel.process import ChildCommand, WatchedProcess  # noqa: F401 - re-exported
