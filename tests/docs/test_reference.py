"""docs/reference.md covers everything the code registers, and its examples compile.

The lists come from the code: the probe providers pytrace.probes finds, the
builtin variables and functions pytrace.builtins registers, the operators of the
grammar. A new probe type, builtin or function without an entry fails here. Every
example program in the reference is compiled (parsed, checked, lowered to BPF,
nothing loaded), so an example the language no longer accepts fails too.
"""

from __future__ import annotations

import os
import re
import shlex

import pytest

from pytrace import builtins
from pytrace.diagnostics import PytraceError, Source
from pytrace.parser import parse
from pytrace.probes import all_providers
from pytrace.cli_options import LONG, SHORT_FLAGS, SHORT_VALUES
from pytrace.session import Session
from tests.cli.test_docs import variables_the_code_reads
from tests.docs.markdown import code_blocks, code_spans, page, section, table_rows

REFERENCE = page("reference.md")
COMMAND_LINE = section(REFERENCE, "## Command line")
OPTION_EXAMPLES, ENVIRONMENT_EXAMPLES = code_blocks(COMMAND_LINE, "sh")[:2]
PROBES = section(REFERENCE, "## Probes")
OPERATORS = section(REFERENCE, "### Operators")
VARIABLES = section(REFERENCE, "### Builtin variables")
FUNCTIONS = section(REFERENCE, "### Functions")
GRAMMAR = (page("../grammar/pytrace.lark"))


def documented_names(text: str) -> set[str]:
    """The names a table's first column documents: `count()`, `min(n)` and
    `kstack(mode, N)` all document the name before the parenthesis."""
    names = set()
    for row in table_rows(text):
        for span in code_spans(row[0]):
            names.add(span if span.startswith("(") else re.match(r"[^(\s]+", span).group())
    return names


def table_examples(text: str) -> list[str]:
    """The example programs: the first code span of each row's last column."""
    return [code_spans(row[-1])[0] for row in table_rows(text)]


PROBE_EXAMPLES = code_blocks(PROBES)[0].splitlines()
EXAMPLES = (PROBE_EXAMPLES + table_examples(OPERATORS) + table_examples(VARIABLES)
            + table_examples(FUNCTIONS))


def providers() -> list[object]:
    return all_providers()


def grammar_operators() -> set[str]:
    """Operator tokens of the expression rules: the quoted punctuation from
    `assign_op` to the end of `?primary` (brackets and commas are syntax, `$#` a
    builtin)."""
    rules = GRAMMAR[GRAMMAR.index("assign_op:"):GRAMMAR.index("\nmap:")]
    tokens = set(re.findall(r'"([^\w\s"]+)"', rules))
    return tokens - {"(", ")", "[", "]", ",", "$#"}


@pytest.mark.parametrize("provider", providers(), ids=lambda p: p.name)
def test_every_probe_type_and_its_aliases_are_in_the_probe_table(provider):
    names = documented_names(PROBES)
    for name in (provider.name, *provider.aliases):
        assert name in names, f"docs/reference.md's probe table lacks `{name}`"


@pytest.mark.parametrize("provider", providers(), ids=lambda p: p.name)
def test_every_probe_type_has_an_example_program(provider):
    used = {point.provider for line in PROBE_EXAMPLES
            for probe in parse(Source(line)).probes for point in probe.attach_points}
    assert provider.name in used, f"no example line for {provider.name} under ## Probes"


def canonical(name: str) -> str:
    """arg0..arg15 are documented once as `arg0` ... `argN` (so sarg0..)."""
    return re.sub(r"^(s?arg)\d+$", r"\1N", name)


@pytest.mark.parametrize("name", sorted({canonical(n) for n in builtins.names()[0]}))
def test_every_builtin_variable_is_in_the_reference(name):
    assert name in documented_names(VARIABLES), f"### Builtin variables lacks `{name}`"


@pytest.mark.parametrize("name", builtins.names()[1])
def test_every_function_is_in_the_reference(name):
    assert name in documented_names(FUNCTIONS), f"### Functions lacks `{name}`"


def test_the_registries_are_read_at_all():
    # Guards the scans above: they must find what is known to exist.
    variables, functions = builtins.names()
    assert {"pid", "comm", "curtask"} <= set(variables)
    assert {"count", "printf", "bswap"} <= set(functions)
    assert {"tracepoint", "uprobe", "BEGIN"} <= {p.name for p in providers()}
    assert {"+", "->", "<<=", "?"} <= grammar_operators()


@pytest.mark.parametrize("token", sorted(grammar_operators()))
def test_every_operator_of_the_grammar_is_in_the_reference(token):
    assert token in documented_names(OPERATORS) | {"(type)"}, f"### Operators lacks `{token}`"


def test_each_table_row_has_an_example_program():
    for text in (OPERATORS, VARIABLES, FUNCTIONS):
        for row in table_rows(text):
            assert code_spans(row[-1]) and "{" in code_spans(row[-1])[0], row


@pytest.mark.parametrize("program", EXAMPLES)
def test_every_example_program_compiles(program):
    # Parameters for the `$1`/`$#` examples; a -c pid for `cpid` and watchpoints;
    # --unsafe for system(), signal() and override().
    session = Session(program, params=["hello", "2"], unsafe=True)
    try:
        session.compile(cpid=os.getpid())
    except PytraceError as e:
        pytest.fail(e.render(session.program))


@pytest.mark.parametrize("flag", [f"-{c}" for c in {**SHORT_VALUES, **SHORT_FLAGS}]
                         + [f"--{name}" for name in LONG])
def test_every_flag_has_an_example_command(flag):
    assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", OPTION_EXAMPLES), \
        f"no example of {flag} under ## Command line"


@pytest.mark.parametrize("name", sorted(n for n in variables_the_code_reads()
                                        if not n.startswith("PYTRACE_TEST_")))
def test_every_environment_variable_has_an_example_command(name):
    # (PYTRACE_TEST_* are hooks for pytrace's own tests, not for users.)
    assert re.search(rf"^{name}=", ENVIRONMENT_EXAMPLES, re.M), f"no example sets {name}"


def command_programs() -> list[list[str]]:
    """The words of each example command that has an `-e PROGRAM`."""
    commands = [shlex.split(line, comments=True)
                for line in (OPTION_EXAMPLES + ENVIRONMENT_EXAMPLES).splitlines()]
    return [words for words in commands if "-e" in words]


@pytest.mark.parametrize("words", command_programs(), ids=" ".join)
def test_every_example_command_compiles(words):
    program = words[words.index("-e") + 1]
    includes = [words[i + 1] for i, w in enumerate(words) if w == "--include"]
    session = Session(program, include_files=includes, unsafe=True)
    try:
        session.compile(cpid=os.getpid())
    except PytraceError as e:
        pytest.fail(e.render(session.program))
