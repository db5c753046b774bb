"""The standard tool set: the .bt scripts in scripts/, found by name.

`pytrace opensnoop 1234` runs scripts/opensnoop.bt with $1 = 1234 when no file
called `opensnoop` exists; `pytrace --tools` lists them. Each script's first
comment line is `// NAME - one-line description`, which the listing shows.

The scripts ship inside the package as pytrace/scripts (pyproject's
package-dir); in a source checkout they sit beside the package, at the top of
the repository.
"""

from __future__ import annotations

import os
import re

TOOL_SUFFIX = ".bt"
_SUMMARY = re.compile(r"^\s*//\s*(\S+)\s+-\s+(.*\S)\s*$")


def tools_dir() -> str | None:
    """Where the tool scripts are: inside the installed package, else the checkout's."""
    package = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(package, "scripts"),
                      os.path.join(os.path.dirname(package), "scripts")):
        if os.path.isdir(candidate):
            return candidate
    return None


def tool_names() -> list[str]:
    directory = tools_dir()
    if directory is None:
        return []
    return sorted(name[:-len(TOOL_SUFFIX)] for name in os.listdir(directory)
                  if name.endswith(TOOL_SUFFIX))


def find_tool(name: str) -> str | None:
    """The script path for a tool name (`opensnoop` or `opensnoop.bt`), or None."""
    if os.sep in name or not name:
        return None
    if name.endswith(TOOL_SUFFIX):
        name = name[:-len(TOOL_SUFFIX)]
    directory = tools_dir()
    if directory is None:
        return None
    path = os.path.join(directory, name + TOOL_SUFFIX)
    return path if os.path.isfile(path) else None


def tool_summary(path: str) -> str:
    """The one-line description from a script's `// NAME - text` header line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            match = _SUMMARY.match(line)
            if match:
                return match.group(2)
            if line.strip() and not line.lstrip().startswith(("//", "#!")):
                break
    return ""


def needs_note(path: str) -> str | None:
    """For a tool that failed: its header's `// Needs: ...` paragraph as one line
    (`dcsnoop needs kprobes ...`), or None when it needs nothing special."""
    name = os.path.basename(path)[:-len(TOOL_SUFFIX)]
    words: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = line.strip()
            if not text.startswith(("//", "#!")):
                break
            text = text.lstrip("/").strip()
            if text.startswith("Needs:"):
                words = [text[len("Needs:"):].strip()]
            elif words and text:
                words.append(text)
            elif words:
                break
    return f"{name} needs {' '.join(words)}" if words else None


def list_tools(stream) -> int:
    """`pytrace --tools`: every tool with its description, one a line."""
    names = tool_names()
    if not names:
        stream.write("No tools found (the scripts/ directory is missing)\n")
        return 1
    width = max(len(name) for name in names)
    for name in names:
        stream.write(f"{name:<{width}}  {tool_summary(find_tool(name))}\n")
    return 0
