"""`--target adb[:serial]` through the stand-in adb of tests/helpers/fake_adb.

No Android device or emulator can exist on this machine, so these tests run
against that simulation: its "device" is this machine, reached through
`adb shell`. They check what pytrace decides on its side of adb: which
device it asks for, that it goes through `su -c` when the shell is not root
(the stand-in's python3 really runs as uid 2000 there, so without su the
agent could not use BPF), and the one-line errors when adb cannot help."""

from __future__ import annotations

import pytest

from tests.helpers.cbuild import build_c
from tests.remote.helpers import REPO, pytrace

BEGIN_PROGRAM = 'BEGIN { printf("%d %s\\n", 42, "adb"); @m[1, "x"] = 5; exit(); }'
BEGIN_OUTPUT = "Attaching 1 probe...\n42 adb\n\n\n@m[1, x]: 5\n"


@pytest.fixture(scope="module")
def wl(tmp_path_factory) -> str:
    source = (REPO / "tests" / "e2e" / "workload.c").read_text()
    return str(build_c(source, tmp_path_factory.mktemp("wl"), "wl", flags=("-O1", "-static")))


@pytest.mark.kernel
def test_serial_selects_the_device(fake_adb):
    fake_adb.devices = ["emulator-5554", "R58M1234"]
    done = pytrace(["--target", "adb:R58M1234", "-e", BEGIN_PROGRAM], env=fake_adb.environ())
    assert (done.returncode, done.stdout) == (0, BEGIN_OUTPUT), done.stderr
    assert fake_adb.serials_used() and set(fake_adb.serials_used()) == {"R58M1234"}
    assert fake_adb.su_calls() == []


@pytest.mark.kernel
def test_the_only_device_needs_no_serial(fake_adb):
    done = pytrace(["--target", "adb", "-e", BEGIN_PROGRAM], env=fake_adb.environ())
    assert (done.returncode, done.stdout) == (0, BEGIN_OUTPUT), done.stderr
    assert set(fake_adb.serials_used()) == {"emulator-5554"}


@pytest.mark.kernel
def test_non_root_shell_runs_the_agent_through_su(fake_adb, wl):
    fake_adb.shell_uid = 2000
    done = pytrace(["--target", "adb", "-e",
                    "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[comm] = count(); }",
                    "-c", f"{wl} getppid 3"], env=fake_adb.environ())
    assert (done.returncode, done.stdout) == (0, "Attaching 1 probe...\n\n\n@[wl]: 3\n"), done.stderr
    (su,) = fake_adb.su_calls()
    assert su.startswith("-c ") and "python3" in su


@pytest.mark.kernel
def test_root_shell_runs_the_agent_without_su(fake_adb):
    done = pytrace(["--target", "adb", "-e", BEGIN_PROGRAM], env=fake_adb.environ())
    assert done.returncode == 0, done.stderr
    assert fake_adb.su_calls() == []


def one_line_error(done) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_several_devices_and_no_serial_is_one_line_error(fake_adb):
    fake_adb.devices = ["emulator-5554", "R58M1234"]
    line = one_line_error(pytrace(["--target", "adb", "-e", BEGIN_PROGRAM], env=fake_adb.environ()))
    assert "more than one device" in line


def test_unknown_serial_is_one_line_error(fake_adb):
    line = one_line_error(pytrace(["--target", "adb:nosuch", "-e", BEGIN_PROGRAM],
                                  env=fake_adb.environ()))
    assert "nosuch" in line and "not found" in line


def test_non_root_device_without_su_is_one_line_error(fake_adb):
    fake_adb.shell_uid = 2000
    fake_adb.has_su = False
    line = one_line_error(pytrace(["--target", "adb", "-e", BEGIN_PROGRAM], env=fake_adb.environ()))
    assert "su" in line
    # The device has python3; only su is missing, and the error must not blame python3.
    assert "no python3" not in line
