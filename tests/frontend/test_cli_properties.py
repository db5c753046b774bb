"""Whatever text arrives, `pytrace -d ast` ends cleanly: the tree and exit 0, or one error and exit 1.

Hypothesis feeds the CLI (in process) random text, truncated corpus
programs and corpus programs with bytes swapped, dropped or inserted. A
Python traceback, or the CLI's "internal error" fallback, fails the test.
"""

import contextlib
import io
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytrace.cli import main
from tests.corpus.one_liners import ONE_LINERS

SCRIPT_DIR = os.path.join(os.path.dirname(__file__), "..", "corpus", "scripts")
SCRIPTS = []
for name in sorted(os.listdir(SCRIPT_DIR)):
    with open(os.path.join(SCRIPT_DIR, name)) as f:
        SCRIPTS.append(f.read())
PROGRAMS = ONE_LINERS + SCRIPTS

# Characters the language uses, so random text gets past the lexer often.
ALPHABET = st.sampled_from(list("{}()[]/;:,.@$#*&|^!~<>=+-?%'\"\\ \n\t_aAkpr0129x")
                           + ["kprobe:f", "BEGIN", "pid", "if", "else", "while", "struct",
                              "@x", "$y", "//", "/*", "*/", "->", "++", "config", "="])

COMMON = settings(max_examples=int(os.environ.get("PYTRACE_FUZZ_EXAMPLES", "300")), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def run_cli(program: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if program.startswith("-"):
            # `-e -x` reads fine; these go in a script file so that path is
            # fuzzed too.
            path = os.path.join(tmp, "prog.bt")
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(program)
            argv, name = ["-d", "ast", path], path
        else:
            argv, name = ["-d", "ast", "-e", program], "stdin"
        out_buf, err_buf = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out_buf), contextlib.redirect_stderr(err_buf):
            code = main(argv)
    out, err = out_buf.getvalue(), err_buf.getvalue()
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 0:
        assert out.startswith("Program\n") and err == ""
    else:
        assert code == 1
        first = err.splitlines()[0]
        if not program.strip():
            # Nothing to point at: an empty program is refused without a location.
            assert first.startswith("ERROR: the program has no probes"), err
            return
        assert first.startswith(name + ":") and ": ERROR: " in first, err


@COMMON
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_random_text(text):
    run_cli(text)


@COMMON
@given(st.sampled_from(PROGRAMS), st.data())
def test_truncated_programs(program, data):
    cut = data.draw(st.integers(0, len(program)))
    run_cli(program[:cut])


@COMMON
@given(st.sampled_from(PROGRAMS), st.data())
def test_mutated_programs(program, data):
    chars = list(program)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(chars)))
        kind = data.draw(st.sampled_from(["drop", "insert", "replace", "swap"]))
        if kind == "insert" or not chars:
            chars.insert(where, data.draw(ALPHABET))
        elif kind == "drop":
            del chars[min(where, len(chars) - 1)]
        elif kind == "replace":
            chars[min(where, len(chars) - 1)] = data.draw(ALPHABET)
        else:
            a, b = min(where, len(chars) - 1), data.draw(st.integers(0, len(chars) - 1))
            chars[a], chars[b] = chars[b], chars[a]
    run_cli("".join(chars))


@COMMON
@given(st.text(max_size=60))
def test_any_unicode(text):
    run_cli(text)
