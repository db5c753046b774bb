"""Grammar-aware fuzzing of the whole compiler: no input ends in "internal error",
a traceback or a hang.

Hypothesis builds programs from the language's shapes (probes, predicates,
statements, every operator, calls, casts, tuples, maps, huge literals, deep
chains), then mutates some of them character by character. Each goes through
the CLI in process with `-d ir`, which parses, type-checks and compiles to BPF
without loading; a few BEGIN-only programs really load and run. The outcome
must be exit 0, or exit 1 with one `ERROR:` message. The number of examples
is bounded (PYTRACE_FUZZ_EXAMPLES scales it) so CI stays well under a minute.
"""

import contextlib
import io
import os
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytrace.cli import main

SCALE = int(os.environ.get("PYTRACE_FUZZ_EXAMPLES", "300")) / 300
# A run longer than this is a hang (the slowest honest compile here is ~1 s).
HANG_SECONDS = 30


def examples(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- the language's shapes ----------------------------------------------------------

HUGE = ["18446744073709551616", hex(2 ** 68), "1e30", "9" * 30]


def literal():
    # Mostly ordinary values; about one literal in fifty is past 64 bits.
    return st.one_of(
        # (Hypothesis favours the ends of a range: the huge ones sit in the middle.)
        st.integers(0, 199).map(lambda n: HUGE[n - 100] if 100 <= n < 104 else str(n)),
        st.sampled_from(["0", "1", "1e3", "0777", "1_000", "'a'", "0x10", '"abc"', '""',
                         '"a\\n"', '"%d"', "18446744073709551615"]))


ATOMS = st.sampled_from(["pid", "tid", "uid", "cpu", "comm", "nsecs", "elapsed", "cgroup",
                         "rand", "$x", "$y", "@m", "@h[1]", "@s[comm]", "$1", "$#",
                         "curtask", "probe", "func", "retval", "arg0", "args"])
BINARY = st.sampled_from(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "==", "!=",
                          "<", "<=", ">", ">=", "&&", "||"])
UNARY = st.sampled_from(["-", "!", "~", "*", "&"])
CASTS = st.sampled_from(["(uint8)", "(int16)", "(uint32)", "(int64)", "(uint64)",
                         "(struct task_struct *)", "(int8[4])"])
CALLS = st.sampled_from(["str", "ksym", "usym", "kstack", "ustack", "ntop", "sizeof", "len",
                         "strncmp", "buf", "macaddr", "kptr", "uptr", "cgroupid",
                         "strftime", "reg", "uaddr", "count", "sum", "avg", "min", "max",
                         "hist", "lhist", "stats"])


def expressions():
    def extend(inner):
        return st.one_of(
            st.tuples(inner, BINARY, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(UNARY, inner).map(lambda t: f"{t[0]}{t[1]}"),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
            st.tuples(CASTS, inner).map(lambda t: f"{t[0]}{t[1]}"),
            st.tuples(CALLS, st.lists(inner, max_size=4)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: f"({', '.join(xs)})"),
            st.tuples(inner, st.sampled_from([".0", ".1", "->pid", ".comm", "[0]"])).map(
                lambda t: f"({t[0]}){t[1]}"),
            inner.map(lambda e: f"({e})"))
    return st.recursive(st.one_of(ATOMS, literal()), extend, max_leaves=12)


def statements():
    expr = expressions()
    simple = st.one_of(
        st.tuples(st.sampled_from(["@m", "@h[1]", "@s[comm]", "$x", "$y", "@t[pid, comm]"]),
                  st.sampled_from(["=", "+=", "-=", "<<=", "|="]), expr).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["@c", "@c[comm]"]),
                  st.sampled_from(["count()", "sum(pid)", "avg(1)", "min(2)", "max(3)",
                                   "stats(4)", "hist(5)", "lhist(6, 0, 100, 10)"])).map(
            lambda t: f"{t[0]} = {t[1]}"),
        st.tuples(st.sampled_from(['"%d\\n"', '"%s %d\\n"', '"%x %u %c\\n"', '"%-5d|%5s\\n"',
                                   '"%999999999d"']), st.lists(expr, max_size=2)).map(
            lambda t: f"printf({', '.join([t[0], *t[1]])})"),
        st.sampled_from(["exit()", "clear(@m)", "delete(@h[1])", "print(@m)", "zero(@c)",
                         "$x++", "@m--", "return", "break", "continue"]),
        expr)

    def extend(inner):
        block = st.lists(inner, max_size=3).map(lambda ss: "{ " + "; ".join(ss) + " }")
        return st.one_of(
            st.tuples(expr, block).map(lambda t: f"if ({t[0]}) {t[1]}"),
            st.tuples(expr, block, block).map(lambda t: f"if ({t[0]}) {t[1]} else {t[2]}"),
            st.tuples(st.integers(0, 30), block).map(lambda t: f"unroll({t[0]}) {t[1]}"),
            st.tuples(expr, block).map(lambda t: f"while ({t[0]}) {t[1]}"))
    return st.recursive(simple, extend, max_leaves=6)


