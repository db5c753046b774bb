"""Numbers that do not fit where they go are refused with a located error:
integer literals past 64 bits (never silently wrapped), and probe rates,
counts, periods, offsets and addresses past what perf_event_open takes."""

import pytest

from tests.hostile.run import one_error, pytrace

LITERALS = ["18446744073709551616", "0x10000000000000000", "1e30", "1e999999999",
            "99999999999999999999999999999", "0" + "7" * 30, "9" * 5000]


@pytest.mark.parametrize("literal", LITERALS, ids=lambda s: s[:24])
def test_literal_past_64_bits_is_refused(literal):
    result = pytrace("-e", f"BEGIN {{ @ = {literal}; exit(); }}", timeout=30)
    first = one_error(result)
    assert first == (f"stdin:1:13-{13 + len(literal)}: ERROR: integer literal out of range: "
                     "it does not fit in 64 bits")


def test_largest_literal_still_works():
    result = pytrace("-q", "-e", "BEGIN { @a = 18446744073709551615; @b = 0xffffffffffffffff;"
                     " @c = 1e19; exit(); }")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["@a:", "18446744073709551615", "@b:",
                                     "18446744073709551615", "@c:", "10000000000000000000"]


def test_huge_tuple_index_and_positional_are_refused():
    first = one_error(pytrace("-e", "BEGIN { @ = (1, 2).99999999999999999999999; }"))
    assert first.startswith("stdin:1:20-43: ERROR: integer literal out of range")
    first = one_error(pytrace("-e", "BEGIN { @ = $" + "9" * 5000 + "; }"))
    assert first.startswith("stdin:1:13-5014: ERROR: integer literal out of range")


PROBES = {
    "profile:hz:99999999999999999999":
        "Invalid rate of profile probe: 99999999999999999999 (at most {max_hz}hz)",
    "profile:hz:18446744073709551615":
        "Invalid rate of profile probe: 18446744073709551615 (at most {max_hz}hz)",
    "profile:s:99999999999999999":
        "Invalid rate of profile probe: 99999999999999999 (at most 9223372036s)",
    "interval:s:99999999999": "Invalid rate of interval probe: 99999999999 (at most 9223372036s)",
    "interval:ms:18446744073709551615":
        "Invalid rate of interval probe: 18446744073709551615 (at most 9223372036854ms)",
    "software:cpu-clock:18446744073709551615":
        "Invalid count for software probe: 18446744073709551615 "
        "(must be from 0 to 9223372036854775807)",
    "software:cpu-clock:-5":
        "Invalid count for software probe: -5 (must be from 0 to 9223372036854775807)",
    "hardware:cycles:18446744073709551615":
        "Invalid count for hardware probe: 18446744073709551615 "
        "(must be from 1 to 9223372036854775807)",
    "watchpoint:0xffffffffffffffffff:8:w": "Invalid watchpoint address: 0xffffffffffffffffff",
    "kprobe:vfs_read+0xfffffffffffffffffffffff":
        "Invalid offset: 0xfffffffffffffffffffffff does not fit in 64 bits",
    "kprobe:vfs_read+" + "9" * 5000: "Invalid offset: " + "9" * 5000 + " does not fit in 64 bits",
}


def _max_hz() -> int:
    with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
        return int(f.read())


@pytest.mark.parametrize("probe", sorted(PROBES), ids=lambda s: s[:40])
def test_out_of_range_probe_numbers_are_located_errors(probe):
    result = pytrace("-c", "/bin/true", "-e", f"{probe} {{ exit(); }}", timeout=30)
    first = one_error(result)
    message = PROBES[probe].format(max_hz=_max_hz())
    assert first == f"stdin:1:1-{len(probe) + 1}: ERROR: {message}"


def test_frequency_above_the_kernels_maximum_is_a_located_error():
    rate = _max_hz() + 1
    first = one_error(pytrace("-e", f"profile:hz:{rate} {{ exit(); }}"))
    assert first.endswith(f"ERROR: Invalid rate of profile probe: {rate} "
                          f"(at most {_max_hz()}hz)")
