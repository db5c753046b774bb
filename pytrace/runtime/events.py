"""Ring buffer records -> output: one handler per async action kind.

A record is a u64 action id (an index in Resources.actions) followed by the
action's arguments laid out as AsyncAction.args. `EventHandler.handle` decodes
one record and does what the action asks (print through the sink, clear a
map, ...), and tells the loop whether the program asked to exit.
"""

from __future__ import annotations

import functools
import os
import struct
import sys

from pytrace.builtins import event_handlers
from pytrace.kernel.ringbuf import DISCARD_BIT, LENGTH_MASK, join_records
from pytrace.kernel.ringbuf import HEADER_SIZE as RECORD_HEADER
from pytrace.output.sink import Sink
from pytrace.resources import AsyncAction, Resources
from pytrace.runtime.decode import Symbols, decode, decoder
from pytrace.types import IntType, StringType

HEADER = 8  # the u64 action id
_ID = struct.Struct("<Q").unpack_from
_HEADER = struct.Struct("<I").unpack_from   # a ring record's length and flags
_HEADER_ID = struct.Struct("<I4xQ").unpack_from   # ... and the action id after it
_LENGTH, _DISCARD = LENGTH_MASK, DISCARD_BIT


_INT_CODES = {(8, False): "B", (8, True): "b", (16, False): "H", (16, True): "h",
              (32, False): "I", (32, True): "i", (64, False): "Q", (64, True): "q"}


def _record_unpacker(action: AsyncAction):
    """unpack_from for a whole record (id skipped) whose args are integers and
    strings only, strings as raw bytes; None for any other layout."""
    layout, pos = "<8x", 0
    for t, off in zip(action.args.elems, action.args.offsets):
        if isinstance(t, IntType) and (t.bits, t.signed) in _INT_CODES:
            code = _INT_CODES[t.bits, t.signed]
        elif isinstance(t, StringType):
            code = f"{t.size}s"
        else:
            return None
        layout += "x" * (off - pos) + code
        pos = off + t.size
    return struct.Struct(layout).unpack_from


