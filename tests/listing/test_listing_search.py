"""How a -l SEARCH is read: providers, aliases, wildcards, errors (no kernel needed)."""

import pytest

from pytrace.diagnostics import PytraceError
from pytrace.listing.search import KERNEL_LISTINGS, parse_search


def test_short_alias_expands_to_the_full_provider():
    (q,) = parse_search("t:syscalls:sys_enter_open*").queries
    assert (q.provider, q.source, q.pattern) == ("tracepoint", "tracepoint",
                                                 "syscalls:sys_enter_open*")


def test_return_probes_list_under_their_own_name():
    (q,) = parse_search("kretprobe:vfs_*").queries
    assert (q.provider, q.source) == ("kretprobe", "kprobe")
    (q,) = parse_search("kfunc:vfs_read").queries
    assert (q.provider, q.source) == ("kfunc", "kfunc")
    (q,) = parse_search("fentry:vfs_read").queries
    assert (q.provider, q.source) == ("fentry", "kfunc")


def test_search_without_provider_matches_whole_names_of_every_kernel_provider():
    s = parse_search("*sched_switch*")
    assert s.whole == "*sched_switch*"
    assert sorted(q.provider for q in s.queries) == sorted(KERNEL_LISTINGS)
    match = s.whole_matcher()
    assert match("tracepoint:sched:sched_switch")
    assert not match("tracepoint:sched:sched_wakeup")


def test_with_pid_a_bare_wildcard_lists_that_process_user_probes():
    s = parse_search("*", pid=1)
    assert sorted(q.provider for q in s.queries) == ["uprobe", "usdt"]


def test_wildcard_provider_selects_matching_providers():
    s = parse_search("t*:sched:sched_switch")
    assert [q.provider for q in s.queries] == ["tracepoint"]


def test_usdt_name_without_provider_matches_any_provider():
    (q,) = parse_search("usdt:/bin/x:plain").queries
    assert (q.path, q.pattern) == ("/bin/x", "*:plain")
    (q,) = parse_search("usdt:/bin/x:prov:plain").queries
    assert q.pattern == "prov:plain"


def test_struct_search_asks_for_a_type():
    assert parse_search("struct task_struct").struct == "struct task_struct"


@pytest.mark.parametrize("search, message", [
    ("foo:*", "Invalid probe type: foo"),
    ("sched_switch", "Invalid probe type: sched_switch"),
    ("tracepoint:a:b:c", "tracepoint probe type requires 2 arguments"),
    ("uprobe:", "uprobe needs a binary"),
])
def test_bad_searches_are_clear_errors(search, message):
    with pytest.raises(PytraceError, match=message):
        parse_search(search)


def test_exact_names_match_only_themselves():
    (q,) = parse_search("kprobe:vfs_read").queries
    match = q.matcher()
    assert match("vfs_read") and not match("vfs_readv")
