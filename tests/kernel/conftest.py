"""A fresh LocalTarget per test, closed (everything detached) afterwards.
Modules that need more (a module-wide target, extra checks) define their own."""

import pytest

from pytrace.target.local import LocalTarget


@pytest.fixture
def target():
    t = LocalTarget()
    yield t
    t.close_all()
