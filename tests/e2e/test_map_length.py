"""len(@m) counts a map's elements in the kernel (bpf_for_each_map_elem + a callback)."""

from __future__ import annotations

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.session import trace_output

pytestmark = pytest.mark.kernel


def test_len_counts_elements_of_hash_and_percpu_maps():
    out = trace_output('BEGIN { @a[1] = 1; @a[2] = 2; @a[2] = 5; @c["x"] = count(); '
                       '@c["y"] = count(); @c["z"] = count(); '
                       'printf("%d %d\\n", len(@a), len(@c)); exit(); }')
    assert out.splitlines()[:2] == ["Attaching 1 probe...", "2 3"]


def test_len_sees_deletes_and_an_empty_map_is_zero():
    out = trace_output('BEGIN { @a[1] = 1; @a[2] = 2; delete(@a[1]); @e[1] = 1; delete(@e[1]); '
                       'printf("%d %d\\n", len(@a), len(@e)); exit(); }')
    assert out.splitlines()[1] == "1 0"


def test_len_in_a_predicate_of_a_tracepoint_program():
    # Two programs each call len() with their own callback copy appended.
    out = trace_output('BEGIN { @s[1] = 1; @s[2] = 2; @s[3] = 3; } '
                       'interval:ms:10 /len(@s) == 3/ { printf("three\\n"); exit(); } '
                       'END { printf("end %d\\n", len(@s)); }')
    assert out.splitlines()[1:3] == ["three", "end 3"]


def test_len_of_an_indexed_map_is_a_located_error():
    with pytest.raises(PytraceError) as caught:
        trace_output('BEGIN { @a[1] = 1; printf("%d\\n", len(@a[1])); }')
    assert "should not be indexed" in caught.value.message
    assert caught.value.span.col == 39
