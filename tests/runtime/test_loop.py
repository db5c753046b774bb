"""The run loop on a hand-built BEGIN program: BEGIN runs, events print, maps print last."""

import pytest

from pytrace.runtime.decode import NoSymbols
from pytrace.runtime.loader import load
from pytrace.runtime.loop import TraceOptions, run_trace
from tests.runtime.handmade import build_object, counter_body, counter_resources


class RecordingSink:
    """Keeps what the runtime asked to print, in order."""

    def __init__(self):
        self.calls = []

    def flush(self):
        pass

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kw: self.calls.append((name, *args))


@pytest.mark.kernel
def test_begin_event_then_separator_then_maps_in_order():
    from pytrace.target.local import LocalTarget
    target = LocalTarget()
    resources = counter_resources()
    loaded = load(target, build_object(counter_body(1, 0, value=-7)), resources)
    sink = RecordingSink()
    try:
        code = run_trace(target, loaded, sink, NoSymbols(resources.probe_names),
                         TraceOptions(attached_count=1, handle_signals=False))
    finally:
        loaded.close(target)
        target.close_all()
    assert code == 0
    names = [c[0] for c in sink.calls]
    assert names == ["attached_probes", "printf", "exit_separator", "map"]
    assert sink.calls[0] == ("attached_probes", 1)
    assert sink.calls[1] == ("printf", "-7\n")
    _, spec, entries = sink.calls[3]
    assert spec.name == "@n" and entries == [((), 1)]
