"""Ring buffer reads as one blob (records with their 8-byte ring headers) ->
sink calls: the walk, discarded records, chunking and output order."""

import io
import struct

from pytrace import types as T
from pytrace.kernel.ringbuf import DISCARD_BIT, join_records, split_records
from pytrace.output.sink import Sink
from pytrace.resources import AsyncAction, Resources
from pytrace.runtime.decode import NoSymbols
from pytrace.runtime.events import EventHandler
from tests.runtime.test_events import RecordingMaps, RecordingSink, record

ARGS = T.TupleType((T.UINT64, T.StringType(16), T.UINT64))
PRINTF = AsyncAction("printf", ARGS, fmt="%d %s %d\n")


def line_record(i: int) -> bytes:
    return record(0, struct.pack("<Q16sQ", i, b"comm\0stale", i * 10))


def test_a_blob_splits_back_into_its_records_without_the_discarded():
    records = [record(0, b"abc"), record(1), record(2, bytes(9))]
    blob = bytearray(join_records(records))
    assert split_records(bytes(blob)) == records
    struct.pack_into("<I", blob, 0, len(records[0]) | DISCARD_BIT)
    assert split_records(bytes(blob)) == records[1:]


def test_printf_lines_of_a_blob_are_written_at_once_with_the_text_sink():
    stream = io.StringIO()
    writes = []
    sink = Sink(stream)
    sink._write = lambda text: writes.append(text)
    h = EventHandler(Resources(actions=[PRINTF]), sink, NoSymbols(), RecordingMaps())
    blob = join_records([line_record(i) for i in range(3)])
    assert h.handle_blob(blob) == (len(blob), False)
    assert writes == ["0 comm 0\n1 comm 10\n2 comm 20\n"]


# A sink other than the plain text one (here a recorder; JSON in real use)
# gets one printf call per line.

def test_a_limit_stops_the_walk_and_says_where_the_next_record_starts():
    sink = RecordingSink()
    h = EventHandler(Resources(actions=[PRINTF]), sink, NoSymbols(), RecordingMaps())
    blob = join_records([line_record(i) for i in range(5)])
    pos, lines = 0, []
    while pos < len(blob):
        pos, exiting = h.handle_blob(blob, pos, 2)
        assert not exiting
        lines.append([c[1] for c in sink.calls])
        sink.calls.clear()
    assert lines == [["0 comm 0\n", "1 comm 10\n"], ["2 comm 20\n", "3 comm 30\n"],
                     ["4 comm 40\n"]]


def test_other_actions_come_out_after_the_lines_before_them_and_exit_stops_the_walk():
    sink, maps = RecordingSink(), RecordingMaps()
    actions = [PRINTF, AsyncAction("print_map", map_name="@m"), AsyncAction("exit")]
    h = EventHandler(Resources(actions=actions), sink, NoSymbols(), maps)
    maps.print = lambda name, top=0, div=0: sink.calls.append(("map", name))
    blob = join_records([line_record(1), line_record(2), record(1), line_record(3),
                         record(2), line_record(4)])
    pos, exiting = h.handle_blob(blob)
    assert exiting and pos < len(blob)
    assert sink.calls == [("printf", "1 comm 10\n"), ("printf", "2 comm 20\n"),
                          ("map", "@m"), ("printf", "3 comm 30\n")]
    # Draining at the end goes on past exit().
    assert h.handle_blob(blob, pos, stop_at_exit=False) == (len(blob), False)
    assert sink.calls[-1] == ("printf", "4 comm 40\n")


def test_a_short_printf_record_is_read_zero_padded():
    sink = RecordingSink()
    h = EventHandler(Resources(actions=[PRINTF]), sink, NoSymbols(), RecordingMaps())
    short = record(0, struct.pack("<Q", 7) + b"ab")
    h.handle_blob(join_records([short, line_record(1)]))
    assert sink.calls == [("printf", "7 ab 0\n"), ("printf", "1 comm 10\n")]


def test_records_too_short_for_an_id_are_skipped_even_last():
    sink = RecordingSink()
    h = EventHandler(Resources(actions=[PRINTF]), sink, NoSymbols(), RecordingMaps())
    blob = join_records([b"\x01", line_record(1), b""])
    assert h.handle_blob(blob) == (len(blob), False)
    assert sink.calls == [("printf", "1 comm 10\n")]
