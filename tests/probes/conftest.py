import pytest

from tests.probes.harness import uprobe_events


@pytest.fixture(autouse=True)
def no_probes_left_behind():
    before = uprobe_events()
    yield
    # pytrace makes uprobes through the perf PMU, never through uprobe_events;
    # nothing it did may show up (or stay) there.
    assert uprobe_events() == before
