"""The documentation names every flag pytrace reads and every environment
variable it looks at: the README's option list, docs/reference.md and --help."""

from __future__ import annotations

import re

import pytest

from pytrace.cli_options import HELP, LONG, SHORT_FLAGS, SHORT_VALUES
from pytrace.preprocessor import HAVE_BTF
from tests.cli.command import REPO

README = (REPO / "README.md").read_text()
REFERENCE = (REPO / "docs" / "reference.md").read_text()
FLAGS = ([f"-{letter}" for letter in {**SHORT_VALUES, **SHORT_FLAGS}]
         + [f"--{name}" for name in LONG])


def variables_the_code_reads() -> set[str]:
    """Names in os.environ.get("X") / os.getenv("X") / os.environ["X"] calls, and
    string literals spelled like pytrace's or bpftrace's variables (a name handed
    to a helper that reads the environment)."""
    names = set()
    for path in (REPO / "pytrace").rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r'os\.(?:environ\.get\(|getenv\(|environ\[)\s*"(\w+)"', text))
        names.update(re.findall(r'"((?:BPFTRACE|PYTRACE)_[A-Z0-9_]+)"', text))
    # A macro the preprocessor defines for scripts, not an environment variable.
    return names - {HAVE_BTF}


def test_the_code_reads_some_variables_at_all():
    # Guards the scan below: it must find the ones known to exist.
    assert {"BPFTRACE_MAP_KEYS_MAX", "PYTRACE_DEBUG"} <= variables_the_code_reads()


@pytest.mark.parametrize("name", sorted(variables_the_code_reads()))
def test_every_environment_variable_is_documented(name):
    assert f"`{name}`" in REFERENCE, f"docs/reference.md does not describe {name}"
    if not name.startswith("PYTRACE_TEST_"):   # hooks for pytrace's own tests
        assert re.search(rf"^    {name}\s", HELP, re.M), f"--help does not list {name}"


@pytest.mark.parametrize("flag", FLAGS)
def test_every_flag_is_in_the_reference_and_the_readme(flag):
    assert re.search(rf"`{re.escape(flag)}[` ]", REFERENCE), f"docs/reference.md: {flag}"
    options = README[README.index("Options follow bpftrace's"):]
    options = options[:options.index("\n\n")]
    assert re.search(rf"`{re.escape(flag)}[` /]", options), f"README's option list: {flag}"
