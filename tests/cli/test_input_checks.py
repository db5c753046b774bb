"""Bad command lines get one line in bpftrace's words and exit 1: a `-p` that is
not a pid, a script that does not exist, an unknown flag, a flag without its
value. An empty program is refused rather than attached and waited on."""

from __future__ import annotations

import pytest

from pytrace.cli_options import Options, parse_options
from tests.cli.command import pytrace

BEGIN = "BEGIN { exit(); }"

# What bpftrace 0.17 prints for the same command line (its first line, without
# its "bpftrace: " prefix), which pytrace's one line must contain.
CASES = [
    (["-p", "abc", "-e", BEGIN], "ERROR: pid 'abc' is not a valid decimal number"),
    (["-p", "12abc", "-e", BEGIN], "ERROR: pid '12abc' is not a valid decimal number"),
    (["-p", "", "-e", BEGIN], "ERROR: pid '' is not a valid decimal number"),
    (["-p", "0", "-e", BEGIN], "ERROR: pid '0' out of valid pid range [1,4194304]"),
    (["-p", "-1", "-e", BEGIN], "ERROR: pid '-1' out of valid pid range [1,4194304]"),
    (["-p", "4194305", "-e", BEGIN], "ERROR: pid '4194305' out of valid pid range [1,4194304]"),
    (["-p", "99999999999999999999999", "-e", BEGIN],
     "ERROR: pid '99999999999999999999999' out of valid pid range [1,4194304]"),
    (["/nonexistent/script.bt"],
     "ERROR: failed to open file '/nonexistent/script.bt': No such file or directory"),
    (["--bogus"], "unrecognized option '--bogus'"),
    (["-Z", "-e", BEGIN], "invalid option -- 'Z'"),
    (["--unsafe=yes", "-e", BEGIN], "option '--unsafe' doesn't allow an argument"),
    (["-e"], "option requires an argument -- 'e'"),
    (["-e", BEGIN, "-p"], "option requires an argument -- 'p'"),
    (["-e", BEGIN, "-o"], "option requires an argument -- 'o'"),
    (["-e", BEGIN, "-c"], "option requires an argument -- 'c'"),
    (["-e", BEGIN, "-B"], "option requires an argument -- 'B'"),
    (["-e", BEGIN, "-f"], "option requires an argument -- 'f'"),
    (["-e", BEGIN, "--target"], "option '--target' requires an argument"),
    (["-B", "sometimes", "-e", BEGIN], "-B must be either 'line', 'full', or 'none'"),
    (["-f", "xml", "-e", BEGIN], 'Invalid output format "xml"'),
]


@pytest.mark.parametrize("argv,words", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_command_line_is_one_line_and_exit_1(argv, words):
    done = pytrace(*argv)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("ERROR: ")
    assert words.removeprefix("ERROR: ") in done.stderr
    assert "usage:" not in done.stderr and "Traceback" not in done.stderr


def test_unknown_flag_points_at_help():
    assert pytrace("--bogus").stderr == \
        "ERROR: unrecognized option '--bogus' (see pytrace --help)\n"


def test_a_flag_without_a_program_asks_for_one():
    done = pytrace("-q")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "ERROR: filename or -e 'program' required (see pytrace --help)\n"


def test_a_directory_is_not_a_script(tmp_path):
    done = pytrace(str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == f"ERROR: failed to open file '{tmp_path}': Is a directory\n"


# ---- how flags are read: GNU getopt, as bpftrace reads them -------------------------

def test_short_flags_bundle_and_values_glue_on():
    opts = parse_options(["-lvkk", "-p123", "-dir", "-e", "-x"])
    assert (opts.listing, opts.verbose, opts.helper_errors) == (True, True, 2)
    assert (opts.pid, opts.debug, opts.program) == (123, ["ir"], "-x")


def test_flags_may_follow_positionals_until_a_double_dash():
    opts = parse_options(["script.bt", "a", "-q", "-5", "--", "-v"])
    assert opts.quiet and not opts.verbose
    assert opts.args == ["script.bt", "a", "-5", "-v"]


def test_long_flags_take_unique_prefixes_and_both_value_spellings():
    assert parse_options(["--unsa"]).unsafe
    assert parse_options(["--target=local"]).target == "local"
    assert parse_options(["--target", "local"]).target == "local"
    assert parse_options(["-"]) == Options(args=["-"])


# ---- an empty program -------------------------------------------------------------

NO_PROBES = "ERROR: the program has no probes: expecting one such as 'BEGIN { ... }'"


@pytest.mark.parametrize("text", ["", "   \n\t", "// only a comment\n/* and another */\n",
                                  "#!/usr/bin/env pytrace\n"])
@pytest.mark.parametrize("how", ["-e", "file", "stdin"])
def test_empty_program_is_refused_not_attached_and_waited_on(tmp_path, text, how):
    if how == "-e":
        done = pytrace("-e", text, timeout=30)
        name = "stdin"
    elif how == "stdin":
        done = pytrace("-", stdin=text, timeout=30)
        name = "stdin"
    else:
        path = tmp_path / "empty.bt"
        path.write_text(text)
        done = pytrace(str(path), timeout=30)
        name = str(path)
    assert done.returncode == 1
    assert done.stdout == ""   # no "Attaching 0 probes", no "No probes to attach"
    first = done.stderr.splitlines()[0]
    if text.strip():
        assert first.startswith(f"{name}:1") and first.endswith(NO_PROBES.removeprefix(
            "ERROR: ")), done.stderr
    else:
        assert done.stderr == NO_PROBES + "\n"


def test_empty_program_is_refused_in_a_dry_run_too():
    done = pytrace("-d", "ast", "-e", "")
    assert (done.returncode, done.stderr) == (1, NO_PROBES + "\n")


def test_definitions_without_a_probe_are_refused():
    done = pytrace("-d", "ast", "-e", "struct task { int pid; };")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "stdin:1:1-26: " + NO_PROBES)
