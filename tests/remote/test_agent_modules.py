"""The agent's modules stand alone: they import nothing of pytrace but each other,
and the shipped agent runs on an old python3 (3.6) as well as this one."""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
import sys

import pytest

from pytrace.remote import bundle, protocol as P

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT_SIDE = set(bundle.AGENT_MODULES) | set(bundle.PACKAGES)


def pytrace_imports(path: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pytrace"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pytrace"):
            # `from pytrace.kernel import bpf` imports the module pytrace.kernel.bpf.
            for alias in node.names:
                full = node.module + "." + alias.name
                found.add(full if full in AGENT_SIDE or not _is_module(node.module)
                          else node.module)
    return found


def _is_module(name: str) -> bool:
    return os.path.exists(os.path.join(ROOT, *name.split(".")) + ".py")


@pytest.mark.parametrize("module", bundle.AGENT_MODULES)
def test_agent_module_imports_only_agent_modules(module):
    outside = pytrace_imports(bundle.module_path(module)) - AGENT_SIDE
    assert not outside, f"{module} imports {sorted(outside)}"


def test_agent_modules_load_with_the_rest_of_pytrace_refused():
    """Import them in a fresh interpreter where any other pytrace module fails."""
    script = f"""
import sys, importlib.abc
ALLOWED = {sorted(AGENT_SIDE)!r}
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pytrace" and name not in ALLOWED:
            raise ImportError("agent imported " + name)
sys.meta_path.insert(0, Refuse())
for name in {list(bundle.AGENT_MODULES)!r}:
    __import__(name)
print("ok", sorted(m for m in sys.modules if m.startswith("pytrace")))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout.split("ok ", 1)[1]))
    assert loaded <= AGENT_SIDE


def test_shipped_source_uses_no_syntax_newer_than_3_6():
    """What ships has no annotations, walrus, positional-only parameters or
    f-string `=` (those would fail on 3.6 before the agent says a word)."""
    body = bundle._cached_body(bundle.read_sources(), "test-" + os.urandom(4).hex())
    namespace: dict = {}
    exec(body, namespace)   # SOURCES = {...}: plain data
    for name, source in namespace["SOURCES"].items():
        assert "from __future__" not in source, name
        for node in ast.walk(ast.parse(source)):
            assert not isinstance(node, (ast.NamedExpr, ast.AnnAssign)), (name, node)
            if isinstance(node, ast.arguments):
                assert not node.posonlyargs, name
                assert all(a.annotation is None for a in node.args + node.kwonlyargs), name
            if isinstance(node, ast.FunctionDef):
                assert node.returns is None, name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "breakpoint", name


def _old_pythons() -> list[str]:
    found = [shutil.which(f"python3.{minor}") for minor in (6, 7)]
    found += glob.glob(os.path.expanduser("~/.pyenv/versions/3.[67]*/bin/python3.[67]"))
    # pyenv's shims only point at the versions above.
    return sorted({os.path.realpath(p) for p in found if p and "/shims/" not in p})


@pytest.mark.kernel
@pytest.mark.parametrize("python", _old_pythons() or [None])
def test_the_agent_runs_on_an_old_python(python):
    if python is None:
        pytest.skip("no python3.6/3.7 on this machine (the syntax test above still runs)")
    program, version = bundle.agent_program()
    agent = subprocess.Popen([python, "-c", bundle.BOOTSTRAP], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    agent.stdin.write(program)
    agent.stdin.write(P.frame(P.CALL, P.encode(
        {"id": 1, "calls": [["read_file", ["/proc/self/comm"], {}, None]]})))
    agent.stdin.close()
    out = agent.stdout.read()
    assert agent.wait(timeout=30) == 0, agent.stderr.read()
    reader = P.FrameReader()
    reader.feed(out)
    (hello_kind, hello), (reply_kind, reply) = reader.frames()
    hello = P.decode(hello)
    assert hello_kind == P.HELLO and hello["agent"] == version
    assert hello["python"].startswith(os.path.basename(python)[len("python"):])
    assert P.decode(reply)["results"] == [{"data": os.path.basename(python).encode() + b"\n"}]


@pytest.mark.kernel
@pytest.mark.parametrize("python", _old_pythons() or [None])
def test_a_whole_trace_runs_through_an_old_python_agent(python):
    if python is None:
        pytest.skip("no python3.6/3.7 on this machine")
    env = dict(os.environ, PYTRACE_REMOTE_PYTHON=python)
    done = subprocess.run(
        [sys.executable, "-m", "pytrace", "--target", "exec:", "-e",
         'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n = count(); '
         'printf("%s\\n", comm); }', "-c", "/bin/sh -c 'cat /proc/self/stat > /dev/null'"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Attaching 1 probe...\n")
    assert "\n@n: " in done.stdout


def test_a_python_older_than_3_6_is_one_line():
    old = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.*/bin/python2.?")))
    if not old and not shutil.which("python2"):
        pytest.skip("no Python 2 on this machine")
    env = dict(os.environ, PYTRACE_REMOTE_PYTHON=old[0] if old else shutil.which("python2"))
    done = subprocess.run([sys.executable, "-m", "pytrace", "--target", "exec:", "-e",
                           "BEGIN { exit(); }"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("ERROR: --target exec:: the agent did not start: "
                           "pytrace: the agent needs Python 3.6 or later\n")
