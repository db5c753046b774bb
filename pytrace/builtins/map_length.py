"""len(@m): how many elements a map holds, counted in the kernel."""

from __future__ import annotations

from pytrace import ast
from pytrace.builtins import function
from pytrace.codegen import callbacks, maps
from pytrace.passes.state import error
from pytrace.types import INT64


def _len_check(checker, call) -> object:
    if len(call.args) != 1:
        raise error(f"len() requires 1 argument ({len(call.args)} provided)", call)
    m = call.args[0]
    if not isinstance(m, ast.Map):
        raise error("len() expects a map argument", call)
    if m.keys:
        raise error("The map passed to len() should not be indexed by a key", m)
    if checker.strict and (m.name not in checker.state.maps or
                           checker.state.maps[m.name].value_type is None):
        raise error(f"Undefined map: {m.name}", m)
    return INT64


def _len(fn, call):
    return callbacks.count_elements(fn, maps.map_index(fn, call.args[0].name))


function("len", check=_len_check, codegen=_len)
