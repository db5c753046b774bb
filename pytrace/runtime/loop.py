"""The life of a trace: BEGIN, attach, poll events until something ends it, END, maps.

`run_trace` takes a loaded object and an output sink and does, in bpftrace's
order: banner, BEGIN (BPF_PROG_TEST_RUN in this process), attach, release the
`-c` child, then wait on the ring buffer, signals and the watched process at
once (epoll), so exit() or the child's end is acted on at once, not after a
poll timeout. SIGUSR1 prints every map then and there (as the exit does, without
the separator; nothing is cleared). At the end: detach, END, drain its events,
`"\\n\\n"`, every user map in name order. Detaching happens in `finally`,
whatever went wrong.
"""

from __future__ import annotations

import select
from collections import deque
import signal
import threading
import time
from dataclasses import dataclass, field

from pytrace.kernel.ringbuf import join_records
from pytrace.resources import EVENTS_MAP
from pytrace.runtime.attach import Attachments, banner
from pytrace.runtime.decode import Symbols
from pytrace.runtime.events import EventHandler
from pytrace.runtime.loader import LoadedObject, LoadError
from pytrace.runtime.maps import MapAccess

# Wake up this often even without a ring buffer wakeup: records are written
# without one (BPF_RB_NO_WAKEUP, see codegen.events), so this bounds how late
# a printf line can be; lost-event counts come out then too.
IDLE_WAKEUP_S = 0.1
LOST_CHECK_S = 1.0
# Records handled between two reads of the ring under a flood (a few ms of
# work), and how many bytes of read records may wait in memory to be handled.
CHUNK = 4096
MAX_BACKLOG = 1 << 26


@dataclass
class TraceOptions:
    """How the event loop runs: what to watch, when to flush, where warnings point."""

    attached_count: int = 0
    attach_options: dict = field(default_factory=dict)
    child: object | None = None       # Target.start_command(): kernel.process.ChildCommand locally
    watched: object | None = None     # Target.watch_process() (-p)
    flush_each_batch: bool = True     # False with -B full
    separator: object | None = None   # stream for "\n\n" when it is not the sink's
    source: object | None = None      # the program's Source (locates -k warnings)
    handle_signals: bool = True


class StopSignals:
    """SIGINT/SIGTERM set a flag and wake the loop through a pipe (set_wakeup_fd);
    SIGUSR1 asks for the maps to be printed, counted so none is missed."""

    def __init__(self, enabled: bool, on_signal=None):
        self.received = 0
        self.on_signal = on_signal   # told at once (a remote target stops waiting)
        self.print_requests = 0
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.read_fd = -1
        self._saved: dict = {}
        self._old_wakeup = -1

    def __enter__(self):
        if not self.enabled:
            return self
        import os

        self.read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._on_signal)
        self._saved[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._on_print)
        return self

    def _on_signal(self, signum, frame):
        self.received = signum
        if self.on_signal is not None:
            self.on_signal()

    def _on_print(self, signum, frame):
        self.print_requests += 1

    def take_print_request(self) -> bool:
        """True once per SIGUSR1 received since the last call."""
        if self.print_requests:
            self.print_requests -= 1
            return True
        return False

    def __exit__(self, *exc):
        if not self.enabled:
            return False
        import os

        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        os.close(self.read_fd)
        os.close(self._write_fd)
        return False


class Waiter:
    """Waits for any of: ring buffer data, a signal, the watched process exiting."""

    def __init__(self, fds: list[int], edge_fds: list[int] = ()):
        self.epoll = select.epoll()
        for fd in fds:
            self.epoll.register(fd, select.EPOLLIN)
        for fd in edge_fds:
            self.epoll.register(fd, select.EPOLLIN | select.EPOLLET)

    def wait(self, timeout_s: float) -> None:
        self.epoll.poll(timeout_s)

    def close(self) -> None:
        self.epoll.close()


def run_trace(target, loaded: LoadedObject, sink, symbols: Symbols,
              options: TraceOptions) -> int:
    """Run a loaded program to its end and print its maps; returns the exit code."""
    attachments = Attachments(target)
    maps = MapAccess(target, loaded, sink, symbols)
    handler = EventHandler(loaded.resources, sink, symbols, maps, target=target,
                           source=options.source, unwatch=attachments.unwatch)
    reader = None
    if EVENTS_MAP in {m.name for m in loaded.resources.maps}:
        reader = target.ring_buffer(loaded.map_fd(EVENTS_MAP))
    loop = _Loop(target, reader, handler, maps, sink, options)
    try:
        with StopSignals(options.handle_signals, target.interrupted) as stop:
            loop.stop = stop
            shown = []

            def show_banner():
                if not shown:
                    shown.append(True)
                    banner(sink, options.attached_count)
                    _flush(sink)

            # A remote target may still have the load to confirm: its errors
            # come before the banner, as they do here.
            if not target.pending():
                show_banner()
            begin = loaded.program("begin")
            if begin is not None:
                target.prog_test_run(begin.fd)
                show_banner()
            exiting = loop.drain()
            if not exiting and not stop.received:
                try:
                    attachments.attach_all(loaded, options.attach_options, sync=False)
                    if options.child is not None:
                        options.child.release()
                    # One round trip to a remote target for all of the above; an
                    # attach that fails stops the rest (the child is not released).
                    target.sync()
                except LoadError:
                    raise
                except BaseException:
                    show_banner()
                    raise
                show_banner()
                loop.run()
            show_banner()
        attachments.detach_all()
        loop.ask_rest()
        end = loaded.program("end")
        if end is not None:
            target.prog_test_run(end.fd)
        # The maps and the lost count at once; to a remote target, in the same
        # round trip as the detach and the rest of the events when there is no END.
        maps.read_for_exit()
        loop.drain_rest()   # an event that clears a map makes print_all read it again
        loop.report_lost()
        _separator(sink, options)
        maps.print_all()
        _flush(sink)
        return 0
    finally:
        attachments.detach_all()
        if reader is not None:
            reader.close()
        if options.child is not None:
            options.child.stop()
        if options.watched is not None:
            options.watched.close()


