"""Tools tests run real tools against the running kernel: root only, and nothing
may stay attached (uprobe_events stays as it was)."""

import os

import pytest

from tests.probes.harness import uprobe_events


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/tools/" in str(item.fspath):
            item.add_marker(pytest.mark.kernel)


@pytest.fixture(autouse=True)
def root_and_nothing_left_behind():
    if os.geteuid() != 0:
        pytest.skip("tracing needs root")
    before = uprobe_events()
    yield
    assert uprobe_events() == before


@pytest.fixture
def short_tmp():
    """A temporary directory with a short path: tools print paths as strings of
    at most 64 bytes (bpftrace's default), which pytest's tmp_path can exceed."""
    import pathlib
    import shutil
    import tempfile
    path = pathlib.Path(tempfile.mkdtemp(prefix="pt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
