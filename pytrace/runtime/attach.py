"""Attach every program to its attach points through the probe providers, and undo it.

Each AttachSpec names its provider; the provider registered in pytrace.probes
knows how to attach one spec (`attach(target, prog_fd, spec, options)`
returning the handle or handles that own the attachment). `Attachments` keeps every handle
so that exit, errors and Ctrl-C all detach the same way.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.probes import get_provider
from pytrace.runtime.loader import LoadedObject


class Attachments:
    """Handles of attached probes, detached in reverse order."""

    def __init__(self, target):
        self.target = target
        self.handles: list[int] = []
        self.watchpoints: dict[int, list] = {}  # address -> handles, for unwatch()

    def attach_all(self, loaded: LoadedObject, options: dict, sync: bool = True) -> int:
        """Attach every non-BEGIN/END program; returns how many points attached.
        sync=False: the caller calls target.sync() itself (a remote target then
        sends the attaches together with what the caller adds, in one request)."""
        count = 0
        for prog in declaration_order(loaded.programs):
            # A provider with attach_program attaches all of a program's points at
            # once (uprobe_multi: one link per binary); a program has one provider.
            whole = prog.spec.attach and get_provider(prog.spec.attach[0].provider).attach_program
            if whole:
                self._keep(self._attach(prog.spec.attach[0], whole, self.target, prog.fd,
                                        prog.spec, options))
                count += len(prog.spec.attach)
                continue
            for spec in prog.spec.attach:
                provider = get_provider(spec.provider)
                before = len(self.handles)
                self._keep(self._attach(spec, provider.attach, self.target, prog.fd, spec,
                                        options))
                if "addr" in spec.options and spec.provider.endswith("watchpoint"):
                    self.watchpoints.setdefault(spec.options["addr"], []).extend(
                        self.handles[before:])
                count += 1
        if sync:
            # A remote target sends attaches without waiting: their errors come here.
            self.target.sync()
        return count

    @staticmethod
    def _attach(spec, attach, *args):
        try:
            return attach(*args)
        except PytraceError:
            raise
        except OSError as e:
            raise PytraceError(f"Error attaching probe: '{spec.name}': "
                               f"{_reason(e)}") from None

    def _keep(self, handle) -> None:
        if handle is None:
            return
        if isinstance(handle, (list, tuple)):
            for h in handle:
                self._keep(h)
        else:
            self.handles.append(handle)

    def unwatch(self, address: int) -> None:
        """Detach the watchpoints attached at `address` (unwatch())."""
        handles = self.watchpoints.pop(address, [])
        for handle in handles:
            self.handles.remove(handle)
        if handles:
            try:
                self.target.detach_many(handles)
            except (OSError, PytraceError):
                pass

    def detach_all(self) -> None:
        """Detach everything in one Target step (concurrently: see
        Target.detach_many); closing the bare trace events is left to the
        Target's close_all."""
        handles, self.handles = self.handles[::-1], []
        if handles:
            try:
                self.target.detach_many(handles)
            except (OSError, PytraceError):
                pass  # already gone (e.g. the process it watched exited)


def declaration_order(programs: list) -> list:
    """The attach order that makes blocks on the same event run as declared.
    The kernel runs most attachments in the order they were made, but a uprobe,
    kprobe or fentry point runs its newest attachment first: those providers
    (`runs_newest_first`) are attached last to first."""
    def newest_first(prog) -> bool:
        return bool(prog.spec.attach
                    and get_provider(prog.spec.attach[0].provider).runs_newest_first)
    return ([p for p in programs if not newest_first(p)]
            + [p for p in programs if newest_first(p)][::-1])


def _reason(e: OSError) -> str:
    return getattr(e, "message", None) or e.strerror or str(e)


def banner(sink, count: int) -> None:
    """`Attaching N probes...` goes out before anything is attached."""
    sink.attached_probes(count)
