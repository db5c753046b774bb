"""Suite-wide settings.

Property tests draw the same examples on every run (derandomize): a failure
found by a random draw is fixed in the test or code, not left to come back in
CI by chance. Set HYPOTHESIS_PROFILE=explore for fresh random draws.
"""

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Remote-target fixtures (private sshd, the 6.1 test VM), session-wide so the
# VM boots at most once per run.
from tests.helpers.remote_fixtures import (  # noqa: E402,F401
    _restart_a_dead_guest, fake_adb, mark_qemu_tests, qemu_guest, ssh_keys, ssh_server)


def pytest_collection_modifyitems(config, items):
    mark_qemu_tests(items)