class EventHandler:
    """Decodes records and performs their actions; `maps` is a runtime.maps.MapAccess."""

    def __init__(self, resources: Resources, sink, symbols: Symbols, maps,
                 target=None, warn=None, source=None, unwatch=None):
        self.resources = resources
        self.sink = sink
        self.symbols = symbols
        self.maps = maps
        self.target = target
        self.source = source  # the program's Source, to locate -k warnings
        self.warn = warn or (lambda text: print(text, file=sys.stderr))
        self.unwatch = unwatch  # detaches the watchpoints on an address (runtime.attach)
        # What userspace does for each action kind: the builtin records' handlers
        # (pytrace.builtins.event_handlers), and -k's helper errors.
        self.handlers = {kind: functools.partial(handle, self)
                         for kind, handle in event_handlers().items()}
        self.handlers.update({"errorf": self.on_errorf, "warnf": self.on_warnf,
                              "helper_error": self.on_helper_error})
        self._fast = [self._fast_printf(a) if a.kind == "printf" else None
                      for a in resources.actions]
        # print(@m) and clear(@m) records in a row are done as one read that
        # deletes (maps.print_and_clear): id of each clear -> its map.
        self._clears = {i: a.map_name for i, a in enumerate(resources.actions)
                        if a.kind == "clear"}
        # The text sink's printf only writes its text: a batch's lines can be
        # joined into one write. Other sinks (JSON) wrap each line.
        self._join_lines = type(sink) is Sink

    def handle(self, record: bytes) -> bool:
        """Perform one record's action; True when it was exit()."""
        return self.handle_batch((record,))

    def handle_batch(self, records, stop_at_exit: bool = True) -> bool:
        """Perform records (without ring headers) in order; see handle_blob."""
        blob = join_records(list(records))
        return self.handle_blob(blob, 0, len(blob), stop_at_exit)[1]

    def handle_blob(self, blob: bytes, start: int = 0, limit: int = 1 << 62,
                    stop_at_exit: bool = True) -> tuple[int, bool]:
        """Perform up to `limit` records of a ring buffer read (as
        kernel.ringbuf.read_blob gives them) from offset `start`, in order.
        Returns where the next record starts and whether one was exit() (with
        stop_at_exit, the records after it are left unperformed).

        printf lines are joined and written at once, before any other action's
        output, so the order of the output is the order of the records.
        """
        fast, nfast, lines, exiting = self._fast, len(self._fast), [], False
        pos, end, done = start, len(blob), 0
        try:
            while pos < end and done < limit:
                try:
                    header, action_id = _HEADER_ID(blob, pos)
                except struct.error:  # a last record too short for an id
                    header, action_id = _HEADER(blob, pos)[0], None
                length = header & _LENGTH
                at = pos + RECORD_HEADER
                pos += (length + RECORD_HEADER + 7) & ~7
                done += 1
                if header & _DISCARD or length < HEADER:
                    continue
                printf = fast[action_id] if action_id < nfast else None
                if printf is not None:
                    lines.append(printf(blob, at, length))
                    continue
                if lines:
                    self._write_lines(lines)
                    lines = []
                if self._clears and done < limit:
                    after_clear = self._clear_after_print(action_id, blob, pos, end)
                    if after_clear is not None:
                        self._handle_other(action_id, blob[at:at + length], "_then_clear")
                        pos, done = after_clear, done + 1
                        continue
                if self._handle_other(action_id, blob[at:at + length]):
                    exiting = True
                    if stop_at_exit:
                        return pos, True
            return pos, exiting
        finally:
            if lines:
                self._write_lines(lines)

    def _write_lines(self, lines: list[str]) -> None:
        if self._join_lines:
            self.sink.printf("".join(lines))
        else:
            for line in lines:
                self.sink.printf(line)

    def _clear_after_print(self, action_id: int, blob: bytes, pos: int, end: int) -> int | None:
        """Where the record after the next one starts, when this record is
        print(@m) and the next is clear(@m) of the same map; else None."""
        actions = self.resources.actions
        if action_id >= len(actions) or actions[action_id].kind != "print_map" or pos >= end:
            return None
        try:
            header, next_id = _HEADER_ID(blob, pos)
        except struct.error:
            return None
        length = header & _LENGTH
        if header & _DISCARD or length < HEADER:
            return None
        if self._clears.get(next_id) != actions[action_id].map_name:
            return None
        return pos + ((length + RECORD_HEADER + 7) & ~7)

    def _handle_other(self, action_id: int, record: bytes, variant: str = "") -> bool:
        if action_id >= len(self.resources.actions):
            self.warn(f"WARNING: unknown event id {action_id} from the kernel (ignored)")
            return False
        action = self.resources.actions[action_id]
        handler = self.handlers.get(action.kind + variant)
        if handler is None:
            self.warn(f"WARNING: async action {action.kind} is not supported yet")
            return False
        return bool(handler(action, record[HEADER:]))

    def _fast_printf(self, action: AsyncAction):
        """printf runs per event: its decoding and formatting are bound once,
        leaving one struct unpack and one %-format per record. The function
        takes (blob, offset of the record, its length)."""
        from pytrace.output.printf import bind_printf
        fmt, types = action.fmt or "", tuple(action.args.elems)
        unpack = _record_unpacker(action)
        slow = self._decoded_printf(action)
        if unpack is None:
            return slow
        text = bind_printf(fmt, types, raw_strings=True)
        size = HEADER + action.args.size

        def printf(blob: bytes, at: int, length: int) -> str:
            if length < size:   # a short record: decode it zero-padded
                return slow(blob, at, length)
            return text(unpack(blob, at))
        return printf

    def _decoded_printf(self, action: AsyncAction):
        from pytrace.output.printf import bind_printf
        decode_args = decoder(action.args, self.symbols)
        text = bind_printf(action.fmt or "", tuple(action.args.elems))
        size = action.args.size

        def printf(blob: bytes, at: int, length: int) -> str:
            payload = blob[at + HEADER:at + length]
            if len(payload) < size:
                payload = payload + bytes(size - len(payload))
            return text(decode_args(payload))
        return printf

    def args(self, action: AsyncAction, payload: bytes) -> list:
        if len(payload) < action.args.size:
            payload = payload + bytes(action.args.size - len(payload))
        return list(decode(action.args, payload, self.symbols))

    def typed_args(self, action: AsyncAction, payload: bytes) -> list[tuple]:
        return list(zip(action.args.elems, self.args(action, payload)))

    # ---- actions -----------------------------------------------------------
    def on_errorf(self, action, payload):
        from pytrace.output.printf import format_printf
        self.warn("ERROR: " + format_printf(action.fmt or "", self.typed_args(action, payload)))

    def on_warnf(self, action, payload):
        from pytrace.output.printf import format_printf
        self.warn("WARNING: " + format_printf(action.fmt or "", self.typed_args(action, payload)))

    def _errno_text(self, errno: int) -> str:
        """strerror() of the target (a remote target's C library may word it otherwise)."""
        try:
            return self.target.errno_text(errno)
        except (AttributeError, NotImplementedError):   # a test double
            return os.strerror(errno)

    def on_helper_error(self, action, payload):
        """-k: a helper failed at run time; options name the helper and the span."""
        import os

        from pytrace.diagnostics import PytraceWarning
        args = self.args(action, payload)
        retcode = args[0] if args else 0
        if isinstance(retcode, int) and retcode >= 1 << 63:
            retcode -= 1 << 64
        helper, span = action.options.get("helper", "unknown"), action.options.get("span")
        msg = f"Failed to {helper}: {self._errno_text(-retcode)} ({retcode})"
        rendered = PytraceWarning(msg, span).render(self.source)
        self.sink.helper_error(helper, retcode, span.line if span else 0,
                               span.col if span else 0, rendered)

