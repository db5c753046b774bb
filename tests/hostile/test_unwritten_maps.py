"""Maps the program never wrote print at exit as bpftrace 0.17 prints them: a
keyless count() reads `@a: 0` (text and JSON), every other kind prints its
blank lines. unwritten_maps.json holds bpftrace's stdout for each case,
recorded with `python3 tests/e2e/oracle.py --file ../hostile/unwritten_maps.json`."""

import json
from pathlib import Path

import pytest

from pytrace.cli import main

CASES = json.loads((Path(__file__).parent / "unwritten_maps.json").read_text())


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_unwritten_map_prints_as_bpftrace_prints_it(case, capfd):
    code = main(list(case["argv"]))
    out, err = capfd.readouterr()
    assert code == 0, err
    assert out == case["stdout"]
