"""The import layering, checked statically: every `import` of every module under
pytrace/, those inside functions included, read with `ast`.

Layers, lowest first. A module may import its own layer and the layers below it:

  kernel     pytrace.kernel.* (and the bare `pytrace` package, which only holds the version)
  target     pytrace.target.*, pytrace.remote.* (side by side: the remote target drives
             the agent). Which kernel modules the agent may import is checked by
             tests/remote/test_agent_modules.py, not here.
  contracts  the values stages hand each other: types, diagnostics, ast, resources,
             settings
  parse      parser, lexer, ast_builder, preprocessor, parse_tables, attach_points,
             c_definitions, ast_dump, nesting, pytrace.grammar
  providers  pytrace.probes.* (a provider holds a probe type's facts and kernel actions:
             expansion over the target's facts, argument types, attach; it imports no
             stage) and the builtin registry, pytrace.builtins (the package itself)
  stages     passes, codegen, runtime, output: siblings that import none of each other,
             talking only through contracts, providers and the builtin registry; the one
             arrow between them is runtime -> output (the runtime hands decoded values to
             the formatters)
  records    the builtin records, pytrace.builtins.<name>: a record spans the stages (its
             checks, types, code and the handlers of its events), so it sits above
             them; stages find records only through the registry, which loads them
             by package scan
  drivers    compiler, session, cli, cli_options, info, tools, __main__, pytrace.listing.*:
             they wire the stages together

Imports under `if TYPE_CHECKING:` are annotations only and do not count (codegen is
handed the passes' CompileState but imports nothing of passes). The registries load
builtin records and providers with importlib, which is not an import statement: the
one arrow upwards, on purpose. No module imports itself through others, inside a
package either.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "pytrace")

LAYERS = ["kernel", "target", "contracts", "parse", "providers", "stages", "records",
          "drivers"]
STAGES = ["passes", "codegen", "runtime", "output"]
# Between sibling stages, the only allowed arrows.
STAGE_ARROWS = {("runtime", "output")}

_TOP = {
    "pytrace": "kernel",
    "types": "contracts", "diagnostics": "contracts", "ast": "contracts",
    "resources": "contracts", "settings": "contracts",
    "parser": "parse", "lexer": "parse", "ast_builder": "parse", "preprocessor": "parse",
    "parse_tables": "parse", "attach_points": "parse", "c_definitions": "parse",
    "ast_dump": "parse", "grammar": "parse", "nesting": "parse",
    "compiler": "drivers", "session": "drivers", "cli": "drivers", "cli_options": "drivers",
    "info": "drivers", "tools": "drivers", "__main__": "drivers", "listing": "drivers",
    "kernel": "kernel", "target": "target", "remote": "target", "probes": "providers",
}


def place(module: str) -> tuple[str, str]:
    """(layer, group) of a module: the group tells sibling stages apart."""
    parts = module.split(".")
    first = parts[1] if len(parts) > 1 else "pytrace"
    if first in STAGES:
        return "stages", first
    if first == "builtins":
        return ("providers", "builtins") if len(parts) == 2 else ("records", "builtins")
    if first not in _TOP:
        raise AssertionError(f"{module} is in no layer: add it to tests/test_layering.py")
    return _TOP[first], first


def all_modules() -> dict[str, str]:
    found = {}
    for directory, _dirs, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[module.removesuffix(".__init__")] = path
    return found


MODULES = all_modules()


def _existing(name: str) -> str:
    """The module an import name refers to: the longest prefix that is a module."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _type_checking_only(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    skip = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {_existing(a.name) for a in node.names if a.name.split(".")[0] == "pytrace"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "pytrace":
                continue
            for alias in node.names:   # `from pytrace.codegen import maps` imports a module
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else _existing(base))
    return found - {module}


def violation(importer: str, imported: str) -> str | None:
    (layer, group), (their_layer, their_group) = place(importer), place(imported)
    if LAYERS.index(their_layer) > LAYERS.index(layer):
        return f"{importer} ({layer}) imports {imported} ({their_layer}, a higher layer)"
    if layer == their_layer == "stages" and group != their_group \
            and (group, their_group) not in STAGE_ARROWS:
        return f"{importer} ({group}) imports {imported} ({their_group}, a sibling stage)"
    return None


def test_every_module_has_a_layer():
    for module in MODULES:
        place(module)


def test_imports_point_down():
    found = sorted(filter(None, (violation(m, i) for m in MODULES for i in imports_of(m))))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("importer, imported, allowed", [
    ("pytrace.passes.collect", "pytrace.codegen.maps", False),
    ("pytrace.codegen.function", "pytrace.passes.state", False),
    ("pytrace.codegen.events", "pytrace.runtime.loop", False),
    ("pytrace.kernel.btf", "pytrace.types", False),
    ("pytrace.runtime.symbols", "pytrace.builtins.stacks", False),
    ("pytrace.output.text", "pytrace.runtime.maps", False),
    ("pytrace.runtime.decode", "pytrace.output.values", True),
    ("pytrace.passes.typecheck", "pytrace.builtins", True),
    ("pytrace.builtins.strings", "pytrace.codegen.function", True),
    ("pytrace.codegen.records", "pytrace.probes.tracepoint_format", True),
    ("pytrace.target.remote", "pytrace.remote.protocol", True),
])
def test_the_rule_itself(importer, imported, allowed):
    """The check refuses what the layering forbids (so the test above can fail)."""
    assert (violation(importer, imported) is None) == allowed


def test_imports_inside_functions_are_seen():
    # runtime/symbols.py reads kallsyms only when a kernel address is printed.
    assert "pytrace.kernel.kallsyms" in imports_of("pytrace.runtime.symbols")



def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, path + [module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycles():
    """Not even inside a package, where the layers allow any arrow: a cycle there
    hides behind an import inside a function."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    cycle = find_cycle({m: imports_of(m) for m in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
