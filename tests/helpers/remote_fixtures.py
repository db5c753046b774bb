"""Pytest fixtures for remote-target tests: a private sshd, the 6.1 VM, the stand-in adb.

sshd and the VM are started at most once per test session (the VM takes 15-60 s to boot
under TCG) and stopped at its end. tests/conftest.py imports them, so every
test module can ask for `ssh_server` or `qemu_guest` by name; a test using
`qemu_guest` is marked `qemu` automatically (deselect with `-m "not qemu"`).
"""

from __future__ import annotations

import pytest

from tests.helpers.fake_adb import FakeAdb
from tests.helpers.qemu_vm import GuestVM, why_vm_cannot_run
from tests.helpers.sshd import SshKeys, SshServer, missing_ssh_programs


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory) -> SshKeys:
    """One host key and client key pair shared by the host's sshd and the VM's."""
    missing = missing_ssh_programs()
    if missing:
        pytest.skip(f"OpenSSH missing ({', '.join(missing)}): apt-get install openssh-server openssh-client")
    return SshKeys.generate(tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="session")
def ssh_server(ssh_keys) -> SshServer:
    """sshd on 127.0.0.1: `ssh_server.target` is "ssh://pytrace-test", and
    `ssh_server.environ()` the environment that makes pytrace's ssh use its config."""
    with SshServer(ssh_keys) as server:
        yield server


@pytest.fixture(scope="session")
def qemu_guest(tmp_path_factory, ssh_keys) -> GuestVM:
    """Debian's 6.1 kernel booted under qemu/TCG; `qemu_guest.ssh` reaches it."""
    reason = why_vm_cannot_run()
    if reason:
        pytest.skip(f"test VM unavailable: {reason}")
    with GuestVM.boot(tmp_path_factory.mktemp("vm"), keys=ssh_keys) as vm:
        yield vm


@pytest.fixture(autouse=True)
def _restart_a_dead_guest(request):
    """A guest that panicked in an earlier test is booted again, so that one
    panic fails one test, not every test after it."""
    if "qemu_guest" in request.fixturenames:
        vm = request.getfixturevalue("qemu_guest")
        if vm.panic() is not None or vm.process is None or vm.process.poll() is not None:
            vm.restart()
    yield


def mark_qemu_tests(items) -> None:
    """Give every test that uses the VM the `qemu` marker."""
    for item in items:
        if "qemu_guest" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.qemu)


@pytest.fixture
def fake_adb(tmp_path) -> FakeAdb:
    """The stand-in adb (no device can exist here): one device, a root shell.
    Tests change .devices, .shell_uid, .has_su before calling .environ()."""
    return FakeAdb(tmp_path / "adb.log")