class _Loop:
    def __init__(self, target, reader, handler, maps, sink, options: TraceOptions):
        self.target = target
        self.reader = reader
        self.handler = handler
        self.maps = maps
        self.sink = sink
        self.options = options
        self.stop: StopSignals | None = None
        self.lost_reported = 0
        self.last_lost_check = time.monotonic()

    def drain(self, stop_at_exit: bool = True, until_empty: bool = True) -> bool:
        """Handle the records there are now; True if one was exit().

        Copying records out of the ring is much cheaper than printing them, so
        between chunks of handling we go back to the ring for more: under a
        flood the kernel's ring keeps getting space back and the backlog waits
        here instead (up to MAX_BACKLOG bytes; past that the kernel drops
        and counts, as with no backlog at all). until_empty=False returns once
        the backlog is handled, though more may have come meanwhile: while the
        program runs, the loop then sleeps to collect the next batch instead
        of spinning on a trickle of records.
        """
        if self.reader is None:
            return False
        read = getattr(self.reader, "read_blob", None)
        if read is None:   # a reader that gives record lists (a remote target)
            def read():
                return join_records(self.reader.poll(0))
        backlog: deque = deque()   # [blob, offset of the first record not handled]
        queued, first = 0, True
        while True:
            if queued < MAX_BACKLOG and (first or backlog or until_empty):
                first = False
                blob = read()
                if blob:
                    backlog.append([blob, 0])
                    queued += len(blob)
            if not backlog:
                return False
            entry = backlog[0]
            blob, start = entry
            entry[1], exiting = self.handler.handle_blob(blob, start, CHUNK, stop_at_exit)
            if entry[1] >= len(blob):
                backlog.popleft()
                queued -= len(blob)
            self._after_batch()
            if exiting and stop_at_exit:
                return True

    def ask_rest(self) -> None:
        """The probes are detached: have the reader fetch every record left (a
        remote target sends them with its next reply, before END's records)."""
        ask = getattr(self.reader, "ask_rest", None)
        if ask is not None:
            ask()

    def drain_rest(self) -> None:
        """Handle every record left once the probes are detached (END's too).
        A plain drain could stop at a record still being written and leave
        everything after it unprinted and uncounted."""
        if self.reader is None:
            return
        read_rest = getattr(self.reader, "read_rest", None)
        if read_rest is not None:
            blob, start = read_rest(), 0
            while start < len(blob):
                start, _ = self.handler.handle_blob(blob, start, CHUNK, False)
                self._after_batch()
        self.drain(stop_at_exit=False)

    def _after_batch(self) -> None:
        if self.options.flush_each_batch:
            _flush(self.sink)

    def run(self) -> None:
        watched = self.options.child or self.options.watched
        fds, edge_fds = [], []
        wakeup_fd = getattr(self.reader, "wakeup_fd", None)
        if wakeup_fd is not None:
            # Edge-triggered: records submitted without a wakeup leave the ring
            # readable, and level-triggered waiting would then never sleep.
            edge_fds.append(wakeup_fd)
        elif self.reader is not None and hasattr(self.reader, "fileno"):
            fds.append(self.reader.fileno())
        if self.stop is not None and self.stop.read_fd >= 0:
            fds.append(self.stop.read_fd)
        if watched is not None:
            fds.append(watched.fileno())
        waiter = Waiter(fds, edge_fds)
        try:
            while True:
                if self.drain(until_empty=False):
                    return
                if self.stop is not None and self.stop.received:
                    return
                while self.stop is not None and self.stop.take_print_request():
                    self.maps.print_all()
                    _flush(self.sink)
                if watched is not None and watched.exited():
                    self.drain()  # what the process did before it ended
                    return
                self._check_lost()
                waiter.wait(IDLE_WAKEUP_S)
                self._clear_wakeup()
        finally:
            waiter.close()

    def _clear_wakeup(self) -> None:
        if self.stop is not None and self.stop.read_fd >= 0:
            import os
            try:
                os.read(self.stop.read_fd, 64)
            except BlockingIOError:
                pass

    def _check_lost(self) -> None:
        now = time.monotonic()
        if now - self.last_lost_check >= LOST_CHECK_S:
            self.last_lost_check = now
            self.report_lost()

    def report_lost(self) -> None:
        lost = self.maps.lost_count()
        if lost > self.lost_reported:
            self.sink.lost_events(lost - self.lost_reported)
            self.lost_reported = lost


def _flush(sink) -> None:
    flush = getattr(sink, "flush", None)
    if flush is None:
        flush = getattr(getattr(sink, "stream", None), "flush", None)
    if flush is not None:
        flush()


def _separator(sink, options: TraceOptions) -> None:
    """The "\\n\\n" before the maps goes to stdout even when output goes to a file."""
    if options.separator is not None:
        _flush(sink)
        options.separator.write("\n\n")
        options.separator.flush()
    else:
        sink.exit_separator()
