"""bind_printf (the per-action printf built once) prints exactly what
format_printf prints, for any format and argument types bpftrace allows."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pytrace.output.printf import bind_printf, format_printf, parse_format
from pytrace.types import IntType, StringType

INT_TYPES = [IntType(b, s) for b in (8, 16, 32, 64) for s in (False, True)]
STR = StringType(16)

specifier = st.builds(
    lambda flag, width, prec, length, conv: f"%{flag}{width}{prec}{length}{conv}",
    st.sampled_from(["", "-"]), st.sampled_from(["", "0", "5", "05", "12"]),
    st.sampled_from(["", "", ".0", ".3"]), st.sampled_from(["", "", "hh", "h", "l", "ll", "z"]),
    st.sampled_from(list("duxXosc") + ["p"]))
text = st.sampled_from(["", " ", "x=", "%%", "%% ", "100%", "%i", "[", "\n", "é"])
formats = st.lists(st.tuples(text, specifier), max_size=5).flatmap(
    lambda parts: text.map(lambda tail: "".join(a + b for a, b in parts) + tail))


def value_for(t):
    if isinstance(t, StringType):
        # A string read from BPF ends at its first NUL: none inside a value.
        return st.text(st.characters(blacklist_characters="\0"), max_size=15)
    lo, hi = (-(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1) if t.signed else (0, (1 << t.bits) - 1)
    return st.integers(lo, hi) | st.sampled_from([lo, hi, 0])


@st.composite
def cases(draw):
    fmt = draw(formats)
    types = []
    for text_, spec in parse_format(fmt).pieces:
        conv = spec.conversion if spec is not None else "d"
        types.append(STR if conv == "s" and draw(st.booleans())
                     else draw(st.sampled_from(INT_TYPES)))
    values = tuple(draw(value_for(t)) for t in types)
    return fmt, tuple(types), values


@settings(max_examples=300, deadline=None)
@given(cases())
def test_bound_printf_matches_format_printf(case):
    fmt, types, values = case
    assert bind_printf(fmt, types)(values) == format_printf(fmt, list(zip(types, values)))


def test_bound_printf_resolves_c_integer_widths():
    f = bind_printf("%d %u %x %hhd %ld|%-5d|%05d\n",
                    (IntType(64, False),) * 5 + (IntType(32, True), IntType(8, True)))
    assert f((1 << 40, (1 << 64) - 1, 255, 300, (1 << 64) - 1, -3, -3)) == \
        "0 4294967295 ff 44 -1|-3   |-0003\n"


def test_bound_printf_without_specifiers_prints_the_format_as_written():
    assert bind_printf("100%% done\n", ())(()) == "100%% done\n"


@settings(max_examples=200, deadline=None)
@given(cases(), st.binary(max_size=3))
def test_raw_strings_are_cut_at_the_first_nul_and_decoded(case, stale):
    fmt, types, values = case
    raw = tuple((v.encode("utf-8") + b"\0" + stale) if isinstance(v, str) else v
                for v in values)
    assert bind_printf(fmt, types, raw_strings=True)(raw) == \
        format_printf(fmt, list(zip(types, values)))
