"""Where the runtime's output goes: one sink per output format.

The runtime calls one method per thing bpftrace would print (banner, printf,
print(), maps, lost events, the exit separator ...); the sink formats it with
the pure functions of text.py / json_format.py and writes it to its stream.
The stream should be a text stream opened with errors="surrogateescape" so
that any byte a traced program produced comes out unchanged. Sinks never
flush on their own: the runtime decides buffering (-B) and calls flush().
"""

from __future__ import annotations

from typing import TextIO

from pytrace.output import json_format as jf
from pytrace.output import text as tf
from pytrace.resources import MapSpec
from pytrace.types import Type


class Sink:
    """The text format; JsonSink overrides what differs."""

    format = "text"

    def __init__(self, stream: TextIO):
        self.stream = stream
        self._write = stream.write

    def flush(self) -> None:
        self.stream.flush()

    def attached_probes(self, n: int) -> None:
        if n == 0:
            self.no_probes()
        else:
            self._write(f"Attaching {n} probe{'' if n == 1 else 's'}...\n")

    def no_probes(self) -> None:
        self._write("No probes to attach\n")

    def printf(self, text: str) -> None:
        self._write(text)

    def time(self, text: str) -> None:
        self._write(text)

    def cat(self, text: str) -> None:
        self._write(text)

    def system(self, text: str) -> None:
        self._write(text)

    def join(self, text: str) -> None:
        self._write(text + "\n")

    def value(self, t: Type, value) -> None:
        self._write(tf.print_value_text(t, value))

    def map(self, spec: MapSpec, entries: list, top: int = 0, div: int = 0,
            descending: bool = False) -> None:
        self._write(tf.map_text(spec.name, tuple(spec.key_types), spec.value_type,
                                entries, top, div, descending))

    def lost_events(self, n: int) -> None:
        self._write(f"Lost {n} events\n")

    def exit_separator(self) -> None:
        # Written at exit before the maps, in every format (bpftrace quirk).
        self._write("\n\n")

    def helper_error(self, helper: str, retcode: int, line: int, col: int,
                     rendered: str) -> None:
        """-k: a failed helper, as the located WARNING (with the source line and
        its marker) on the trace output, where bpftrace 0.17 writes it."""
        self._write(rendered + "\n")


TextSink = Sink


class JsonSink(Sink):
    format = "json"

    def attached_probes(self, n: int) -> None:
        if n == 0:
            self.no_probes()
        else:
            self._write(jf.counter_json("attached_probes", "probes", n))

    def printf(self, text: str) -> None:
        self._write(jf.message_json("printf", text))

    def time(self, text: str) -> None:
        self._write(jf.message_json("time", text))

    def cat(self, text: str) -> None:
        self._write(jf.message_json("cat", text))

    def system(self, text: str) -> None:
        self._write(jf.message_json("syscall", text))

    def join(self, text: str) -> None:
        self._write(jf.message_json("join", text))

    def value(self, t: Type, value) -> None:
        self._write(jf.value_json(t, value))

    def map(self, spec: MapSpec, entries: list, top: int = 0, div: int = 0,
            descending: bool = False) -> None:
        self._write(jf.map_json(spec.name, tuple(spec.key_types), spec.value_type,
                                entries, top, div, descending))

    def lost_events(self, n: int) -> None:
        self._write(jf.counter_json("lost_events", "events", n))

    def helper_error(self, helper: str, retcode: int, line: int, col: int,
                     rendered: str) -> None:
        self._write(jf.helper_error_json(helper, retcode, line, col))


def make_sink(format: str, stream: TextIO) -> Sink:
    if format == "json":
        return JsonSink(stream)
    if format == "text":
        return TextSink(stream)
    raise ValueError(f"unknown output format {format!r}")
