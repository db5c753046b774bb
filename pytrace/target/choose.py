"""The one place a `--target` value becomes a Target (tracing and listing both use it)."""

from __future__ import annotations

import os


def open_target(spec: str | None = None):
    """`local` (or nothing): this machine; `exec:...`, `ssh://...`, `adb[:serial]`:
    a RemoteTarget whose agent is started now (see pytrace.remote.transports)."""
    if spec in (None, "", "local"):
        from pytrace.target.local import LocalTarget
        return LocalTarget()
    from pytrace.remote.transports import parse_target
    from pytrace.target.remote import RemoteTarget

    transport = parse_target(spec)
    config, version = test_hooks()
    return RemoteTarget(transport, config, version)


def test_hooks() -> tuple[dict, str | None]:
    """Hooks for tests of the handshake (documented in docs/remote.md):
    PYTRACE_TEST_AGENT_NO_BTF=1 makes the agent behave as on a kernel without
    BTF; PYTRACE_TEST_AGENT_VERSION=X makes it claim version X."""
    config = {}
    if os.environ.get("PYTRACE_TEST_AGENT_NO_BTF"):
        config["hide_btf"] = True
    return config, os.environ.get("PYTRACE_TEST_AGENT_VERSION") or None
