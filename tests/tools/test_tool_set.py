"""The tool set as a whole: every script has its header, compiles and passes the
verifier here, and is reachable by name and as a file."""

import re
import subprocess
import sys

import pytest

from tests.tools.harness import (ROOT, ToolRun, compile_and_load, run_tool, tool_names,
                                 tool_path)

TOOLS = tool_names()


def header(name: str) -> list[str]:
    """The script's leading comment block, without the `// `."""
    lines = []
    with open(tool_path(name), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#!"):
                continue
            if not line.startswith("//"):
                break
            lines.append(line[2:].strip())
    return lines


def needs(name: str) -> str | None:
    """What a tool needs beyond tracepoints (its `Needs:` header line), if anything."""
    for line in header(name):
        if line.startswith("Needs:"):
            return line[len("Needs:"):].strip()
    return None


def test_the_set_is_there():
    assert "opensnoop" in TOOLS
    assert len(TOOLS) >= 1


@pytest.mark.parametrize("name", TOOLS)
def test_header_says_what_how_and_which_probes(name):
    lines = header(name)
    assert lines, f"{name}.bt has no header comment"
    assert re.match(rf"{re.escape(name)} - \S", lines[0]), lines[0]
    text = "\n".join(lines)
    assert f"Usage: pytrace {name}" in text
    assert "Probes:" in text


@pytest.mark.parametrize("name", TOOLS)
def test_compiles_and_passes_the_verifier(name):
    assert compile_and_load(tool_path(name)) >= 1


@pytest.mark.parametrize("name", [n for n in TOOLS if needs(n)])
def test_tools_needing_kprobes_or_fentry_say_so_when_they_cannot_attach(name):
    result = run_tool(name)
    # This machine has neither; on one that has them the tool runs (not tested here).
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip(), result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    wanted = "kprobes" if "kprobe" in needs(name) else "fentry"
    assert wanted in result.stderr
    assert f"{name} needs" in result.stderr


def test_tools_lists_every_tool_with_its_description():
    result = subprocess.run([sys.executable, "-m", "pytrace", "--tools"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    listed = {}
    for line in result.stdout.splitlines():
        name, description = line.split(None, 1)
        listed[name] = description
    assert sorted(listed) == TOOLS
    for name in TOOLS:
        assert listed[name] == header(name)[0].split(" - ", 1)[1]


def test_a_tool_runs_by_name_and_as_a_file(short_tmp):
    target = short_tmp / "by-name-or-file"
    target.write_text("x")
    for how in ("opensnoop", "scripts/opensnoop.bt"):
        with ToolRun(how) as run:
            open(target).close()
        assert str(target) in run.output, (how, run.output)


def test_a_file_of_the_same_name_wins_over_the_tool(tmp_path):
    (tmp_path / "opensnoop").write_text('BEGIN { printf("mine\\n"); exit(); }')
    result = subprocess.run([sys.executable, "-m", "pytrace", "opensnoop"], cwd=tmp_path,
                            capture_output=True, text=True,
                            env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "mine" in result.stdout


def test_an_unknown_name_is_one_clean_error():
    result = run_tool("nosuchtool")
    assert result.returncode == 1
    assert "nosuchtool" in result.stderr
    assert "--tools" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", TOOLS)
def test_each_tool_has_a_page_with_example_output_and_an_index_row(name):
    import os
    page = os.path.join(ROOT, "docs", "tools", f"{name}.md")
    assert os.path.exists(page), f"docs/tools/{name}.md is missing"
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert f"pytrace {name}" in text and "```" in text
    with open(os.path.join(ROOT, "docs", "tools", "README.md"), encoding="utf-8") as f:
        index = f.read()
    row = re.search(rf"^\| \[{name}\]\({name}\.md\) \| (.+?) \| (.+?) \|$", index, re.M)
    assert row, f"docs/tools/README.md has no filled-in row for {name}"
