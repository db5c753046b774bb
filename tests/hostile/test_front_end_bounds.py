"""Sizes, #if arithmetic and --include files the front end must refuse, not mangle."""

import pytest

from tests.hostile.run import one_error, pytrace


@pytest.mark.parametrize("program, words", [
    # An array count past 32 bits (sizeof once printed it truncated).
    ("struct S { int a[99999999999]; }; BEGIN { print(sizeof(struct S)); exit(); }",
     "ERROR: Array of 99999999999 elements is too large"),
    # Each member fits, the struct does not.
    ("struct S { int a[900000000]; int b[900000000]; }; "
     "BEGIN { print(sizeof(struct S)); exit(); }",
     "ERROR: struct S is too large: 7200000000 bytes"),
    ("BEGIN { print(sizeof(uint64[999999999999])); exit(); }",
     "ERROR: Array of 999999999999 elements is too large"),
])
def test_oversized_types_are_located_errors(program, words):
    first = one_error(pytrace("-e", program))
    assert words in first, first


def test_a_large_array_that_fits_still_has_its_size():
    result = pytrace("-e", "struct S { int a[99]; char c; }; "
                           "BEGIN { print(sizeof(struct S)); exit(); }")
    assert result.returncode == 0, result.stderr
    assert "400" in result.stdout.split()


@pytest.mark.parametrize("shift", ["100000000000", "64", "-1"])
def test_an_if_shift_out_of_range_is_a_located_error(tmp_path, shift):
    script = tmp_path / "s.bt"
    script.write_text(f"#if (1 << {shift})\n#endif\nBEGIN {{ exit(); }}\n")
    first = one_error(pytrace(str(script)), name=str(script))
    assert first.startswith(f"{script}:1:"), first
    assert f"shift count {shift} out of range in #if" in first, first


def test_if_arithmetic_wraps_at_64_bits(tmp_path):
    script = tmp_path / "s.bt"
    script.write_text("#if (1 << 63) < 0 && 9223372036854775807 + 1 < 0 "
                      "&& (1 << 62) * 4 == 0 && -7 / 2 == -3 && -7 % 2 == -1 "
                      "&& 9223372036854775807 / 3 == 3074457345618258602\n"
                      'BEGIN { printf("wrapped\\n"); exit(); }\n'
                      "#else\n"
                      'BEGIN { printf("unbounded\\n"); exit(); }\n'
                      "#endif\n")
    result = pytrace(str(script))
    assert result.returncode == 0, result.stderr
    assert "wrapped" in result.stdout.split(), result.stdout


@pytest.mark.parametrize("name", ["/nonexist", "nonexist_header.h"])
def test_a_missing_include_file_is_an_error(name):
    first = one_error(pytrace("--include", name, "-e", "BEGIN { exit(); }"), name=None)
    assert first == f"ERROR: '{name}' file not found", first


def test_an_include_file_given_by_path_is_read(tmp_path):
    (tmp_path / "mine.h").write_text("#define MINE 42\n")
    result = pytrace("--include", str(tmp_path / "mine.h"), "-e",
                     'BEGIN { printf("%d\\n", MINE); exit(); }')
    assert result.returncode == 0, result.stderr
    assert "42" in result.stdout.split(), result.stdout
