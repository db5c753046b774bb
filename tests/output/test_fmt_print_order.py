"""pytrace's `print_order = descending` (docs/reference.md): maps print largest
first, in text and JSON. bpftrace 0.17 has no such setting: its ascending order
(test_fmt_maps.py) is the default and is what these reverse."""

from hypothesis import given
from hypothesis import strategies as st

from pytrace.output.json_format import map_json
from pytrace.output.text import map_text
from pytrace.output.values import AvgValue, Histogram, StatsValue
from pytrace.types import INT64, AvgType, CountType, HistType, StatsType, StringType

STR = StringType(16)


@given(st.dictionaries(st.integers(0, 1000), st.integers(1, 10**6), min_size=1,
                       max_size=30).filter(lambda d: len(set(d.values())) == len(d)))
def test_descending_is_the_ascending_lines_reversed(counts):
    entries = [((k,), v) for k, v in counts.items()]
    up = map_text("@c", (INT64,), CountType(), entries).splitlines()
    down = map_text("@c", (INT64,), CountType(), entries, descending=True).splitlines()
    assert down == up[::-1]
    assert down[0] == f"@c[{max(counts, key=counts.get)}]: {max(counts.values())}"


def test_top_keeps_the_largest_and_prints_them_first():
    entries = [((1,), 10), ((2,), 30), ((3,), 20), ((4,), 5)]
    assert map_text("@c", (INT64,), CountType(), entries, top=2, descending=True) == \
        "@c[2]: 30\n@c[3]: 20\n"
    assert map_text("@c", (INT64,), CountType(), entries, top=2, div=10, descending=True) == \
        "@c[2]: 3\n@c[3]: 2\n"


def test_stats_rows_go_by_total_and_take_top():
    # The busiest row is the one that moved the most bytes, whatever its average
    # (bpftrace sorts stats by average, and ignores top for them).
    entries = [(("big",), StatsValue(count=1, total=4096)),
               (("busy",), StatsValue(count=100, total=51200)),
               (("idle",), StatsValue(count=1, total=1))]
    assert map_text("@io", (STR,), StatsType(), entries, top=2, descending=True) == (
        "@io[busy]: count 100, average 512, total 51200\n"
        "@io[big]: count 1, average 4096, total 4096\n\n")
    assert map_text("@io", (STR,), StatsType(), entries, top=2).splitlines()[0] == \
        "@io[idle]: count 1, average 1, total 1"


def test_avg_and_hist_maps_put_the_largest_first():
    avgs = [(("a",), AvgValue(count=2, total=10)), (("b",), AvgValue(count=1, total=50))]
    assert map_text("@lat", (STR,), AvgType(), avgs, descending=True) == \
        "@lat[b]: 50\n@lat[a]: 5\n\n"
    hists = [(("few",), Histogram({4: 1})), (("many",), Histogram({4: 3}))]
    text = map_text("@h", (STR,), HistType(), hists, descending=True)
    assert text.index("@h[many]") < text.index("@h[few]")


def test_json_follows_the_same_order():
    entries = [(("a",), 1), (("b",), 3), (("c",), 2)]
    assert map_json("@", (STR,), CountType(), entries, descending=True) == \
        '{"type": "map", "data": {"@": {"b": 3, "c": 2, "a": 1}}}\n'
    stats = [(("x",), StatsValue(count=1, total=100)), (("y",), StatsValue(count=4, total=40))]
    assert map_json("@s", (STR,), StatsType(), stats, descending=True) == (
        '{"type": "stats", "data": {"@s": {"x": {"count": 1, "average": 100, "total": 100}, '
        '"y": {"count": 4, "average": 10, "total": 40}}}}\n')


def test_an_empty_map_prints_as_in_ascending_order():
    assert map_text("@c", (INT64,), CountType(), [], descending=True) == \
        map_text("@c", (INT64,), CountType(), [])
    assert map_json("@c", (INT64,), CountType(), [], descending=True) == ""
