"""The agent as shipped: its modules' sources, made Python 3.6-clean, compressed,
behind a one-screen bootstrap that `python3 -c` runs on the target.

Host side only. The agent's modules (AGENT_MODULES) are ordinary pytrace modules,
also used in process by LocalTarget; the target's python3 may be as old as 3.6,
so before shipping their annotations (and `from __future__ import annotations`)
are removed with ast and the source regenerated. The result is cached under the
pytrace cache directory by a hash of the sources, which is also the agent
version the handshake checks.

Bootstrap: `python3 -c BOOTSTRAP` reads a 10-digit length and that many bytes of
zlib-compressed source from stdin, and execs it. The source installs an import
hook serving the bundled modules and calls pytrace.remote.agent.main().
"""

from __future__ import annotations

import ast
import hashlib
import os
import zlib

import pytrace

AGENT_MODULES = (
    "pytrace.kernel.errors", "pytrace.kernel.files", "pytrace.kernel.bpf",
    "pytrace.kernel.perf", "pytrace.kernel.ringbuf", "pytrace.kernel.process",
    "pytrace.kernel.actions", "pytrace.remote.protocol", "pytrace.remote.agent",
)
PACKAGES = ("pytrace", "pytrace.kernel", "pytrace.remote")

BOOTSTRAP = (
    "import os,sys,zlib\n"
    "if sys.version_info<(3,6):os.write(2,b'pytrace: the agent needs Python 3.6 or later\\n');"
    "os._exit(4)\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c:os._exit(3)\n"
    "  b+=c\n"
    " return b\n"
    "exec(zlib.decompress(r(int(r(10)))))\n"
)

# Runs on the target before the agent: serve the bundled modules to `import`.
_LOADER = '''
import sys
from importlib.machinery import ModuleSpec
class _PytraceAgentModules:
    # A plain meta-path finder and loader: importlib.abc alone costs ~10-50 ms
    # of start-up (it imports importlib.resources and typing).
    def find_spec(self, name, path=None, target=None):
        if name in SOURCES:
            return ModuleSpec(name, self, is_package=name in PACKAGES)
        return None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        if module.__name__ in PACKAGES:
            module.__path__ = []
        exec(compile(SOURCES[module.__name__], "<pytrace agent " + module.__name__ + ">",
                     "exec"), module.__dict__)
sys.meta_path.insert(0, _PytraceAgentModules())
import pytrace.remote.agent as _agent
_agent.AGENT_VERSION = AGENT_VERSION
_agent.main(CONFIG)
'''


def module_path(name: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(pytrace.__file__)))
    return os.path.join(root, *name.split(".")) + ".py"


def read_sources() -> dict[str, str]:
    sources = {}
    for name in AGENT_MODULES:
        with open(module_path(name), encoding="utf-8") as f:
            sources[name] = f.read()
    return sources


def sources_hash(sources: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in AGENT_MODULES:
        h.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    return h.hexdigest()[:16]


class _StripAnnotations(ast.NodeTransformer):
    """Annotations are the only 3.7+ syntax the agent's modules use. Docstrings
    go too: a smaller bundle compiles faster on the target."""

    def generic_visit(self, node):
        node = super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_ImportFrom(self, node):
        if node.module == "__future__":
            return None
        return node

    def _strip_args(self, args):
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            a.annotation = None
        for a in (args.vararg, args.kwarg):
            if a is not None:
                a.annotation = None

    def visit_FunctionDef(self, node):
        self._strip_args(node.args)
        node.returns = None
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node):
        if node.value is None:
            return ast.Pass()
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def _is_docstring(node) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def py36_source(source: str) -> str:
    tree = _StripAnnotations().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def agent_program(config: dict | None = None, version: str | None = None) -> tuple[bytes, str]:
    """(stdin bytes that follow the bootstrap, the agent version).

    config: the agent's test hooks ({"hide_btf": True}); version: claim another
    version (a test hook for the handshake check)."""
    sources = read_sources()
    digest = sources_hash(sources)
    body = _cached_body(sources, digest)
    claimed = version or digest
    program = (body + "AGENT_VERSION = {!r}\nCONFIG = {!r}\n".format(claimed, dict(config or {}))
               + _LOADER).encode()
    blob = zlib.compress(program, 6)
    return b"%010d" % len(blob) + blob, digest


def _cached_body(sources: dict[str, str], digest: str) -> str:
    path = os.path.join(cache_dir(), "agent", digest + ".py")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    shipped = {name: py36_source(text) for name, text in sources.items()}
    for package in PACKAGES:
        shipped[package] = ""
    body = "SOURCES = {!r}\nPACKAGES = {!r}\n".format(shipped, set(PACKAGES))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = "{}.{}.tmp".format(path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)
    except OSError:
        pass
    return body


def cache_dir() -> str:
    return os.environ.get("PYTRACE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pytrace")
