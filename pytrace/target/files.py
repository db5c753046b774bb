"""Local file facts: moved to pytrace.kernel.files (it runs inside the remote agent too)."""

from pytrace.kernel.files import LocalFiles, parse_cpu_list  # noqa: F401 - re-exported
