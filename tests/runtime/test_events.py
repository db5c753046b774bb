"""Ring buffer records -> sink calls, from records built by hand."""

import struct

from pytrace import types as T
from pytrace.diagnostics import Source, Span
from pytrace.resources import AsyncAction, Resources
from pytrace.runtime.decode import NoSymbols
from pytrace.runtime.events import EventHandler


class RecordingSink:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))


class RecordingMaps:
    def __init__(self):
        self.calls = []

    def print(self, name, top=0, div=0):
        self.calls.append(("print", name, top, div))

    def clear(self, name):
        self.calls.append(("clear", name))

    def zero(self, name):
        self.calls.append(("zero", name))


def handler(*actions, source=None):
    sink, maps = RecordingSink(), RecordingMaps()
    h = EventHandler(Resources(actions=list(actions)), sink, NoSymbols(), maps,
                     source=source, warn=lambda text: sink.calls.append(("warn", text)))
    return h, sink, maps


def record(action_id: int, payload: bytes = b"") -> bytes:
    return struct.pack("<Q", action_id) + payload


def test_printf_formats_its_arguments_from_the_payload_layout():
    args = T.TupleType((T.StringType(8), T.INT32, T.UINT64))
    h, sink, _ = handler(AsyncAction("printf", args, fmt="%s=%d/%x\n"))
    payload = b"pid\0\0\0\0\0" + struct.pack("<i4xQ", -3, 255)
    assert h.handle(record(0, payload)) is False
    assert sink.calls == [("printf", "pid=-3/ff\n")]


def test_exit_is_reported_and_map_actions_reach_the_maps():
    h, sink, maps = handler(AsyncAction("exit"),
                            AsyncAction("print_map", map_name="@m", options={"top": 2, "div": 0}),
                            AsyncAction("clear", map_name="@m"), AsyncAction("zero", map_name="@z"))
    assert [h.handle(record(i)) for i in (1, 2, 3, 0)] == [False, False, False, True]
    assert maps.calls == [("print", "@m", 2, 0), ("clear", "@m"), ("zero", "@z")]


def test_join_uses_only_the_strings_read():
    layout = T.TupleType((T.UINT64,) + (T.StringType(4),) * 3)
    h, sink, _ = handler(AsyncAction("join", layout, options={"delim": ","}))
    payload = struct.pack("<Q", 2) + b"ab\0\0" + b"cd\0\0" + b"old\0"
    h.handle(record(0, payload))
    assert sink.calls == [("join", "ab,cd")]


def test_print_value_passes_type_and_decoded_value():
    tup = T.TupleType((T.INT64, T.StringType(2)))
    h, sink, _ = handler(AsyncAction("print_value", T.TupleType((tup,))))
    h.handle(record(0, struct.pack("<q", -1) + b"a\0" + bytes(6)))
    assert sink.calls == [("value", tup, (-1, "a"))]


def test_unknown_ids_and_short_records_are_not_crashes():
    h, sink, _ = handler(AsyncAction("exit"))
    assert h.handle(b"\x01") is False
    assert h.handle(record(9)) is False
    assert sink.calls[0][0] == "warn" and "unknown event id 9" in sink.calls[0][1]


def test_helper_error_is_a_located_warning_with_the_retcode():
    source = Source("BEGIN { @x[1] = 2; }")
    h, sink, _ = handler(AsyncAction("helper_error", T.TupleType((T.INT64,)),
                                     options={"helper": "map_update_elem",
                                              "span": Span(1, 15, 1, 16)}), source=source)
    h.handle(record(0, struct.pack("<q", -7)))
    (name, helper, retcode, line, col, rendered), = sink.calls
    assert (helper, retcode, line, col) == ("map_update_elem", -7, 1, 15)
    assert rendered == ("stdin:1:15-16: WARNING: Failed to map_update_elem: "
                        "Argument list too long (-7)\n"
                        "BEGIN { @x[1] = 2; }\n              ~")
