"""`--info` on a remote target gives the report a local run gives, asking
everything it tries (helpers, map types, program types) in one request: a
fixed, small number of round trips however many rows the report has."""

from __future__ import annotations

import os
import re

import pytest

from tests.remote.helpers import pytrace


@pytest.mark.kernel
def test_remote_info_is_the_local_report_in_a_few_round_trips():
    local = pytrace(["--info"])
    remote = pytrace(["--target", "exec:", "--info"],
                     env=dict(os.environ, PYTRACE_REMOTE_STATS="1"))
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    rows = [ln for ln in local.stdout.splitlines() if ln.endswith((": yes", ": no"))]
    assert len(rows) > 30
    trips = int(re.search(r"pytrace: (\d+) round trips", remote.stderr).group(1))
    # HELLO, the /proc files, the event sources, the BTF (by hash), the loads.
    assert trips == 5
