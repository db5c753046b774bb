"""A user's mistake or the machine's state gets one clean error, never the CLI's
"internal error" fallback: unwritable output, a bad -c, an absurd printf
width, malformed tuning variables, too many probes."""

import os

import pytest

from tests.hostile.run import one_error, pytrace

PRINT = 'BEGIN { printf("hi\\n"); @ = 1; exit(); }'


@pytest.mark.parametrize("path, reason", [("/dev/full", "No space left on device"),
                                          ("/proc/version", "Input/output error")])
def test_output_file_that_refuses_writes(path, reason):
    result = pytrace("-o", path, "-e", PRINT)
    assert one_error(result, None) == f"ERROR: Could not write to {path}: {reason}"
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("args", [["-e", PRINT], ["-d", "ir", "-e", PRINT]],
                         ids=["trace", "dump"])
def test_standard_output_on_a_full_disk(args):
    with open("/dev/full", "w") as full:
        result = pytrace(*args, stdout=full)
    assert result.returncode == 1
    assert result.stderr == "ERROR: Could not write to standard output: No space left on device\n"


def test_output_to_a_closed_pipe_ends_quietly():
    r, w = os.pipe()
    os.close(r)
    with os.fdopen(w, "w") as closed:
        result = pytrace("-e", 'BEGIN { printf("hi\\n"); exit(); }', stdout=closed)
    assert result.returncode == 0 and result.stderr == ""


def test_command_with_an_unbalanced_quote():
    result = pytrace("-c", 'echo "abc', "-e", "BEGIN { exit(); }")
    assert one_error(result, None) == \
        "ERROR: Failed to run command 'echo \"abc': No closing quotation"


@pytest.mark.parametrize("spec", ["%999999999d", "%.99999999999d", "%-0999999999999x",
                                  "%" + "9" * 5000 + "s"], ids=lambda s: s[:16])
def test_absurd_printf_width_is_a_located_error(spec):
    result = pytrace("-e", f'BEGIN {{ printf("{spec}\\n", 1); exit(); }}')
    first = one_error(result)
    assert first == (f"stdin:1:16-{16 + len(spec) + 4}: ERROR: printf: a field width or "
                     "precision is too large (at most 1000000)")


def test_largest_printf_width_still_prints():
    result = pytrace("-q", "-e", 'BEGIN { printf("%1000000d|\\n", 7); exit(); }')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == " " * 999999 + "7|"


VARIABLES = ["BPFTRACE_MAP_KEYS_MAX", "BPFTRACE_CAT_BYTES_MAX", "BPFTRACE_MAX_PROBES"]


@pytest.mark.parametrize("value", ["abc", "0", "-1", "", "²", "99999999999999999999999"])
@pytest.mark.parametrize("name", VARIABLES)
def test_tuning_variable_that_is_not_a_number(name, value):
    result = pytrace("-e", "BEGIN { @ = 1; exit(); }", env={name: value})
    assert one_error(result, None) == (f"ERROR: Env var '{name}' did not contain a valid "
                                       "uint64_t, or was zero-valued.")


def test_map_size_past_what_bpf_takes():
    result = pytrace("-e", "BEGIN { @[1] = 1; exit(); }",
                     env={"BPFTRACE_MAP_KEYS_MAX": "4294967296"})
    assert one_error(result, None) == (
        "ERROR: 'BPFTRACE_MAP_KEYS_MAX' 4294967296 exceeds the current maximum of "
        "4294967295 (a map's size is a u32)")
    result = pytrace("-e", "config = { max_map_keys = 4294967296 } BEGIN { @[1] = 1; }")
    assert one_error(result) == (
        "stdin:1:27-37: ERROR: 'BPFTRACE_MAP_KEYS_MAX' 4294967296 exceeds the current "
        "maximum of 4294967295 (a map's size is a u32)")


def test_more_probes_than_the_default_limit():
    result = pytrace("-e", "tracepoint:syscalls:sys_enter_* { exit(); } "
                           "tracepoint:syscalls:sys_exit_* { exit(); }")
    first = one_error(result, None)
    count = int(first.split()[4])
    assert count > 512
    assert first == (f"ERROR: Can't attach to {count} probes because it exceeds the current "
                     "limit of 512 probes (raise BPFTRACE_MAX_PROBES with care: many probes "
                     "can make the system crash)")


def test_probe_limit_from_the_environment():
    result = pytrace("-e", "BEGIN { } END { } interval:s:1 { exit(); }",
                     env={"BPFTRACE_MAX_PROBES": "2"})
    assert one_error(result, None).startswith(
        "ERROR: Can't attach to 3 probes because it exceeds the current limit of 2 probes")
    result = pytrace("-q", "-e", "BEGIN { } END { } interval:s:1 { exit(); }",
                     env={"BPFTRACE_MAX_PROBES": "3"})
    assert result.returncode == 0, result.stderr


def test_system_command_too_long_for_the_shell():
    result = pytrace("--unsafe", "-q", "-e",
                     'BEGIN { system("%999999d", 1); printf("after\\n"); exit(); }')
    assert result.returncode == 0, result.stderr
    assert result.stderr == "ERROR: system() could not run the command: Argument list too long\n"
    assert result.stdout.splitlines()[0] == "after"


@pytest.mark.parametrize("probe", ["uprobe:/tmp:foo", "usdt:/tmp:a:b"])
def test_user_probe_on_a_directory(probe):
    first = one_error(pytrace("-e", f"{probe} {{ exit(); }}"))
    assert first == f"stdin:1:1-{len(probe) + 1}: ERROR: {probe}: /tmp: Is a directory"


@pytest.mark.parametrize("flag", ["-l", "-e"])
def test_process_whose_maps_cannot_be_read(flag):
    # Where init's /proc/1/maps is unreadable even to root (a container, ptrace
    # rules), -p 1 must say so; where it is readable there is nothing to check.
    try:
        with open("/proc/1/maps", "rb") as f:
            f.read(1)
        pytest.skip("this machine lets us read init's maps")
    except PermissionError:
        pass
    if flag == "-l":
        result = pytrace("-p", "1", "-l", "uprobe:*")
        assert one_error(result, None) == \
            "ERROR: cannot read the memory maps of process 1: Permission denied"
    else:
        result = pytrace("-p", "1", "-e", "uprobe:libc:malloc { exit(); }")
        assert one_error(result).endswith(
            "ERROR: uprobe:libc:malloc: cannot read the memory maps of process 1: "
            "Permission denied")
