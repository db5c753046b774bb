"""The sinks the runtime writes to: whole sessions as bpftrace 0.17 printed them."""

import io

import pytest

from pytrace.output.sink import JsonSink, TextSink, make_sink
from pytrace.output.values import Histogram, StatsValue
from pytrace.resources import MapSpec
from pytrace.types import INT64, CountType, HistType, StatsType, StringType, TupleType

STR = StringType(64)


def spec(name, key_types, value_type):
    return MapSpec(name=name, bpf_type="percpu_hash", key_types=key_types,
                   value_type=value_type, key_size=8, value_size=8, max_entries=4096)


def session(sink):
    """BEGIN { print(5); print("str"); print((1, "a")); @x = 3; print(@x);
               printf("after\\n"); @c[1] = count(); clear(@c); @st = stats(5); exit(); }
    then the maps at exit in name order: @c (empty), @st, @x."""
    sink.attached_probes(1)
    sink.value(INT64, 5)
    sink.value(STR, "str")
    sink.value(TupleType((INT64, STR)), (1, "a"))
    x = spec("@x", (), INT64)
    sink.map(x, [((), 3)])
    sink.printf("after\n")
    sink.exit_separator()
    sink.map(spec("@c", (INT64,), CountType()), [])
    sink.map(spec("@st", (), StatsType()), [((), StatsValue(1, 5))])
    sink.map(x, [((), 3)])
    return sink.stream.getvalue()


def test_text_session():
    assert session(make_sink("text", io.StringIO())) == (
        "Attaching 1 probe...\n"
        "5\nstr\n(1, a)\n"
        "@x: 3\n"
        "after\n"
        "\n\n"
        "\n"
        "@st: count 1, average 5, total 5\n\n"
        "@x: 3\n")


def test_json_session():
    assert session(make_sink("json", io.StringIO())) == (
        '{"type": "attached_probes", "data": {"probes": 1}}\n'
        '{"type": "value", "data": 5}\n'
        '{"type": "value", "data": "str"}\n'
        '{"type": "value", "data": [1,"a"]}\n'
        '{"type": "map", "data": {"@x": 3}}\n'
        '{"type": "printf", "data": "after\\n"}\n'
        "\n\n"
        '{"type": "stats", "data": {"@st": {"count": 1, "average": 5, "total": 5}}}\n'
        '{"type": "map", "data": {"@x": 3}}\n')


@pytest.mark.parametrize("n, text", [(1, "Attaching 1 probe...\n"), (2, "Attaching 2 probes...\n"),
                                     (12, "Attaching 12 probes...\n"), (0, "No probes to attach\n")])
def test_banner(n, text):
    sink = TextSink(io.StringIO())
    sink.attached_probes(n)
    assert sink.stream.getvalue() == text


def test_lost_events():
    text, js = TextSink(io.StringIO()), JsonSink(io.StringIO())
    for sink in (text, js):
        sink.lost_events(42)
    assert text.stream.getvalue() == "Lost 42 events\n"
    assert js.stream.getvalue() == '{"type": "lost_events", "data": {"events": 42}}\n'


def test_join_time_cat_system():
    # tracepoint:syscalls:sys_enter_execve { join(args->argv); join(args->argv, ",");
    #   time("%Y\n"); cat("catfile"); system("echo sys%d", 5); }  for `/bin/true a "b c"`
    text, js = TextSink(io.StringIO()), JsonSink(io.StringIO())
    for sink in (text, js):
        sink.join("/bin/true a b c")
        sink.join("/bin/true,a,b c")
        sink.time("2026\n")
        sink.cat("hello cat\n")
        sink.system("sys5\n")
    assert text.stream.getvalue() == "/bin/true a b c\n/bin/true,a,b c\n2026\nhello cat\nsys5\n"
    assert js.stream.getvalue() == (
        '{"type": "join", "data": "/bin/true a b c"}\n'
        '{"type": "join", "data": "/bin/true,a,b c"}\n'
        '{"type": "time", "data": "2026\\n"}\n'
        '{"type": "cat", "data": "hello cat\\n"}\n'
        '{"type": "syscall", "data": "sys5\\n"}\n')


def test_hist_map_through_the_sink():
    sink = make_sink("text", io.StringIO())
    sink.map(spec("@h", (), HistType()), [((), Histogram({4: 1}))])
    assert sink.stream.getvalue() == (
        "@h: \n[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")


def test_print_map_with_top_and_div():
    sink = make_sink("text", io.StringIO())
    sink.map(spec("@c", (INT64,), CountType()), [((1,), 10), ((2,), 30), ((3,), 20)], top=2, div=10)
    assert sink.stream.getvalue() == "@c[3]: 2\n@c[2]: 3\n"


def test_helper_error_text_is_the_located_warning_and_json_the_0_17_record():
    # bpftrace 0.17 -k: the warning goes to the trace output; JSON has no message.
    text, js = TextSink(io.StringIO()), JsonSink(io.StringIO())
    for sink in (text, js):
        sink.helper_error("map_delete_elem", -2, 1, 20, "stdin:1:20-33: WARNING: ...")
        sink.helper_error("probe_read", -14, 2, 3, "stdin:2:3-4: WARNING: ...")
    assert text.stream.getvalue() == ("stdin:1:20-33: WARNING: ...\n"
                                      "stdin:2:3-4: WARNING: ...\n")
    assert js.stream.getvalue() == (
        '{"type": "helper_error", "helper": "map_delete_elem", "retcode": -2, '
        '"line": 1, "col": 20}\n'
        '{"type": "helper_error", "helper": "probe_read", "retcode": -14, '
        '"line": 2, "col": 3}\n')

def test_unknown_format():
    with pytest.raises(ValueError):
        make_sink("yaml", io.StringIO())
