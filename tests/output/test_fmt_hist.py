"""hist()/lhist() text and labels, against what bpftrace 0.17 printed for the
same BEGIN-only programs (the program is quoted above each expected text)."""

from pytrace.output.hist import bar_length, hist_bounds, hist_label, lhist_label
from pytrace.output.text import map_text
from pytrace.output.values import Histogram
from pytrace.types import INT64, HistType, LhistType, StringType

from .buckets import hist_buckets, lhist_buckets


def one(name, t, buckets, **kw):
    return map_text(name, (), t, [((), Histogram(buckets))], **kw)


# bpftrace -e 'BEGIN { @h = hist(-1); @h = hist(0); @h = hist(1); @h = hist(2);
#                      @h = hist(3); @h = hist(1<<20); exit(); }'
SAMPLE = """\
@h: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[4, 8)                 0 |                                                    |
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              0 |                                                    |
[128, 256)             0 |                                                    |
[256, 512)             0 |                                                    |
[512, 1K)              0 |                                                    |
[1K, 2K)               0 |                                                    |
[2K, 4K)               0 |                                                    |
[4K, 8K)               0 |                                                    |
[8K, 16K)              0 |                                                    |
[16K, 32K)             0 |                                                    |
[32K, 64K)             0 |                                                    |
[64K, 128K)            0 |                                                    |
[128K, 256K)           0 |                                                    |
[256K, 512K)           0 |                                                    |
[512K, 1M)             0 |                                                    |
[1M, 2M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |

"""


def test_hist_sample_with_negative_zero_one_and_interior_empty_buckets():
    assert one("@h", HistType(), hist_buckets(-1, 0, 1, 2, 3, 1 << 20)) == SAMPLE


def test_hist_1024_suffix_labels_and_trimming():
    # BEGIN { @h = hist(1023); @h = hist(1024); @h = hist(2047); }
    assert one("@h", HistType(), hist_buckets(1023, 1024, 2047)) == (
        "@h: \n"
        "[512, 1K)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n")
    # BEGIN { @big = hist(3000000000); @big = hist(1<<30); }
    assert one("@big", HistType(), hist_buckets(3000000000, 1 << 30)) == (
        "@big: \n"
        "[1G, 2G)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[2G, 4G)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n")


def test_hist_labels_beyond_32_bits_follow_the_spec():
    # 0.17 truncates hist() input to 32 bits; 0.20+ buckets the full u64.
    assert hist_label(hist_buckets.__call__(1 << 40).popitem()[0]) == "[1T, 2T)"
    assert hist_label(65) == "[8E, 16E)"
    assert hist_label(52) == "[1P, 2P)"
    assert hist_bounds(42) == (1 << 40, (1 << 41) - 1)


def test_hist_k2_sub_bucket_labels():
    labels = [hist_label(i, 2) for i in range(0, 18)]
    assert labels == ["(..., 0)", "[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]",
                      "[8, 10)", "[10, 12)", "[12, 14)", "[14, 16)",
                      "[16, 20)", "[20, 24)", "[24, 28)", "[28, 32)", "[32, 40)"]
    # The K/M suffix depends on the power of two without the k sub-bucket bits,
    # so numbers stay exact: 1024 = 2^8 * 4 prints plainly, 4096 = 2^10 * 4 as 4K.
    i = hist_buckets(1024, k=2).popitem()[0]
    assert hist_label(i, 2) == "[1024, 1280)"
    assert hist_label(i + 1, 2) == "[1280, 1536)"
    assert hist_bounds(i, 2) == (1024, 1279)
    assert hist_label(hist_buckets(4096, k=2).popitem()[0], 2) == "[4K, 5K)"
    assert hist_label(hist_buckets(6 << 20, k=1).popitem()[0], 1) == "[6M, 8M)"
    assert hist_bounds(8, 2) == (7, 7)


def test_hist_k_bucketing_helper_agrees_with_labels():
    for k in range(0, 4):
        for v in [0, 1, 2, 3, 5, 7, 8, 9, 100, 1000, 4095, 4096, 123456789]:
            (i, _), = hist_buckets(v, k=k).items()
            lo, hi = hist_bounds(i, k)
            assert lo <= v <= hi, (k, v, i, lo, hi)


def test_bar_length_is_computed_in_single_precision():
    # bpftrace: count / (float)max * 52. In double, 15/52*52 gives 14 '@'.
    # BEGIN { unroll(52) { @b = hist(1); } unroll(15) { @b = hist(4); } }
    assert bar_length(15, 52) == 15
    assert bar_length(15, 26) == 30
    assert bar_length(1, 52) == 1
    assert bar_length(7, 100) == 3
    assert bar_length(2, 3) == 34
    assert bar_length(52, 52) == 52
    assert one("@b", HistType(), {2: 52, 4: 15}) == (
        "@b: \n"
        "[1]                   52 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[2, 4)                 0 |                                                    |\n"
        "[4, 8)                15 |@@@@@@@@@@@@@@@                                     |\n"
        "\n")


def test_keyed_hists_ordered_by_total_with_blank_line_after_each():
    # BEGIN { @hk["a"] = hist(5); @hk["b"] = hist(100); @hk["b"] = hist(100); }
    entries = [(("b",), Histogram(hist_buckets(100, 100))), (("a",), Histogram(hist_buckets(5)))]
    assert map_text("@hk", (StringType(64),), HistType(), entries) == (
        "@hk[a]: \n"
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@hk[b]: \n"
        "[64, 128)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n")


