"""-k / -kk: which helper calls report failures, and where they point."""

from __future__ import annotations

from pytrace.compiler import compile_program
from pytrace.diagnostics import Source, Span
from pytrace.parser import parse
from tests.compiler.harness import FactsTarget


def _reports(text: str, level: int) -> list[tuple[str, Span]]:
    source = Source(text)
    compiled = compile_program(parse(source), FactsTarget(), params=[], source=source,
                               options={"helper_errors": level})
    return [(a.options["helper"], a.options["span"])
            for a in compiled.resources.actions if a.kind == "helper_error"]


PROGRAM = ("BEGIN { @x[1] = 1; @y[2] += 3; @c[3] = count(); delete(@x[1]); "
           "$p = (int8 *)0; @r = *$p; }")


def test_without_k_nothing_is_checked():
    assert _reports(PROGRAM, 0) == []


def test_k_checks_map_updates_and_deletes_at_bpftrace_s_places():
    got = _reports(PROGRAM, 1)
    col = PROGRAM.index
    assert got == [
        ("map_update_elem", Span(1, col("= 1") + 1, 1, col("= 1") + 2)),    # the `=`
        ("map_update_elem", Span(1, col("+=") + 1, 1, col("+=") + 3)),      # the `+=`
        ("map_update_elem", Span(1, col("count") + 1, 1, col("count") + 8)),
        ("map_delete_elem", Span(1, col("delete") + 1, 1, col("delete") + 14)),
        ("map_update_elem", Span(1, col("= *") + 1, 1, col("= *") + 2)),
    ]


def test_kk_checks_memory_reads_too_at_the_star():
    got = _reports(PROGRAM, 2)
    star = PROGRAM.index("*$p") + 1
    assert ("probe_read", Span(1, star, 1, star + 1)) in got
    assert len(got) == 6
