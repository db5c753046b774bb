"""How many keys a map holds: BPFTRACE_MAP_KEYS_MAX (bpftrace 0.17) or a
`config = { max_map_keys = N }` block; a full map refuses new keys, which -k
reports where bpftrace 0.17 does (expected text recorded from it)."""

from __future__ import annotations

import pytest

from pytrace.cli import main

pytestmark = pytest.mark.kernel

PROGRAM = "BEGIN { @x[1] = 1; @x[2] = 2; @c[3] = count(); @c[4] = count(); exit(); }"
FULL = (
    "Attaching 1 probe...\n"
    "stdin:1:26-27: WARNING: Failed to map_update_elem: Argument list too long (-7)\n"
    f"{PROGRAM}\n"
    "                         ~\n"
    "stdin:1:56-63: WARNING: Failed to map_update_elem: Argument list too long (-7)\n"
    f"{PROGRAM}\n"
    "                                                       ~~~~~~~\n"
    "\n\n@c[3]: 1\n@x[1]: 1\n")


def test_env_limit_fills_maps_and_k_reports_each_refused_key(monkeypatch, capfd):
    monkeypatch.setenv("BPFTRACE_MAP_KEYS_MAX", "1")
    assert main(["-k", "-e", PROGRAM]) == 0
    assert capfd.readouterr().out == FULL


def test_config_block_sets_the_limit(monkeypatch, capfd):
    monkeypatch.delenv("BPFTRACE_MAP_KEYS_MAX", raising=False)
    assert main(["-e", "config = { max_map_keys = 2 } "
                       "BEGIN { @x[1] = 1; @x[2] = 2; @x[3] = 3; exit(); }"]) == 0
    assert capfd.readouterr().out == "Attaching 1 probe...\n\n\n@x[1]: 1\n@x[2]: 2\n"


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_bad_env_value_is_bpftrace_s_error(monkeypatch, capfd, value):
    monkeypatch.setenv("BPFTRACE_MAP_KEYS_MAX", value)
    assert main(["-e", "BEGIN { exit(); }"]) == 1
    assert capfd.readouterr().err == ("ERROR: Env var 'BPFTRACE_MAP_KEYS_MAX' did not contain "
                                      "a valid uint64_t, or was zero-valued.\n")


def test_bad_config_value_is_located(capfd):
    assert main(["-e", 'config = { max_map_keys = "a" } BEGIN { exit(); }']) == 1
    assert capfd.readouterr().err.startswith(
        "stdin:1:27-30: ERROR: max_map_keys must be a positive integer\n")
