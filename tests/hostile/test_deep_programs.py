"""Long chains and deep nesting compile and run (bpftrace takes 3000 terms); past
pytrace's limit the program gets a located error, never a RecursionError."""

import pytest

from pytrace.nesting import MAX_NESTING
from tests.hostile.run import one_error, pytrace

N = 3000

DEEP = {
    "sum": ("BEGIN { @ = " + " + ".join(["1"] * N) + "; exit(); }", "@: 3000"),
    "and": ("BEGIN /" + " && ".join(["pid"] * N) + "/ { @ = 7; exit(); }", "@: 7"),
    "ternary": ("BEGIN { @ = " + "pid ? " * N + "5" + " : 2" * N + "; exit(); }", "@: 5"),
    "if": ("BEGIN { " + "if (pid) { " * N + "@ = 9; " + "}" * N + " exit(); }", "@: 9"),
    "not": ("BEGIN { @ = " + "!" * N + "0; exit(); }", "@: 0"),
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_program_runs(kind, tmp_path):
    program, expected = DEEP[kind]
    script = tmp_path / "deep.bt"
    script.write_text(program)
    result = pytrace("-q", str(script), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    assert result.stdout.strip() == expected


def test_deep_program_dumps_its_ast():
    result = pytrace("-d", "ast", "-e", DEEP["sum"][0])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count(" +\n") == N - 1


def test_too_deep_is_a_located_error(tmp_path):
    script = tmp_path / "too_deep.bt"
    script.write_text("BEGIN {\n  @ = " + "~" * (MAX_NESTING + 10) + "1;\n}\n")
    result = pytrace(str(script))
    first = one_error(result, str(script))
    assert first.startswith(f"{script}:2:")
    assert first.endswith(f"ERROR: program nested too deeply: more than {MAX_NESTING} "
                          "levels of expressions and blocks")


def test_nested_tuples_compile_in_linear_time():
    # A tuple's layout was recomputed at every use: 20 levels took minutes.
    program = "BEGIN { @ = " + "(1, " * 20 + "2" + ")" * 20 + "; exit(); }"
    result = pytrace("-d", "ir", "-e", program, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.kernel
def test_program_past_the_bpf_stack_is_a_clear_located_error(tmp_path):
    # Each map lookup's key lives until the statement ends: 100 of them are
    # more than the 512 bytes of stack BPF gives a program.
    script = tmp_path / "big.bt"
    script.write_text("BEGIN { @a[0] = 1; @ = " + " + ".join(f"@a[{i}]" for i in range(100))
                      + "; exit(); }")
    first = one_error(pytrace(str(script)), str(script))
    assert first.startswith(f"{script}:1:1-")
    assert "ERROR: The BPF verifier rejected the program for BEGIN: " in first
    assert first.endswith("bytes of stack; BPF allows 512)")


MACROS = ("#define A 1+1+1+1+1+1+1+1\n#define B A+A+A+A+A+A+A+A\n"
          "#define C B+B+B+B+B+B+B+B\n#define D C+C+C+C+C+C+C+C\n")


def test_chain_built_by_macros_runs(tmp_path):
    # A short text whose macros expand to a 512-term chain.
    script = tmp_path / "macros.bt"
    script.write_text(MACROS + "BEGIN { @ = C; exit(); }\n")
    result = pytrace("-q", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "@: 512"


def test_chain_built_by_macros_past_the_limit_is_located(tmp_path):
    script = tmp_path / "macros.bt"
    script.write_text(MACROS + "BEGIN { @ = D+D+D; exit(); }\n")
    first = one_error(pytrace(str(script)), str(script))
    assert first == (f"{script}:5:13-14: ERROR: program nested too deeply: more than "
                     f"{MAX_NESTING} levels of expressions and blocks")
