"""A non-editable install must carry every subpackage and the grammar."""

import os

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_subpackage_is_listed_for_the_wheel():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "pytrace")):
        if "__init__.py" in files and "__pycache__" not in dirpath:
            found.add(os.path.relpath(dirpath, ROOT).replace(os.sep, "."))
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_grammar_ships_as_package_data():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        tool = tomllib.load(f)["tool"]["setuptools"]
    assert tool["package-dir"]["pytrace.grammar"] == "grammar"
    assert "*.lark" in tool["package-data"]["pytrace.grammar"]
    assert os.path.exists(os.path.join(ROOT, "grammar", "pytrace.lark"))