def test_zeroed_hist_prints_only_headers():
    # BEGIN { @h[1] = hist(5); @h[2] = hist(7); zero(@h); }
    entries = [((1,), Histogram({4: 0})), ((2,), Histogram({4: 0}))]
    assert map_text("@h", (INT64,), HistType(), entries) == "@h[1]: \n\n@h[2]: \n\n"


def test_empty_hist_map_is_one_newline():
    assert map_text("@nh", (), HistType(), []) == "\n"


def test_lhist_underflow_overflow_and_interior():
    # BEGIN { @l = lhist(-5, 0, 100, 10); @l = lhist(5, ...); @l = lhist(55, ...);
    #         @l = lhist(100, ...); @l = lhist(1000, ...); }
    t = LhistType(min=0, max=100, step=10)
    assert one("@l", t, lhist_buckets(t, -5, 5, 55, 100, 1000)) == """\
@l: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[0, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[10, 20)               0 |                                                    |
[20, 30)               0 |                                                    |
[30, 40)               0 |                                                    |
[40, 50)               0 |                                                    |
[50, 60)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[60, 70)               0 |                                                    |
[70, 80)               0 |                                                    |
[80, 90)               0 |                                                    |
[90, 100)              0 |                                                    |
[100, ...)             2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""


def test_lhist_nonzero_min_and_overflow_only():
    # BEGIN { @l1 = lhist(5, 10, 50, 10); @l1 = lhist(1000, 10, 50, 10);
    #         @l4 = lhist(1000, 0, 100, 10); }
    t = LhistType(min=10, max=50, step=10)
    assert one("@l1", t, lhist_buckets(t, 5, 1000)) == """\
@l1: 
(..., 10)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[10, 20)               0 |                                                    |
[20, 30)               0 |                                                    |
[30, 40)               0 |                                                    |
[40, 50)               0 |                                                    |
[50, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""
    t = LhistType(min=0, max=100, step=10)
    assert one("@l4", t, lhist_buckets(t, 1000)) == (
        "@l4: \n"
        "[100, ...)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")


def test_lhist_k_and_m_labels_when_step_is_a_multiple_of_1024():
    # BEGIN { @lk = lhist(0|5000|9000|-1, 0, 8192, 1024); }
    t = LhistType(min=0, max=8192, step=1024)
    assert one("@lk", t, lhist_buckets(t, 0, 5000, 9000, -1)) == """\
@lk: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[0, 1K)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1K, 2K)               0 |                                                    |
[2K, 3K)               0 |                                                    |
[3K, 4K)               0 |                                                    |
[4K, 5K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[5K, 6K)               0 |                                                    |
[6K, 7K)               0 |                                                    |
[7K, 8K)               0 |                                                    |
[8K, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""
    # BEGIN { @l3 = lhist(3145728, 0, 4194304, 1048576); @l3 = lhist(-1, ...); }
    t = LhistType(min=0, max=4194304, step=1048576)
    assert one("@l3", t, lhist_buckets(t, 3145728, -1)) == """\
@l3: 
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[0, 1M)                0 |                                                    |
[1M, 2M)               0 |                                                    |
[2M, 3M)               0 |                                                    |
[3M, 4M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""
    # A step that is not a multiple of 1024 keeps plain numbers.
    assert lhist_label(1, LhistType(min=0, max=4096, step=1000)) == "[0, 1000)"
    # Numbers not multiple of 1K stay plain even with a 1024-multiple step.
    assert lhist_label(1, LhistType(min=100, max=10340, step=1024)) == "[100, 1124)"


def test_lhist_wide_label_pushes_the_count_right():
    # BEGIN { @l2 = lhist(1000000, 0, 2000000, 50000); }
    t = LhistType(min=0, max=2000000, step=50000)
    assert one("@l2", t, lhist_buckets(t, 1000000)) == (
        "@l2: \n"
        "[1000000, 1050000)       1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")


def test_print_top_div_divides_hist_but_not_lhist():
    # BEGIN { @h[1]=hist(5); @h[2]=hist(5); @h[2]=hist(5); @h[2]=hist(100);
    #         @h[3]=hist(1) x5; print(@h, 2, 2); }
    entries = [((1,), Histogram(hist_buckets(5))),
               ((2,), Histogram(hist_buckets(5, 5, 100))),
               ((3,), Histogram(hist_buckets(1, 1, 1, 1, 1)))]
    assert map_text("@h", (INT64,), HistType(), entries, top=2, div=2) == """\
@h[2]: 
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              0 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |

@h[3]: 
[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""
    # @l[1] = lhist(5, 0, 100, 10) x3; @l[2] = lhist(50, ...); print(@l, 1, 2);
    t = LhistType(min=0, max=100, step=10)
    entries = [((1,), Histogram(lhist_buckets(t, 5, 5, 5))),
               ((2,), Histogram(lhist_buckets(t, 50)))]
    assert map_text("@l", (INT64,), t, entries, top=1, div=2) == (
        "@l[1]: \n"
        "[0, 10)                3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n")