GOOD_PROBES = [
    "BEGIN", "END", "interval:s:1", "profile:hz:99", "tracepoint:syscalls:sys_enter_openat",
    "tracepoint:sched:sched_switch", "rawtracepoint:sched_switch", "kprobe:vfs_read",
    "kretprobe:vfs_read", "software:page-faults:1", "kfunc:vfs_read",
    "t:syscalls:sys_exit_read"]
BAD_PROBES = [
    "interval:ms:0", "profile:hz:1e30", "tracepoint:nope:nope",
    "kprobe:vfs_read+99999999999999999999999", "software:cpu-clock:18446744073709551616",
    "hardware:cycles:0", "uprobe:/bin/sh:nope"]
# About one probe in fifteen is out of range or missing.
PROBES = st.integers(0, 15 * len(BAD_PROBES) - 1).map(
    lambda n: BAD_PROBES[n - 20] if 20 <= n < 20 + len(BAD_PROBES)
    else GOOD_PROBES[n % len(GOOD_PROBES)])


def programs():
    probe = st.tuples(
        st.lists(PROBES, min_size=1, max_size=2).map(", ".join),
        st.one_of(st.none(), expressions()),
        st.lists(statements(), max_size=4))
    return st.lists(probe, min_size=1, max_size=3).map(lambda ps: "\n".join(
        f"{aps} {'/' + pred + '/ ' if pred else ''}{{ {'; '.join(body)} }}"
        for aps, pred, body in ps))


def mutate(program: str, data) -> str:
    chars = list(program)
    tokens = list("{}()[]/;:,.@$*&|!~<>=+-?%\"'\\ \n") + ["0x", "99999999999999999999999",
                                                            "if", "BEGIN", "++", "(1,"]
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(chars)))
        kind = data.draw(st.sampled_from(["drop", "insert", "duplicate"]))
        if kind == "insert" or not chars:
            chars.insert(where, data.draw(st.sampled_from(tokens)))
        elif kind == "drop":
            del chars[min(where, len(chars) - 1)]
        else:
            end = data.draw(st.integers(where, min(len(chars), where + 20)))
            chars[where:where] = chars[where:end]
    return "".join(chars)


# ---- running one -------------------------------------------------------------------

class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Hang:
        pytest.fail(f"pytrace {argv!r} ran longer than {HANG_SECONDS} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


def check_outcome(argv: list[str]) -> tuple[int, str, str]:
    code, out, err = run_cli(argv)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        assert code == 1, (argv, code, err)
        lines = err.splitlines()
        assert any("ERROR: " in line for line in lines[:2]), (argv, err)
    return code, out, err


def compile_only(program: str) -> None:
    check_outcome(["-d", "ir", "-e", program, "arg1"])


# ---- the tests ---------------------------------------------------------------------

@examples(120)
@given(programs())
def test_generated_programs_compile_or_get_one_error(program):
    compile_only(program)


@examples(120)
@given(programs(), st.data())
def test_mutated_programs_compile_or_get_one_error(program, data):
    compile_only(mutate(program, data))


@examples(15)
@given(st.integers(1, 400), st.sampled_from(["+", "&&", "||", "*", "?:", "!", "()", "if"]),
       st.sampled_from(["pid", "1", "@m", "$x", "comm"]))
def test_deep_programs_compile_or_get_one_error(depth, shape, term):
    if shape == "?:":
        expr = f"{term} ? " * depth + "1" + " : 2" * depth
    elif shape == "!":
        expr = "!" * depth + term
    elif shape == "()":
        expr = "(" * depth + term + ")" * depth
    elif shape == "if":
        compile_only("BEGIN { " + f"if ({term}) {{ " * depth + "@r = 1;" + "}" * depth + " }")
        return
    else:
        expr = f" {shape} ".join([term] * (depth + 1))
    compile_only(f"BEGIN {{ $x = 1; @m = 2; @r = {expr}; exit(); }}")


@pytest.mark.kernel
@examples(12)
@given(st.lists(statements(), max_size=4))
def test_begin_programs_really_load_and_run(body):
    # BEGIN runs once in pytrace's own context and the trailing exit() ends it.
    check_outcome(["-q", "-e", "BEGIN { " + "; ".join(body) + "; exit(); }"])
