"""The stand-in adb (tests/helpers/fake_adb): no Android device can exist on this
machine, so the adb transport is tested against this simulation. These tests
pin down that it behaves like adb where pytrace depends on it: device selection
and its errors, a binary-clean shell pipe with the exit status, and a non-root
shell that really cannot use BPF until `su`."""

import shlex
import subprocess

import pytest

# bpf(BPF_MAP_CREATE) of a 1-entry array: the smallest real privileged call.
BPF_PROBE = ("import ctypes, struct; libc = ctypes.CDLL(None, use_errno=True); "
             "attr = struct.pack('IIII', 2, 4, 4, 1) + bytes(112); "
             "fd = libc.syscall(321, 0, attr, len(attr)); "
             "print('bpf ok' if fd >= 0 else 'bpf errno %d' % ctypes.get_errno())")
PYTHON_BPF_PROBE = "python3 -c " + shlex.quote(BPF_PROBE)


def adb(fake, *argv, stdin=b""):
    return subprocess.run(["adb", *argv], env=fake.environ(), input=stdin,
                          capture_output=True, timeout=60)


def test_serial_flag_picks_the_device_and_is_recorded(fake_adb):
    fake_adb.devices = ["emulator-5554", "R58M1234"]
    done = adb(fake_adb, "-s", "R58M1234", "shell", "echo", "$ANDROID_SERIAL")
    assert (done.returncode, done.stdout) == (0, b"R58M1234\n")
    assert fake_adb.serials_used() == ["R58M1234"]


def test_several_devices_without_a_serial_is_adbs_error(fake_adb):
    fake_adb.devices = ["emulator-5554", "R58M1234"]
    done = adb(fake_adb, "shell", "true")
    assert done.returncode == 1
    assert done.stderr == b"adb: more than one device/emulator\n"
    assert fake_adb.entries() == []


def test_unknown_serial_and_no_device_are_adbs_errors(fake_adb):
    done = adb(fake_adb, "-s", "nope", "shell", "true")
    assert (done.returncode, done.stderr) == (1, b"adb: device 'nope' not found\n")
    fake_adb.devices = []
    done = adb(fake_adb, "shell", "true")
    assert (done.returncode, done.stderr) == (1, b"adb: no devices/emulators found\n")


def test_shell_pipe_is_binary_clean_and_returns_the_status(fake_adb):
    payload = bytes(range(256)) * 1000
    done = adb(fake_adb, "shell", "cat;", "exit", "3", stdin=payload)
    assert (done.returncode, done.stdout) == (3, payload)
    assert fake_adb.entries() == [("adb", "emulator-5554", "cat; exit 3")]


def test_root_shell_by_default(fake_adb):
    assert adb(fake_adb, "shell", "id", "-u").stdout == b"0\n"
    assert adb(fake_adb, "shell", PYTHON_BPF_PROBE).stdout == b"bpf ok\n"


@pytest.mark.parametrize("wrap", [lambda cmd: "su -c " + shlex.quote(cmd),
                                  lambda cmd: "su 0 " + cmd, lambda cmd: "su root " + cmd],
                         ids=["su -c", "su 0", "su root"])
def test_non_root_shell_needs_su_for_bpf(fake_adb, wrap):
    fake_adb.shell_uid = 2000
    assert adb(fake_adb, "shell", "id", "-u").stdout == b"2000\n"
    denied = adb(fake_adb, "shell", PYTHON_BPF_PROBE)
    assert denied.stdout == b"bpf errno 1\n", denied.stderr
    as_root = adb(fake_adb, "shell", wrap("id -u"))
    assert as_root.stdout == b"0\n", as_root.stderr
    allowed = adb(fake_adb, "shell", wrap(PYTHON_BPF_PROBE))
    assert allowed.stdout == b"bpf ok\n", allowed.stderr
    assert len(fake_adb.su_calls()) == 2


def test_device_without_su(fake_adb):
    fake_adb.shell_uid = 2000
    fake_adb.has_su = False
    done = adb(fake_adb, "shell", "su", "-c", "'id -u'")
    assert done.returncode == 127
    assert b"su: inaccessible or not found" in done.stderr
